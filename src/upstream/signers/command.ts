import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { UpstreamError } from '../types.js'
import { GostError, gostPublicKey, gostVerify } from './openssl-gost.js'
import { ProcessTimeout, runProcess, withTempDir } from './process.js'
import { reverseBytes, type EsiaSigner, type GostVerification } from './types.js'

export interface CommandSignerOptions {
  /**
   * Run by `/bin/sh -c`: the message arrives on stdin, the raw signature is read from stdout. At the
   * timeout it is killed with every process it started; TMPDIR is a directory removed after it.
   */
  command: string
  timeoutMs: number
  /** The signer's crypto uses CryptoPro's byte order (little-endian): reverse what it signs and what it is asked to verify. */
  reverse: boolean
  /**
   * Checks a GOST-signed ЕСИА token (ESIA_SIGNER_VERIFY_COMMAND), run by `/bin/sh -c` with the
   * signing input on stdin and `SIGNATURE_FILE` (the raw signature) and `CERTIFICATE_FILE` (ЕСИА's
   * certificate, PEM) in its environment; exit 0 means valid, 1 invalid, anything else a failure.
   * Unset: OpenSSL's GOST engine checks it (`openssl dgst -engine gost -md_gost12_256 -verify`).
   */
  verifyCommand?: string | undefined
}

/**
 * Signs by running an external program, e.g. OpenSSL with the GOST engine or CryptoPro's
 * `csptest` (docs/operations.md, «`ESIA_SIGNER=command`»). The command comes from the operator's
 * configuration, never from a request; the message is passed on stdin, not in argv, so it never
 * shows in the process list.
 */
export function createCommandSigner(opts: CommandSignerOptions): EsiaSigner {
  // ЕСИА's certificates are few and fixed: each one's public key is read by OpenSSL once.
  const publicKeys = new Map<string, Promise<string>>()
  const publicKey = (certificate: string): Promise<string> => {
    let key = publicKeys.get(certificate)
    if (!key) {
      key = gostPublicKey(certificate)
      key.catch(() => publicKeys.delete(certificate))
      publicKeys.set(certificate, key)
    }
    return key
  }
  return {
    kind: 'command',
    sign: (message) => sign(opts, Buffer.from(message, 'utf8')),
    verifyGost: (input) => (opts.verifyCommand ? verifyByCommand(opts, opts.verifyCommand, input) : verifyByOpenssl(opts, publicKey, input)),
  }
}

const failed = (code: 'signer_failed' | 'signer_timeout', message: string, cause?: unknown) => new UpstreamError('configuration', code, message, { cause })

/**
 * Runs the operator's command. Its own temporary files (`mktemp` in a signing script) go to a
 * directory of ours (TMPDIR), removed once the command has exited: a command killed at the timeout
 * cannot clean up after itself.
 */
async function run(variable: string, command: string, input: Buffer, timeoutMs: number, env: NodeJS.ProcessEnv = process.env) {
  return withTempDir(async (tmp) => {
    try {
      return await runProcess('/bin/sh', ['-c', command], { input, timeoutMs, env: { ...env, TMPDIR: tmp } })
    } catch (err) {
      if (err instanceof ProcessTimeout) throw failed('signer_timeout', `${variable} did not finish within ${timeoutMs} ms`, err)
      throw failed('signer_failed', `${variable} could not be run: ${(err as Error).message}`, err)
    }
  })
}

async function sign(opts: CommandSignerOptions, input: Buffer): Promise<Buffer> {
  const r = await run('ESIA_SIGNER_COMMAND', opts.command, input, opts.timeoutMs)
  if (r.code !== 0) throw failed('signer_failed', `ESIA_SIGNER_COMMAND exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 500)}`)
  if (r.stdout.length === 0) throw failed('signer_failed', 'ESIA_SIGNER_COMMAND wrote no signature on stdout')
  return opts.reverse ? reverseBytes(r.stdout) : r.stdout
}

async function verifyByCommand(opts: CommandSignerOptions, command: string, { signingInput, signature, certificate }: GostVerification): Promise<boolean> {
  return withTempDir(async (dir) => {
    const files = { SIGNATURE_FILE: path.join(dir, 'signature'), CERTIFICATE_FILE: path.join(dir, 'certificate.pem') }
    await Promise.all([
      writeFile(files.SIGNATURE_FILE, opts.reverse ? reverseBytes(signature) : signature, { mode: 0o600 }),
      writeFile(files.CERTIFICATE_FILE, certificate, { mode: 0o600 }),
    ])
    const r = await run('ESIA_SIGNER_VERIFY_COMMAND', command, signingInput, opts.timeoutMs, { ...process.env, ...files })
    if (r.code === 0) return true
    if (r.code === 1) return false
    throw failed('signer_failed', `ESIA_SIGNER_VERIFY_COMMAND exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 500)}`)
  })
}

/** OpenSSL's own byte order is ЕСИА's: no reversal here, whatever ESIA_SIGNER_REVERSE says of the signing program. */
async function verifyByOpenssl(opts: CommandSignerOptions, publicKey: (certificate: string) => Promise<string>, { signingInput, signature, certificate }: GostVerification): Promise<boolean> {
  try {
    return await gostVerify(await publicKey(certificate), signingInput, signature, opts.timeoutMs)
  } catch (err) {
    if (!(err instanceof GostError)) throw err
    throw failed('signer_failed', `GOST token verification (OpenSSL with the gost engine; or set ESIA_SIGNER_VERIFY_COMMAND): ${err.message}`, err)
  }
}
