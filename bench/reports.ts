import { createWriteStream, createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { buildApp } from '../src/app.js'
import { buildConfig, parseEnv } from '../src/config.js'
import { createPool } from '../src/db/pool.js'
import { upsertOrganization } from '../src/directory/cards.js'
import { importDirectory } from '../src/directory/import/import.js'
import { freePort } from '../src/http/free-port.js'
import { createLogger, logDestination } from '../src/logging.js'
import { seedDemoDirectory } from '../src/mock-idp/seed-demo-directory.js'
import { ClientRegistry } from '../src/oidc-provider/clients.js'
import type { BenchModule } from './lib/context.js'
import { measure } from './lib/measure.js'
import { SYNTHETIC_ORGANIZATIONS, organizationId, syntheticJournalCsv } from './lib/synthetic-journal.js'

/**
 * «Контроль заполнения данных» right after a region's nightly import (docs/performance.md, «Service levels»): a
 * directory that already holds the demo cards takes N synthetic cards (2 000 000 by default,
 * `--rows=N` or BENCH_ROWS), a quarter of them in one school, with the usual defects (missing
 * SNILS, wrong check digits kept, shared SNILS, missing dates, people without a patronymic).
 * Autovacuum is off on the directory's tables and nobody runs ANALYZE: what the import leaves is
 * what the reports get. Then, at once and again warm, over HTTP as support would ask: the
 * whole-directory report, the largest school's report, the first page of its problem list and its
 * CSV (warm: the best of three). A request that does not answer within `--client-timeout-s` (60)
 * counts as no answer.
 */
const SECRETS = {
  snilsHmacKey: 'bench-reports-snils-hmac-key-0123456789abcdef01',
  cookieSecret: 'bench-reports-cookie-secret-0123456789abcdef012',
  keysEncryptionKey: 'bench-reports-keys-encryption-key-0123456789ab',
}
const TOKEN = 'bench-reports-bootstrap-admin-token-0123456789'
const LARGEST_SHARE = 0.25

const TARGETS = [
  { key: 'whole', what: 'whole-directory report', targetMs: 1000 },
  { key: 'org', what: 'largest organisation’s report', targetMs: 100 },
  { key: 'page', what: 'its problem list, first page', targetMs: 300 },
  { key: 'csv', what: 'its problem list as CSV', targetMs: 5000 },
] as const
type Key = (typeof TARGETS)[number]['key']

interface Timed {
  ms: number
  status: number | 'no answer'
  bytes: number
}

async function timedGet(url: string, timeoutMs: number): Promise<Timed> {
  const t0 = performance.now()
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(timeoutMs) })
    const body = await res.arrayBuffer()
    return { ms: performance.now() - t0, status: res.status, bytes: body.byteLength }
  } catch {
    return { ms: performance.now() - t0, status: 'no answer', bytes: 0 }
  }
}

const bench: BenchModule = {
  description: 'completeness reports right after a big import, no manual ANALYZE, autovacuum off — options: --rows=N (2000000), --client-timeout-s=60',
  async run(ctx) {
    const rows = ctx.option('rows', 2_000_000)
    const clientTimeoutMs = ctx.option('client-timeout-s', 60) * 1000
    await seedDemoDirectory(ctx.pool, SECRETS.snilsHmacKey)
    for (let i = 0; i < SYNTHETIC_ORGANIZATIONS; i++) {
      await upsertOrganization(ctx.pool, { id: organizationId(i), name: `Школа № ${i + 1}`, kind: 'school', municipality: 'Бенчмарк' })
    }
    // As on a busy primary where autovacuum is off (or has not come round yet).
    for (const table of ['journal_users', 'journal_user_relations', 'organizations']) await ctx.pool.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`)

    const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-bench-reports-'))
    const file = path.join(dir, 'journal.csv')
    const pool = createPool(ctx.databaseUrl)
    const port = await freePort()
    const config = buildConfig(
      parseEnv({ NODE_ENV: 'development', PUBLIC_URL: `http://127.0.0.1:${port}`, DATABASE_URL: ctx.databaseUrl, IDP_KIND: 'mock', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_TOKEN: TOKEN }),
      SECRETS,
    )
    const app = await buildApp({ config, pool, clients: new ClientRegistry([]), logger: createLogger('warn', logDestination('/dev/null')) })
    try {
      await pipeline(Readable.from(syntheticJournalCsv({ rows, largestShare: LARGEST_SHARE })), createWriteStream(file))
      const imported = await measure(() =>
        importDirectory(ctx.pool, createReadStream(file, { highWaterMark: 256 * 1024 }), { format: 'csv', snilsKey: SECRETS.snilsHmacKey, keepInvalidSnils: true, actor: { kind: 'system', id: 'bench' } }),
      )
      const r = imported.result
      const cards = (await ctx.pool.query<{ n: number; largest: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE organization_id = $1)::int AS largest FROM journal_users`, [organizationId(0)])).rows[0]!
      ctx.print(`import of ${rows.toLocaleString('en')} rows into a directory of demo cards: ${imported.seconds.toFixed(1)} s (inserted ${r.inserted}, rejected ${r.rejected}); ${cards.n.toLocaleString('en')} cards, the largest school ${cards.largest.toLocaleString('en')}`)
      const it = r.timings
      ctx.print(`  waiting for the file ${(it.reading_ms / 1000).toFixed(1)} s · COPY ${(it.copy_ms / 1000).toFixed(1)} s · checks ${(it.checks_ms / 1000).toFixed(1)} s · merge ${(it.merge_ms / 1000).toFixed(1)} s · finish (ANALYZE, commit, VACUUM) ${(it.finish_ms / 1000).toFixed(1)} s; load average ${os.loadavg()[0]!.toFixed(1)}`)

      await app.listen({ port, host: '127.0.0.1' })
      const base = `http://127.0.0.1:${port}`
      const org = organizationId(0)
      const urls: Record<Key, string> = {
        whole: `${base}/api/v1/directory/reports/completeness`,
        org: `${base}/api/v1/directory/reports/completeness?organization_id=${org}`,
        page: `${base}/api/v1/admin/completeness/problems?organization_id=${org}`,
        csv: `${base}/api/v1/admin/completeness/problems.csv?organization_id=${org}`,
      }
      const results: Record<'cold' | 'warm', Partial<Record<Key, Timed>>> = { cold: {}, warm: {} }
      for (const pass of ['cold', 'warm'] as const) {
        for (const { key, what } of TARGETS) {
          // Warm: the best of three, so that other work on the machine weighs less.
          let t = await timedGet(urls[key], clientTimeoutMs)
          for (let i = 1; pass === 'warm' && t.status === 200 && i < 3; i++) {
            const again = await timedGet(urls[key], clientTimeoutMs)
            if (again.status === 200 && again.ms < t.ms) t = again
          }
          results[pass][key] = t
          ctx.print(`${pass}: ${what}: ${t.status === 'no answer' ? `no answer in ${clientTimeoutMs / 1000} s` : `${t.ms.toFixed(0)} ms (HTTP ${t.status}, ${(t.bytes / 1024).toFixed(0)} KB)`}`)
        }
      }
      const running = (await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)).rows[0]!.n
      ctx.print(`queries still running afterwards: ${running}`)
      ctx.print('')
      ctx.print(`service levels (docs/performance.md), ${cards.n.toLocaleString('en')} cards${rows === 2_000_000 ? '' : ` — NOTE: the targets are for 2,000,000`}:`)
      ctx.print(`  ${'what'.padEnd(34)} ${'cold'.padStart(12)} ${'warm'.padStart(12)}   target`)
      const shown = (t: Timed | undefined) => (!t ? '—' : t.status === 'no answer' ? `> ${clientTimeoutMs / 1000} s` : t.status !== 200 ? `HTTP ${t.status}` : `${t.ms.toFixed(0)} ms`)
      for (const { key, what, targetMs } of TARGETS) {
        const cold = results.cold[key]
        const met = cold && cold.status === 200 && cold.ms <= targetMs
        ctx.print(`  ${what.padEnd(34)} ${shown(cold).padStart(12)} ${shown(results.warm[key]).padStart(12)}   ≤ ${targetMs >= 1000 ? `${targetMs / 1000} s` : `${targetMs} ms`} ${met ? 'met' : 'NOT MET'}`)
      }
    } finally {
      await app.close()
      await pool.end()
      await rm(dir, { recursive: true, force: true })
    }
  },
}
export default bench
