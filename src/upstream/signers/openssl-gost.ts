import { X509Certificate } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ProcessTimeout, runProcess, withTempDir, type ProcessResult } from './process.js'

/**
 * GOST R 34.10-2012 (256) and GOST R 34.11-2012 (Streebog-256) through OpenSSL's GOST engine
 * (gost-engine; Debian's `libengine-gost-openssl`), run as `openssl` processes: Node's own OpenSSL
 * has no GOST. The bridge verifies GOST-signed ЕСИА tokens this way, the mock ЕСИА checks
 * `client_secret` and signs its GOST tokens this way, `npm run esia:cert-hash` hashes this way.
 *
 * Byte order: `openssl dgst -sign` writes the 64-byte signature as s‖r, each 32 bytes big-endian
 * (gost-engine's `pack_sign_cp`, the layout of RFC 4491 §2.2.2 and TC 26's CMS recommendations),
 * and `-verify` reads the same. That is the order ЕСИА takes `client_secret` in and the order its
 * GOST3410_2012_256 tokens carry; CryptoPro writes the reverse. What of this is verified and what
 * assumed: docs/esia.md, «GOST through OpenSSL: what is verified and what is assumed».
 */

const OPENSSL = 'openssl'
const DGST = ['dgst', '-engine', 'gost', '-md_gost12_256'] as const
const DEFAULT_TIMEOUT_MS = 5000

export class GostError extends Error {
  override name = 'GostError'
}

async function openssl(args: readonly string[], input: Buffer | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProcessResult> {
  try {
    return await runProcess(OPENSSL, args, { input, timeoutMs })
  } catch (err) {
    if (err instanceof ProcessTimeout) throw new GostError(`openssl ${args[0]} did not finish within ${timeoutMs} ms`, { cause: err })
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new GostError(`${OPENSSL} is not installed`, { cause: err })
    throw new GostError(`openssl ${args[0]}: ${(err as Error).message}`, { cause: err })
  }
}

/** stderr without OpenSSL's `Engine "gost" set.` chatter, for an operator message. */
const reason = (r: ProcessResult): string => r.stderr.replace(/^Engine "gost" set\.\s*/gm, '').trim().slice(0, 300) || `exit ${r.code ?? r.signal}`

let probe: Promise<boolean> | undefined

/** Whether this machine's OpenSSL has the GOST engine: asked once, by hashing nothing. */
export function gostEngineAvailable(): Promise<boolean> {
  probe ??= openssl([...DGST, '-binary'], '').then((r) => r.code === 0 && r.stdout.length === 32, () => false)
  return probe
}

/** GOST R 34.11-2012 (256) of `data`, in the byte order OpenSSL (and CryptoPro) print it. */
export async function gostDigest(data: Buffer): Promise<Buffer> {
  const r = await openssl([...DGST, '-binary'], data)
  if (r.code !== 0 || r.stdout.length !== 32) throw new GostError(`openssl cannot compute GOST R 34.11-2012: ${reason(r)}`)
  return r.stdout
}

/** A certificate given as PEM or DER (a `.cer` from the tech portal may be either) as DER. */
export function certificateDer(content: Buffer | string): Buffer {
  try {
    return new X509Certificate(content).raw
  } catch (err) {
    throw new GostError(`not an X.509 certificate (PEM or DER): ${(err as Error).message}`, { cause: err })
  }
}

/**
 * `client_certificate_hash` as ЕСИА computes it: GOST R 34.11-2012 (256) over the DER certificate,
 * 64 upper-case hex characters (`cpverify -mk -alg GR3411_2012_256` prints the same).
 */
export async function gostCertificateHash(certificate: Buffer | string): Promise<string> {
  return (await gostDigest(certificateDer(certificate))).toString('hex').toUpperCase()
}

/** The raw 64-byte signature (s‖r, big-endian) of `message` with the PEM key in `keyFile`. */
export async function gostSign(keyFile: string, message: Buffer | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
  const r = await openssl([...DGST, '-sign', keyFile], message, timeoutMs)
  if (r.code !== 0 || r.stdout.length !== 64) throw new GostError(`openssl cannot sign with GOST: ${reason(r)}`)
  return r.stdout
}

/**
 * Checks a raw signature (s‖r, big-endian) with a PEM public key. false for a signature that does
 * not verify (OpenSSL says «Verification failure»); a GostError when OpenSSL could not check at all
 * (no engine, unreadable key) — a configuration problem, not a forged token.
 */
export async function gostVerify(publicKeyPem: string, message: Buffer | string, signature: Buffer, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
  return withTempDir(async (dir) => {
    const keyFile = path.join(dir, 'key.pem')
    const sigFile = path.join(dir, 'signature')
    await Promise.all([writeFile(keyFile, publicKeyPem, { mode: 0o600 }), writeFile(sigFile, signature, { mode: 0o600 })])
    const r = await openssl([...DGST, '-verify', keyFile, '-signature', sigFile], message, timeoutMs)
    const said = r.stdout.toString('utf8')
    if (r.code === 0 && said.includes('Verified OK')) return true
    if (said.includes('Verification failure')) return false
    throw new GostError(`openssl cannot verify with GOST: ${reason(r)}`)
  })
}

/** The public key (SPKI PEM) of a GOST certificate — Node cannot read one, OpenSSL's engine can. */
export async function gostPublicKey(certificate: Buffer | string): Promise<string> {
  const pem = new X509Certificate(certificateDer(certificate)).toString()
  const r = await openssl(['x509', '-engine', 'gost', '-pubkey', '-noout'], pem)
  const key = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n?/.exec(r.stdout.toString('utf8'))?.[0]
  if (r.code !== 0 || !key) throw new GostError(`openssl cannot read the certificate's GOST public key: ${reason(r)}`)
  return key
}

export interface GostKeyPair {
  /** PKCS#8 PEM of a GOST R 34.10-2012 (256) private key, parameter set A. */
  privatePem: string
  /** A self-signed certificate of it (PEM), as registered on the tech portal or published in esia.zip. */
  certificatePem: string
}

/** A new GOST 2012-256 key and a self-signed certificate for it (the mock's and the tests' keys). */
export async function generateGostKeyPair(subject = '/CN=esia-bridge test GOST key'): Promise<GostKeyPair> {
  const key = await openssl(['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A'], '')
  const privatePem = key.stdout.toString('utf8')
  if (key.code !== 0 || !privatePem.includes('PRIVATE KEY')) throw new GostError(`openssl cannot generate a GOST key: ${reason(key)}`)
  return withTempDir(async (dir) => {
    const keyFile = path.join(dir, 'key.pem')
    await writeFile(keyFile, privatePem, { mode: 0o600 })
    const cert = await openssl(['req', '-engine', 'gost', '-x509', '-new', '-key', keyFile, '-subj', subject, '-days', '3650'], '')
    const certificatePem = cert.stdout.toString('utf8')
    if (cert.code !== 0 || !certificatePem.includes('CERTIFICATE')) throw new GostError(`openssl cannot make a certificate: ${reason(cert)}`)
    return { privatePem, certificatePem }
  })
}

/** The OpenSSL-GOST signing command of docs/operations.md for ESIA_SIGNER_COMMAND, with `keyFile` quoted for the shell. */
export const opensslGostSignCommand = (keyFile: string): string => `openssl dgst -engine gost -md_gost12_256 -sign '${keyFile.replaceAll("'", "'\\''")}'`
