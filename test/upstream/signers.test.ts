import { execFileSync } from 'node:child_process'
import { createPublicKey, sign, verify, X509Certificate } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createCommandSigner, createHttpSigner, createUpstreamAdapter, limitSigner, tokenKeySource, TokenVerifier } from '../../src/upstream/index.js'
import { testConfig } from '../helpers/app.js'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { loginThrough, rejection } from './harness.js'

let mock: TestMockEsia
beforeAll(async () => {
  mock = await startTestMockEsia()
})
afterAll(() => mock.close())

/** OpenSSL cannot sign from a pipe in one shot (`-rawin` needs the size), so the wrapper spools stdin to a temp file. */
const opensslSign = (keyFile: string) =>
  `f=$(mktemp) && cat > "$f" && openssl pkeyutl -sign -rawin -inkey '${keyFile}' -in "$f"; rc=$?; rm -f "$f"; exit $rc`

describe('the command signer, with a real external program', () => {
  it('openssl signs the ЕСИА messages and a whole login against the mock succeeds', async () => {
    const adapter = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('esia'), ESIA_SIGNER: 'command', ESIA_SIGNER_COMMAND: opensslSign(mock.testKeyFile) }))
    expect(await loginThrough(adapter, 'shared-snils')).toMatchObject({ subject: '1000300009', lastName: 'Морозов', trusted: true })
  })

  it('a CryptoPro-like program writes the bytes reversed; ESIA_SIGNER_REVERSE=true turns them back', async () => {
    const littleEndian = `( ${opensslSign(mock.testKeyFile)} ) | perl -0777 -pe '$_ = reverse $_'`
    const reversed = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('esia'), ESIA_SIGNER: 'command', ESIA_SIGNER_COMMAND: littleEndian, ESIA_SIGNER_REVERSE: 'true' }))
    expect(await loginThrough(reversed, 'double-surname')).toMatchObject({ lastName: 'Мамина-Сибирякова' })
    // Without the flag ЕСИА (here the mock) rejects the signature, as it does in life (docs/esia.md, «The signed `client_secret`»).
    const unreversed = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('esia'), ESIA_SIGNER: 'command', ESIA_SIGNER_COMMAND: littleEndian }))
    expect(await rejection(loginThrough(unreversed, 'double-surname'))).toMatchObject({ kind: 'provider_error', code: 'ESIA-007053' })
  })

  it('gets the message on stdin, never in its arguments', async () => {
    const signer = createCommandSigner({ command: 'cat', timeoutMs: 2000, reverse: false })
    expect((await signer.sign('ESIABRIDGEopenid fullname2025.09.02 13:00:29 +0000')).toString()).toBe('ESIABRIDGEopenid fullname2025.09.02 13:00:29 +0000')
  })

  it('a program that hangs, fails or prints nothing is a configuration error with a reason', async () => {
    expect(await rejection(createCommandSigner({ command: 'sleep 5', timeoutMs: 200, reverse: false }).sign('x'))).toMatchObject({ kind: 'configuration', code: 'signer_timeout' })
    const failed = createCommandSigner({ command: 'echo "no key container" >&2; exit 3', timeoutMs: 2000, reverse: false }).sign('x')
    await expect(failed).rejects.toMatchObject({ kind: 'configuration', code: 'signer_failed', message: expect.stringContaining('exited with 3: no key container') })
    expect(await rejection(createCommandSigner({ command: 'true', timeoutMs: 2000, reverse: false }).sign('x'))).toMatchObject({ code: 'signer_failed' })
    expect(await rejection(createCommandSigner({ command: '/nonexistent/signer', timeoutMs: 2000, reverse: false }).sign('x'))).toMatchObject({ code: 'signer_failed' })
  })
})

describe('a bounded number of signatures at once', () => {
  it('runs at most `concurrent`, lets `queued` wait, and turns the rest away as «ЕСИА unavailable»', async () => {
    // A real program that takes a while: 1 running + 1 waiting; the third is refused at once.
    const slow = limitSigner(createCommandSigner({ command: 'sleep 0.3; cat', timeoutMs: 5000, reverse: false }), { concurrent: 1, queued: 1 })
    const started = Date.now()
    const results = await Promise.allSettled([slow.sign('a'), slow.sign('b'), slow.sign('c')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ kind: 'unavailable', code: 'signer_busy' })
    expect(results.slice(0, 2).map((r) => (r as PromiseFulfilledResult<Buffer>).value.toString())).toEqual(['a', 'b'])
    // The two that ran did so one after the other.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550)
    // Capacity comes back once they are done.
    expect((await slow.sign('d')).toString()).toBe('d')
  })
})

describe('a signer that hangs', () => {
  /** Whether a process still runs (an exited one no parent has reaped yet is a zombie: gone). */
  const running = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z'
    } catch {
      return false
    }
  }
  const scratch = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signer-test-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  it('is killed at the timeout with everything it started, and its temporary files go', async () => {
    const dir = scratch()
    // A signing script: a temporary file, a program that never ends in the background, a shell that waits.
    const command = `f=$(mktemp) && echo "$f" > '${dir}/tmpfile' && sleep 60 & echo $! > '${dir}/pids'; echo $$ >> '${dir}/pids'; sleep 60`
    expect(await rejection(createCommandSigner({ command, timeoutMs: 300, reverse: false }).sign('x'))).toMatchObject({ code: 'signer_timeout' })
    const pids = readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n').map(Number)
    expect(pids).toHaveLength(2)
    expect(pids.filter(running)).toEqual([])
    expect(existsSync(readFileSync(path.join(dir, 'tmpfile'), 'utf8').trim())).toBe(false)
  })

  it('keeps its slot until its processes are gone: the next signature starts after they exited', async () => {
    const dir = scratch()
    // The first run leaves its pids and hangs; the second says whether any of them still runs.
    const command = `if [ -e '${dir}/pids' ]; then for p in $(cat '${dir}/pids'); do
        if [ -e /proc/$p ] && [ "$(sed 's/^.*) //' /proc/$p/stat | cut -c1)" != Z ]; then echo "$p still runs" >&2; exit 3; fi; done; cat
      else sleep 60 & echo $! > '${dir}/pids.new'; echo $$ >> '${dir}/pids.new'; mv '${dir}/pids.new' '${dir}/pids'; sleep 60; fi`
    const signer = limitSigner(createCommandSigner({ command, timeoutMs: 300, reverse: false }), { concurrent: 1, queued: 1 })
    const [first, second] = await Promise.allSettled([signer.sign('first'), signer.sign('second')])
    expect((first as PromiseRejectedResult).reason).toMatchObject({ code: 'signer_timeout' })
    expect(second).toEqual({ status: 'fulfilled', value: Buffer.from('second') })
  })
})

describe('the http signer, against a small signing service', () => {
  let server: Server
  let url: string
  let answer: 'raw' | 'json' | 'error' = 'raw'
  const privateKey = () => mock.testKey.privateKey

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        if (answer === 'error') return void res.writeHead(500).end('HSM offline')
        if (req.headers['content-type'] === 'application/json') {
          // verify: the stand-in certificate's Ed25519 key checks the signature.
          const { verify: v } = JSON.parse(body.toString()) as { verify: { signing_input: string; signature: string; certificate: string } }
          const valid = verify(null, Buffer.from(v.signing_input, 'base64url'), new X509Certificate(v.certificate).publicKey, Buffer.from(v.signature, 'base64url'))
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ valid }))
        }
        const signature = sign(null, body, privateKey())
        if (answer === 'json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signature: signature.toString('base64') }))
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(signature)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('POSTs the message and takes raw bytes or JSON {signature}; logins succeed either way', async () => {
    const adapter = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('esia'), ESIA_SIGNER: 'http', ESIA_SIGNER_URL: url }))
    answer = 'raw'
    expect(await loginThrough(adapter, 'no-snils-in-journal')).toMatchObject({ subject: '1000300010' })
    answer = 'json'
    expect(await loginThrough(adapter, 'no-snils-in-journal')).toMatchObject({ subject: '1000300010' })
  })

  it('a failing service is a configuration error', async () => {
    answer = 'error'
    expect(await rejection(createHttpSigner({ url, timeoutMs: 2000, reverse: false }).sign('x'))).toMatchObject({ kind: 'configuration', code: 'signer_failed' })
    expect(await rejection(createHttpSigner({ url: 'http://127.0.0.1:9/sign', timeoutMs: 2000, reverse: false }).sign('x'))).toMatchObject({ kind: 'configuration', code: 'signer_failed' })
    answer = 'raw'
  })

  it('verifies a GOST-signed token through the service (verify contract)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gost-standin-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(`${dir}/key.pem`, mock.testKey.privatePem)
    // An Ed25519 certificate stands in for ЕСИА's GOST one: Node cannot use it as RSA, so it goes to the signer's crypto.
    execFileSync('openssl', ['req', '-x509', '-new', '-key', `${dir}/key.pem`, '-subj', '/CN=GOST stand-in', '-days', '2', '-out', `${dir}/gost.cer`])
    const signer = createHttpSigner({ url, timeoutMs: 2000, reverse: false })
    const verifier = new TokenVerifier(await tokenKeySource(`${dir}/gost.cer`), signer)
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
    const input = `${b64({ ver: 0, typ: 'JWT', sbt: 'id', alg: 'GOST3410_2012_256' })}.${b64({ sub: 1000300001 })}`
    const token = `${input}.${sign(null, Buffer.from(input), mock.testKey.privateKey).toString('base64url')}`
    expect(JSON.parse(Buffer.from(await verifier.verify(token)).toString())).toEqual({ sub: 1000300001 })
    const forged = `${input}.${Buffer.alloc(64, 7).toString('base64url')}`
    expect(await rejection(verifier.verify(forged))).toMatchObject({ kind: 'invalid_response', code: 'token_signature_invalid' })
    // Without a signer that can verify GOST, a GOST token's algorithm is simply not allowed.
    expect(await rejection(new TokenVerifier(await tokenKeySource(`${dir}/gost.cer`)).verify(token))).toMatchObject({ code: 'token_alg_not_allowed' })
    expect(createPublicKey(mock.testKey.privatePem).asymmetricKeyType).toBe('ed25519')
  })
})
