import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config.js'
import { createUpstreamAdapter, tokenKeySource, TokenVerifier, createCommandSigner } from '../../src/upstream/index.js'
import { generateGostKeyPair, gostCertificateHash, gostEngineAvailable, gostPublicKey, gostSign, gostVerify } from '../../src/upstream/signers/openssl-gost.js'
import { testConfig } from '../helpers/app.js'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { loginThrough, rejection } from './harness.js'

const gost = await gostEngineAvailable()
if (!gost) console.warn('[GOST tests] skipped: OpenSSL has no GOST engine here (apt-get install libengine-gost-openssl)')

/** The OpenSSL-GOST signing command of docs/operations.md, exactly as documented, with the test key's path. */
const DOCUMENTED_SIGN_COMMAND = /ESIA_SIGNER_COMMAND='(openssl dgst -engine gost -md_gost12_256 -sign \/etc\/esia\/key\.pem)'/.exec(readFileSync('docs/operations.md', 'utf8'))?.[1]
const documentedCommand = (keyFile: string) => DOCUMENTED_SIGN_COMMAND!.replace('/etc/esia/key.pem', keyFile)
/** What a CryptoPro-like program writes: the same signature, bytes reversed (little-endian). */
const cryptoProLike = (keyFile: string) => `${documentedCommand(keyFile)} | perl -0777 -pe '$_ = reverse $_'`

describe.skipIf(!gost)('real GOST R 34.10-2012 through OpenSSL\'s gost engine', () => {
  let mock: TestMockEsia
  let dir: string
  beforeAll(async () => {
    mock = await startTestMockEsia({ gost: { tokens: true } })
    dir = await mkdtemp(path.join(os.tmpdir(), 'gost-test-'))
  })
  afterAll(async () => {
    await mock?.close()
    await rm(dir, { recursive: true, force: true })
  })
  const esiaEnv = (extra: Record<string, string> = {}) => testConfig({ ...mock.bridgeEnv('esia'), ...extra })

  it('docs/operations.md documents the OpenSSL-GOST command the tests run', () => {
    expect(DOCUMENTED_SIGN_COMMAND).toBe('openssl dgst -engine gost -md_gost12_256 -sign /etc/esia/key.pem')
  })

  it('the documented command signs client_secret, the mock checks it and the certificate hash as ЕСИА does, GOST tokens verify', async () => {
    const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_COMMAND: documentedCommand(mock.gost!.keyFile) }))
    expect(await loginThrough(adapter, 'shared-snils')).toMatchObject({ subject: '1000300009', lastName: 'Морозов', trusted: true })
  })

  it('CryptoPro\'s byte order: accepted with ESIA_SIGNER_REVERSE=true, ESIA-007053 without', async () => {
    const reversed = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_COMMAND: cryptoProLike(mock.gost!.keyFile), ESIA_SIGNER_REVERSE: 'true' }))
    expect(await loginThrough(reversed, 'double-surname')).toMatchObject({ lastName: 'Мамина-Сибирякова' })
    const unreversed = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_COMMAND: cryptoProLike(mock.gost!.keyFile) }))
    expect(await rejection(loginThrough(unreversed, 'double-surname'))).toMatchObject({ kind: 'provider_error', code: 'ESIA-007053' })
  })

  it('another certificate\'s hash, or a SHA-1/SHA-256 thumbprint instead of the GOST hash: ESIA-007053', async () => {
    const other = await generateGostKeyPair('/CN=another system')
    const wrongHashes = [await gostCertificateHash(other.certificatePem), execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: mock.gost!.certificatePem }).toString().split('=')[1]!.trim().replaceAll(':', '')]
    for (const hash of wrongHashes) {
      const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_CERT_HASH: hash }))
      expect(await rejection(loginThrough(adapter, 'shared-snils'))).toMatchObject({ kind: 'provider_error', code: 'ESIA-007053' })
    }
  })

  it('another system\'s key signs: ESIA-007053', async () => {
    const other = await generateGostKeyPair('/CN=another system')
    const keyFile = path.join(dir, 'other-key.pem')
    await writeFile(keyFile, other.privatePem, { mode: 0o600 })
    const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_COMMAND: documentedCommand(keyFile) }))
    expect(await rejection(loginThrough(adapter, 'shared-snils'))).toMatchObject({ code: 'ESIA-007053' })
  })

  it('a GOST-signed token from a key not configured is refused: another GOST certificate, or RSA keys only', async () => {
    const other = await generateGostKeyPair('/CN=not ESIA')
    const otherCert = path.join(dir, 'not-esia.cer')
    await writeFile(otherCert, other.certificatePem)
    for (const keys of [otherCert, mock.keysUrl]) {
      const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_TOKEN_KEYS: keys }), { tokenKeysCooldownMs: 0 })
      expect(await rejection(loginThrough(adapter, 'shared-snils'))).toMatchObject({ kind: 'invalid_response', code: 'token_signature_invalid' })
    }
  })

  it('a token whose payload was changed after signing does not verify', async () => {
    const signer = createCommandSigner({ command: documentedCommand(mock.gost!.keyFile), timeoutMs: 5000, reverse: false })
    const verifier = new TokenVerifier(await tokenKeySource(mock.gost!.tokenCertFile), signer)
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
    const header = b64({ ver: 1, typ: 'JWT', sbt: 'access', alg: 'GOST3410_2012_256' })
    const signature = (await (await mock.state.gostKey()).sign(`${header}.${b64({ sub: 1 })}`)).toString('base64url')
    expect(JSON.parse(Buffer.from(await verifier.verify(`${header}.${b64({ sub: 1 })}.${signature}`)).toString())).toEqual({ sub: 1 })
    expect(await rejection(verifier.verify(`${header}.${b64({ sub: 2 })}.${signature}`))).toMatchObject({ code: 'token_signature_invalid' })
  })

  it('ESIA_SIGNER_VERIFY_COMMAND: the operator\'s own check, in CryptoPro\'s byte order with ESIA_SIGNER_REVERSE', async () => {
    // A CryptoPro-like verifier: reads the signature little-endian, so turns it back for OpenSSL.
    const verifyCommand = 'k=$(mktemp) && s=$(mktemp) && openssl x509 -engine gost -pubkey -noout -in "$CERTIFICATE_FILE" > "$k" 2>/dev/null'
      + ' && perl -0777 -pe \'$_ = reverse $_\' "$SIGNATURE_FILE" > "$s" && openssl dgst -engine gost -md_gost12_256 -verify "$k" -signature "$s" >/dev/null 2>&1; rc=$?; rm -f "$k" "$s"; exit $rc'
    const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_COMMAND: cryptoProLike(mock.gost!.keyFile), ESIA_SIGNER_REVERSE: 'true', ESIA_SIGNER_VERIFY_COMMAND: verifyCommand }))
    expect(await loginThrough(adapter, 'no-snils-in-journal')).toMatchObject({ subject: '1000300010' })
    // The same program without the flag sees OpenSSL's order reversed: every token is refused.
    const confused = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_VERIFY_COMMAND: verifyCommand }))
    expect(await rejection(loginThrough(confused, 'no-snils-in-journal'))).toMatchObject({ code: 'token_signature_invalid' })
    // A verifier that cannot run is the operator's problem, said as such — not a forged token.
    const broken = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER_VERIFY_COMMAND: 'echo "no licence" >&2; exit 3' }))
    expect(await rejection(loginThrough(broken, 'no-snils-in-journal'))).toMatchObject({ kind: 'configuration', code: 'signer_failed' })
  })

  describe('the http signer\'s documented calls, served with OpenSSL-GOST', () => {
    let server: Server
    let url: string
    beforeAll(async () => {
      // A signing service as docs/operations.md describes it: raw bytes in, raw signature out; JSON verify.
      server = createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => void (async () => {
          const body = Buffer.concat(chunks)
          if (req.headers['content-type'] === 'application/json') {
            const { verify: v } = JSON.parse(body.toString()) as { verify: { alg: string; signing_input: string; signature: string; certificate: string } }
            const valid = v.alg === 'GOST3410_2012_256' && await gostVerify(await gostPublicKey(v.certificate), Buffer.from(v.signing_input, 'base64url'), Buffer.from(v.signature, 'base64url'))
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ valid }))
          }
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(await gostSign(mock.gost!.keyFile, body))
        })())
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`
    })
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

    it('signs client_secret and verifies GOST tokens: the whole login succeeds', async () => {
      const adapter = await createUpstreamAdapter(esiaEnv({ ESIA_SIGNER: 'http', ESIA_SIGNER_URL: url }))
      expect(await loginThrough(adapter, 'name-with-yo')).toMatchObject({ lastName: 'Фёдоров' })
    })
  })

  describe('ESIA_CERT_HASH', () => {
    const certHash = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/esia-cert-hash.ts', file], { encoding: 'utf8' })

    it('npm run esia:cert-hash prints what `openssl dgst -engine gost -md_gost12_256` gives over the DER certificate, from PEM or DER', async () => {
      const pem = path.join(dir, 'system.pem')
      const der = path.join(dir, 'system.cer')
      await writeFile(pem, mock.gost!.certificatePem)
      execFileSync('openssl', ['x509', '-in', pem, '-outform', 'DER', '-out', der])
      const expected = execFileSync('openssl', ['dgst', '-engine', 'gost', '-md_gost12_256', '-r'], { input: readFileSync(der), stdio: ['pipe', 'pipe', 'ignore'] }).toString().slice(0, 64).toUpperCase()
      expect(expected).toMatch(/^[0-9A-F]{64}$/)
      for (const file of [pem, der]) {
        const run = certHash(file)
        expect(run.status).toBe(0)
        expect(run.stdout).toBe(`${expected}\n`)
      }
      // …and it is the hash the mock (ЕСИА) expects for that certificate.
      expect(expected).toBe(mock.gost!.certHash)
      const notACertificate = certHash(mock.gost!.keyFile)
      expect(notACertificate.status).toBe(1)
      expect(notACertificate.stderr).toContain('not an X.509 certificate')
    })

    it('start-up with ESIA_CERT_FILE checks ESIA_CERT_HASH against it, one line when it does not match', async () => {
      const certFile = path.join(dir, 'registered.cer')
      await writeFile(certFile, mock.gost!.certificatePem)
      await expect(createUpstreamAdapter(esiaEnv({ ESIA_CERT_FILE: certFile }))).resolves.toBeDefined()
      const wrong = 'AB'.repeat(32)
      const refused = await createUpstreamAdapter(esiaEnv({ ESIA_CERT_FILE: certFile, ESIA_CERT_HASH: wrong })).catch((err: unknown) => err)
      expect(refused).toBeInstanceOf(ConfigError)
      expect((refused as Error).message).toBe(`ESIA_CERT_HASH does not match ESIA_CERT_FILE: ЕСИА would refuse every login with ESIA-007053; the certificate's hash is ${mock.gost!.certHash} (npm run esia:cert-hash -- ${certFile})`)
      await expect(createUpstreamAdapter(esiaEnv({ ESIA_CERT_FILE: path.join(dir, 'missing.cer') }))).rejects.toThrow(/ESIA_CERT_FILE: cannot read/)
    })
  })
})
