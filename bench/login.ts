import { freePort } from '../src/http/free-port.js'
import { fork, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { buildApp } from '../src/app.js'
import { buildConfig, parseEnv } from '../src/config.js'
import type { Pool } from '../src/db/pool.js'
import { upsertCard, validateCard } from '../src/directory/cards.js'
import { loggerOptions } from '../src/logging.js'
import { snilsCheckNumber } from '../src/matching/snils.js'
import type { Persona } from '../src/mock-idp/index.js'
import { seedDemoDirectory } from '../src/mock-idp/seed-demo-directory.js'
import { ClientRegistry } from '../src/oidc-provider/clients.js'
import { signIdToken } from '../src/oidc-provider/tokens.js'
import { createUpstreamAdapter } from '../src/upstream/index.js'
import { generateTestKeyPair } from '../src/upstream/signers/test-key.js'
import type { BenchContext, BenchModule } from './lib/context.js'
import type { DriverResult, DriverRun, DriverStart, MockStart } from './lib/login-child.js'
import { measure } from './lib/measure.js'

/**
 * «Войти через Госуслуги» under load (DESIGN.md §Service levels: ≤ 1.2 ms of bridge CPU per login,
 * ≥ 1 000 logins/s, p99 callback ≤ 20 ms at 500 logins/s), on a directory of N journal users (2 000
 * 000 by default) plus the demo directory. A full login is what a journal and a browser do:
 * authorize → the mock ЕСИА's page and «Войти» → callback → token.
 *
 * Three processes, so that the bridge's CPU is measured alone (process.cpuUsage counts every thread
 * of a process): the bridge in this one, the mock ЕСИА and the load driver (browsers + the journal's
 * backend) each in a child (bench/lib/login-child.ts). PostgreSQL's share is read from its backends.
 */
const SECRETS = {
  snilsHmacKey: 'bench-login-snils-hmac-key-0123456789abcdef0123',
  cookieSecret: 'bench-login-cookie-secret-0123456789abcdef01234',
  keysEncryptionKey: 'bench-login-keys-encryption-key-0123456789abcd',
}
const JOURNAL = { client_id: 'bench-journal', name: 'Журнал (бенчмарк)', client_secret: 'bench-journal-secret-0123456789abcdef0123456789', redirect_uris: ['https://journal.bench/auth/callback'] }
const ESIA_CLIENT_ID = 'BENCHBRIDGE'
const ORGANIZATIONS = 500
const CHILD = fileURLToPath(new URL('./lib/login-child.ts', import.meta.url))

// ── the directory ───────────────────────────────────────────────────────────────────────────────

/**
 * N journal users generated inside PostgreSQL (nothing to stream: the fastest way to a big table),
 * every second one linked to an ЕСИА subject, so both the directory and the links index have a
 * region's size. Names and SNILS HMACs are synthetic; the benchmark's people are added apart.
 */
async function generateDirectory(pool: Pool, users: number): Promise<void> {
  await pool.query(
    `INSERT INTO organizations (id, name, kind, municipality)
     SELECT 'bench-org-' || lpad(i::text, 3, '0'), 'МБОУ «Средняя школа № ' || i || '»', 'school', 'Бенчмарк' FROM generate_series(1, $1) i`,
    [ORGANIZATIONS],
  )
  await pool.query(
    `INSERT INTO journal_users (id, organization_id, role, last_name, first_name, middle_name, birth_date,
       snils_hmac, snils_present, snils_valid, norm_last_name, norm_first_name, norm_middle_name)
     SELECT 'bench-' || i, 'bench-org-' || lpad((1 + i % $2)::text, 3, '0'),
       (ARRAY['student', 'parent', 'parent', 'student', 'staff'])[1 + i % 5],
       l, f, m, date '1965-01-01' + (i % 18000), sha256(('bench-snils-' || i)::bytea), true, true, lower(l), lower(f), lower(m)
     FROM generate_series(1, $1::int) i,
       LATERAL (SELECT (ARRAY['Иванова', 'Смирнов', 'Кузнецова', 'Попов', 'Васильева', 'Петров', 'Соколова', 'Михайлов', 'Новикова', 'Федоров'])[1 + i % 10] AS l,
                       (ARRAY['Анна', 'Сергей', 'Мария', 'Дмитрий', 'Елена', 'Андрей', 'Ольга', 'Алексей'])[1 + (i / 10) % 8] AS f,
                       (ARRAY['Ивановна', 'Петрович', 'Сергеевна', 'Андреевич', 'Викторовна', 'Олегович'])[1 + (i / 80) % 6] AS m) names`,
    [users, ORGANIZATIONS],
  )
  await pool.query(
    `INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method, evidence, trusted, level)
     SELECT id, 'bench-sbj-' || substr(id, 7), organization_id, role, 'link', '{last_name,first_name,middle_name,birth_date,snils}', true, 'PR'
     FROM journal_users WHERE id LIKE 'bench-%' AND substr(id, 7)::int % 2 = 0`,
  )
  await pool.query('ANALYZE')
}

/** The people who log in: a persona at the mock ЕСИА and a matching card each, in the bench's schools. */
function benchPeople(count: number): { personas: Persona[]; cards: Parameters<typeof validateCard>[0][] } {
  const lastNames = ['Бенчева', 'Нагрузова', 'Тестова', 'Замерова']
  const firstNames = ['Анна', 'Ольга', 'Ирина', 'Марина', 'Светлана']
  const personas: Persona[] = []
  const cards: Parameters<typeof validateCard>[0][] = []
  for (let i = 0; i < count; i++) {
    const nine = String(900_000_000 + i * 7)
    const digits = nine + String(snilsCheckNumber(nine)).padStart(2, '0')
    const snils = `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)} ${digits.slice(9)}`
    const lastName = lastNames[i % lastNames.length]!
    const firstName = firstNames[i % firstNames.length]!
    const day = 1 + (i % 28)
    const month = 1 + (i % 12)
    const year = 1975 + (i % 20)
    const pad = (n: number) => String(n).padStart(2, '0')
    personas.push({
      id: `bench-${i}`, oid: 2_000_000_000 + i, label: `${lastName} ${firstName}`, description: 'Бенчмарк', level: 'PR', trusted: true,
      lastName, firstName, middleName: 'Ивановна', birthDate: `${pad(day)}.${pad(month)}.${year}`, gender: 'F', snils, journalCards: [`bench-person-${i}`],
    })
    cards.push({
      id: `bench-person-${i}`, organization_id: `bench-org-${String(1 + (i % ORGANIZATIONS)).padStart(3, '0')}`, role: 'parent',
      last_name: lastName, first_name: firstName, middle_name: 'Ивановна', birth_date: `${year}-${pad(month)}-${pad(day)}`, snils,
    })
  }
  return { personas, cards }
}

// ── processes ───────────────────────────────────────────────────────────────────────────────────

interface Child {
  process: ChildProcess
  ask<T>(message: unknown, answer: string): Promise<T>
}

function startChild(role: 'mock' | 'driver', start: MockStart | DriverStart): Promise<Child & { ready: Record<string, unknown> }> {
  const child = fork(CHILD, [role], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ask = <T>(message: unknown, answer: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== answer) return
        child.off('message', onMessage)
        child.off('exit', onExit)
        resolve(m as T)
      }
      const onExit = (code: number | null) => reject(new Error(`bench ${role} process exited (${code})`))
      child.on('message', onMessage)
      child.once('exit', onExit)
      if (message !== undefined) child.send(message as object)
    })
  return ask<Record<string, unknown>>(start, 'ready').then((ready) => ({ process: child, ask, ready }))
}


/**
 * CPU seconds used so far by the PostgreSQL backends serving this benchmark's database (their
 * /proc/<pid>/stat, Linux, a server on this machine): the database's share of a login, apart from
 * whatever else the server is doing. Undefined when the backends cannot be read.
 */
async function databaseCpuSeconds(pool: Pool): Promise<number | undefined> {
  try {
    const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')
    let ticks = 0
    for (const { pid } of rows) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    }
    return ticks / 100
  } catch {
    return undefined
  }
}

// ── measuring ───────────────────────────────────────────────────────────────────────────────────

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`

async function phase(ctx: BenchContext, label: string, mock: Child, driver: Child, run: DriverRun): Promise<DriverResult> {
  await mock.ask({ type: 'cpu' }, 'cpu')
  const db0 = await databaseCpuSeconds(ctx.pool)
  const cpu0 = process.cpuUsage()
  const { result } = await driver.ask<{ result: DriverResult }>({ type: 'run', run }, 'result')
  const bridgeCpu = process.cpuUsage(cpu0)
  const db1 = await databaseCpuSeconds(ctx.pool)
  const { cpuSeconds: mockCpu } = await mock.ask<{ cpuSeconds: number }>({ type: 'cpu' }, 'cpu')
  const bridge = (bridgeCpu.user + bridgeCpu.system) / 1e6
  const n = Math.max(1, result.logins)
  const lat = result.callbackMs
  ctx.print(`${label}: ${result.logins} logins in ${result.seconds.toFixed(1)} s = ${Math.round(result.logins / result.seconds)} logins/s${result.failures ? `, ${result.failures} FAILED (${result.firstFailure})` : ''}`)
  ctx.print(`  bridge CPU per login ${ms(bridge / n)} (user ${ms(bridgeCpu.user / 1e6 / n)}, system ${ms(bridgeCpu.system / 1e6 / n)})`)
  const others = `mock ЕСИА ${ms(mockCpu / n)} · driver ${ms(result.cpuSeconds / n)}`
  const pg = db0 !== undefined && db1 !== undefined ? ` · PostgreSQL backends ${ms((db1 - db0) / n)}` : ''
  ctx.print(`  per login elsewhere: ${others}${pg}`)
  ctx.print(`  callback latency p50 ${percentile(lat, 50).toFixed(1)} ms · p90 ${percentile(lat, 90).toFixed(1)} ms · p99 ${percentile(lat, 99).toFixed(1)} ms · max ${(lat.at(-1) ?? NaN).toFixed(1)} ms`)
  return result
}

/** The unavoidable cryptography of one login besides our ES256 signature, timed in this process. */
function cryptoFloor(ctx: BenchContext): void {
  const rounds = 2000
  const time = (fn: () => unknown) => {
    for (let i = 0; i < 200; i++) fn()
    const t0 = process.cpuUsage()
    for (let i = 0; i < rounds; i++) fn()
    const used = process.cpuUsage(t0)
    return (used.user + used.system) / 1e6 / rounds
  }
  // An ЕСИА ID token is about this long; RS256 with a 2048-bit key, as the mock (and ЕСИА) sign.
  const input = Buffer.from('x'.repeat(900))
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signature = sign('sha256', input, rsa.privateKey)
  const rs256 = time(() => verify('sha256', input, rsa.publicKey, signature))
  const ed = generateKeyPairSync('ed25519')
  const ed25519 = time(() => sign(null, input, ed.privateKey))
  ctx.print(`  RS256 verify of ЕСИА's ID token ${ms(rs256)} · Ed25519 sign of the test-key signer ${ms(ed25519)} (twice per login: authorize and token exchange)`)
}

async function es256Cost(app: Awaited<ReturnType<typeof buildApp>>): Promise<number> {
  const rounds = 2000
  const input = { issuer: 'http://bench', clientId: JOURNAL.client_id, journalUserId: 'bench-1', nonce: 'n', claims: { auth_time: 1, amr: ['esia'], acr: 'esia:confirmed', org_id: 'o', role: 'parent' } }
  for (let i = 0; i < 200; i++) await signIdToken(app.signingKeys, input)
  const t0 = process.cpuUsage()
  for (let i = 0; i < rounds; i++) await signIdToken(app.signingKeys, input)
  const used = process.cpuUsage(t0)
  return (used.user + used.system) / 1e6 / rounds
}

/** --profile=1: a V8 CPU profile of the bridge process during the full-speed phase, for finding waste. */
async function startProfiler(): Promise<{ stop(): Promise<string> }> {
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop')
      const file = path.join(os.tmpdir(), `esia-bridge-login-${process.pid}.cpuprofile`)
      await writeFile(file, JSON.stringify(profile))
      session.disconnect()
      return file
    },
  }
}

// ── the benchmark ───────────────────────────────────────────────────────────────────────────────

const bench: BenchModule = {
  description:
    'full logins (authorize → mock ЕСИА → callback → token) against N journal users — options: --users=N (2000000) --people=N (256) --logins=N (3000) --concurrency=N (24) --rate=N (500) --seconds=N (10) --log=0|1 (1: info logs to /dev/null) --profile=0|1 (CPU profile of the full-speed phase)',
  async run(ctx) {
    const users = ctx.option('users', 2_000_000)
    const people = ctx.option('people', 256)
    const logins = ctx.option('logins', 3000)
    const concurrency = ctx.option('concurrency', 24)
    const rate = ctx.option('rate', 500)
    const seconds = ctx.option('seconds', 10)
    const logLevel = ctx.option('log', 1) ? 'info' : 'warn'

    const generated = await measure(async () => {
      await generateDirectory(ctx.pool, users)
      await seedDemoDirectory(ctx.pool, SECRETS.snilsHmacKey)
      const { personas, cards } = benchPeople(people)
      for (const card of cards) {
        const v = validateCard(card, { snilsKey: SECRETS.snilsHmacKey })
        if (!v.ok) throw new Error(v.rejection.message)
        await upsertCard(ctx.pool, v.row)
      }
      await ctx.pool.query('ANALYZE journal_users')
      return personas
    })
    const personas = generated.result
    const counts = (await ctx.pool.query<{ users: number; links: number }>('SELECT (SELECT count(*) FROM journal_users)::int AS users, (SELECT count(*) FROM links)::int AS links')).rows[0]!
    ctx.print(`directory: ${counts.users.toLocaleString('en')} journal users, ${counts.links.toLocaleString('en')} links, ${people} people logging in (generated in ${generated.seconds.toFixed(0)} s, not counted)`)

    // Processes: the bridge's address first (the mock must know its callback), then the mock, then the bridge.
    const port = await freePort()
    const bridgeUrl = `http://127.0.0.1:${port}`
    const testKey = generateTestKeyPair()
    const mock = await startChild('mock', { personas, clientId: ESIA_CLIENT_ID, redirectUri: `${bridgeUrl}/auth/callback`, publicKeyPem: testKey.publicKey.export({ type: 'spki', format: 'pem' }).toString() })
    const mockUrl = mock.ready.url as string

    const config = buildConfig(
      parseEnv({ NODE_ENV: 'development', PUBLIC_URL: bridgeUrl, DATABASE_URL: ctx.databaseUrl, IDP_KIND: 'mock', ESIA_URL: mockUrl, ESIA_CLIENT_ID, RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: logLevel }),
      SECRETS,
    )
    const logger = pino(loggerOptions(logLevel), pino.destination({ dest: '/dev/null', sync: false }))
    const upstream = await createUpstreamAdapter(config, { testSigningKey: testKey.privateKey })
    const app = await buildApp({ config, pool: ctx.pool, clients: new ClientRegistry([JOURNAL]), logger, upstream })
    await app.listen({ port, host: '127.0.0.1' })

    const driver = await startChild('driver', {
      bridgeUrl,
      clientId: JOURNAL.client_id,
      clientSecret: JOURNAL.client_secret,
      redirectUri: JOURNAL.redirect_uris[0]!,
      people: personas.map((p) => ({ persona: p.id, journalUserId: p.journalCards[0]! })),
    })
    ctx.print(`bridge ${bridgeUrl} (LOG_LEVEL=${logLevel}, pool of 10), mock ЕСИА ${mockUrl}, driver: 3 processes on ${os.cpus().length} CPUs; load average before ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)

    try {
      // What the bridge spends doing nothing (timers, housekeeping, background compilation), so a slow
      // phase's CPU per login can be read net of it.
      const idle0 = process.cpuUsage()
      await new Promise((r) => setTimeout(r, 3000))
      const idle = process.cpuUsage(idle0)
      ctx.print(`bridge idle: ${((idle.user + idle.system) / 3000).toFixed(2)} ms of CPU per second`)
      await phase(ctx, `first logins (auto-link by strong evidence), ${people} people, concurrency 8`, mock, driver, { mode: 'closed', logins: people, concurrency: 8 })
      const linked = (await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM links WHERE journal_user_id LIKE 'bench-person-%' AND method = 'auto'`)).rows[0]!.n
      ctx.print(`  → ${linked} cards linked automatically`)
      await driver.ask({ type: 'run', run: { mode: 'closed', logins: Math.min(1000, logins), concurrency } }, 'result')
      ctx.print('warm-up: done (not counted)')
      const profiler = ctx.option('profile', 0) ? await startProfiler() : undefined
      const full = await phase(ctx, `returning logins at full speed, concurrency ${concurrency}`, mock, driver, { mode: 'closed', logins, concurrency })
      if (profiler) ctx.print(`  CPU profile of the bridge during this phase: ${await profiler.stop()}`)
      await phase(ctx, `returning logins paced at ${rate}/s for ${seconds} s`, mock, driver, { mode: 'paced', rate, seconds })
      // A rate the three processes cannot sustain only measures a growing queue; the callback's own
      // latency shows at a rate they can.
      const sustainable = Math.floor(full.logins / full.seconds / 2)
      if (sustainable < rate) {
        ctx.print(`  (above what this machine sustains with the mock and the driver on it: ${Math.round(full.logins / full.seconds)} logins/s at full speed; the queue, not the callback, makes that latency)`)
        await phase(ctx, `returning logins paced at ${sustainable}/s (half of full speed) for ${seconds} s`, mock, driver, { mode: 'paced', rate: sustainable, seconds })
      }
      ctx.print(`the unavoidable part: ES256 sign of our ID token ${ms(await es256Cost(app))}`)
      cryptoFloor(ctx)
      ctx.print(`load average after ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine inflates every figure)`)
      ctx.print('targets (DESIGN.md §Service levels): ≤ 1.2 ms bridge CPU per login · ≥ 1 000 logins/s · p99 callback ≤ 20 ms at 500 logins/s')
    } finally {
      driver.process.kill()
      mock.process.kill()
      await app.close()
    }
  },
}
export default bench
