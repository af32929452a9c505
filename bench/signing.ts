import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { clientSecretMessage, esiaTimestamp } from '../src/upstream/esia/protocol.js'
import { boundedCommandSigner, createHttpSigner, limitSigner, type EsiaSigner } from '../src/upstream/signers/index.js'
import { generateGostKeyPair, gostEngineAvailable, gostSign, opensslGostSignCommand } from '../src/upstream/signers/openssl-gost.js'
import type { BenchModule } from './lib/context.js'

/**
 * What signing costs per ЕСИА login: two `client_secret` signatures (v2/ac, then v3/te), plus —
 * when the ИС chose GOST tokens — two token checks. Measured for ESIA_SIGNER=command with the
 * OpenSSL-GOST command of docs/operations.md (a process per signature), and ESIA_SIGNER=http against a local
 * signing service, once signing with OpenSSL per request and once answering at once (the
 * round trip alone: what a long-lived signer — an HSM, a CryptoPro service — costs the bridge).
 */

/** CPU seconds of this process and of its reaped children (the signing programs), Linux /proc. */
function cpuSeconds(): number {
  const own = process.cpuUsage()
  let children = 0
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')
    // After the command name: state is field 3, so cutime/cstime (16, 17) are at 13, 14; ticks of 1/100 s.
    children = (Number(fields[13]) + Number(fields[14])) / 100
  } catch {
    // Not Linux: the children's share is left out, and said so below.
  }
  return (own.user + own.system) / 1e6 + children
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
const ms = (x: number) => x.toFixed(1)

function message(): string {
  return clientSecretMessage({
    clientId: 'ESIABRIDGE', scope: 'openid fullname birthdate snils', scopeOrg: '', timestamp: esiaTimestamp(), state: randomUUID(),
    redirectUri: 'https://bridge.school.example/auth/callback', code: randomBytes(300).toString('base64url'),
  })
}

async function measureSigner(name: string, signer: EsiaSigner, opts: { sequential: number; logins: number; concurrency: number }, print: (line: string) => void): Promise<void> {
  for (let i = 0; i < 3; i++) await signer.sign(message()) // warm-up: the page cache, the keep-alive socket
  const latencies: number[] = []
  for (let i = 0; i < opts.sequential; i++) {
    const t0 = performance.now()
    await signer.sign(message())
    latencies.push(performance.now() - t0)
  }
  latencies.sort((a, b) => a - b)

  // Many logins at once, as many signing as the signer lets run: the rate the host sustains.
  const signatures = opts.logins * 2
  let next = 0
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (next++ < signatures) await signer.sign(message())
  }))
  const seconds = (performance.now() - t0) / 1000
  const cpuPerLogin = ((cpuSeconds() - cpu0) / opts.logins) * 1000
  print(`${name}: ${ms(quantile(latencies, 0.5))} ms p50, ${ms(quantile(latencies, 0.95))} ms p95 per signature (one at a time, n=${opts.sequential}) → ${ms(2 * quantile(latencies, 0.5))} ms of each login`)
  print(`${' '.repeat(name.length)}  ${opts.concurrency} at once: ${(signatures / seconds).toFixed(0)} signatures/s = ${(opts.logins / seconds).toFixed(0)} logins/s at most; CPU ${ms(cpuPerLogin)} ms per login (bridge + signer) ≈ ${(1000 / cpuPerLogin).toFixed(0)} logins/s per CPU core spent on signing`)
}

const bench: BenchModule = {
  description: 'GOST signing cost per ЕСИА login (two signatures): command (OpenSSL), http, token checks — options: --logins=N (300), --concurrency=N (2 × CPUs)',
  async run({ option, print }) {
    if (!(await gostEngineAvailable())) {
      print('skipped: OpenSSL has no GOST engine here (apt-get install libengine-gost-openssl)')
      return
    }
    const logins = option('logins', 300)
    const concurrency = option('concurrency', 2 * os.availableParallelism())
    const opts = { sequential: 100, logins, concurrency }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-signing-'))
    const pair = await generateGostKeyPair()
    const keyFile = path.join(dir, 'key.pem')
    await writeFile(keyFile, pair.privatePem, { mode: 0o600 })

    // A signing service as docs/operations.md's http contract describes it.
    let mode: 'openssl' | 'instant' = 'openssl'
    const fixed = randomBytes(64)
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => void (async () => {
        const signature = mode === 'openssl' ? await gostSign(keyFile, Buffer.concat(chunks)) : fixed
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(signature)
      })())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`
    try {
      print(`${os.availableParallelism()} CPUs; ${concurrency} signatures at once in the rate runs; CPU counts reaped signing processes${process.platform === 'linux' ? '' : ' (not on this OS: children left out)'}`)
      await measureSigner('command, the documented OpenSSL-GOST command', boundedCommandSigner({ command: opensslGostSignCommand(keyFile), timeoutMs: 10_000, reverse: false }), opts, print)
      const http = limitSigner(createHttpSigner({ url, timeoutMs: 10_000, reverse: false }), { concurrent: 64, queued: 256 })
      await measureSigner('http, the service signs with OpenSSL per request', http, opts, print)
      mode = 'instant'
      await measureSigner('http, round trip alone (a long-lived signer)', http, opts, print)

      // ЕСИА's GOST3410_2012_256 tokens: the ID and the access token are checked per login.
      const signer = boundedCommandSigner({ command: opensslGostSignCommand(keyFile), timeoutMs: 10_000, reverse: false })
      const input = Buffer.from(`${Buffer.from('{"alg":"GOST3410_2012_256"}').toString('base64url')}.${randomBytes(600).toString('base64url')}`)
      const signature = await gostSign(keyFile, input)
      await signer.verifyGost!({ alg: 'GOST3410_2012_256', signingInput: input, signature, certificate: pair.certificatePem })
      const checks: number[] = []
      const cpu0 = cpuSeconds()
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now()
        if (!(await signer.verifyGost!({ alg: 'GOST3410_2012_256', signingInput: input, signature, certificate: pair.certificatePem }))) throw new Error('a good signature did not verify')
        checks.push(performance.now() - t0)
      }
      const checkCpu = ((cpuSeconds() - cpu0) / 100) * 1000
      checks.sort((a, b) => a - b)
      print(`GOST token check (command signer, OpenSSL): ${ms(quantile(checks, 0.5))} ms p50, ${ms(quantile(checks, 0.95))} ms p95, CPU ${ms(checkCpu)} ms per token → ${ms(2 * quantile(checks, 0.5))} ms, ${ms(2 * checkCpu)} ms CPU of each login with GOST tokens (RS256: ≈ 0.03 ms in-process)`)
    } finally {
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
  },
}

export default bench
