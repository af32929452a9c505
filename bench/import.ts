import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { upsertOrganization } from '../src/directory/cards.js'
import { completenessReport, problemCards } from '../src/directory/completeness.js'
import { importDirectory } from '../src/directory/import/import.js'
import type { ImportReport } from '../src/directory/import/report.js'
import type { BenchModule } from './lib/context.js'
import { measure } from './lib/measure.js'
import { SYNTHETIC_ORGANIZATIONS, organizationId, syntheticJournalCsv } from './lib/synthetic-journal.js'

/**
 * Directory import (docs/performance.md, «Service levels»: 2 000 000 CSV rows ≤ 60 s with flat memory).
 * Writes a synthetic journal export to a temporary file (not timed), imports it into an empty
 * directory, then imports the same file again (everything unchanged).
 */
const SNILS_KEY = 'bench-snils-hmac-key-0123456789abcdef0123456789'

const bench: BenchModule = {
  description: 'batch import of a synthetic journal export (CSV, UTF-8), then the completeness report — options: --rows=N (2000000)',
  async run(ctx) {
    const rows = ctx.option('rows', 2_000_000)
    for (let i = 0; i < SYNTHETIC_ORGANIZATIONS; i++) {
      await upsertOrganization(ctx.pool, { id: organizationId(i), name: `Школа № ${i + 1}`, kind: 'school', municipality: 'Бенчмарк' })
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-bench-import-'))
    const file = path.join(dir, 'journal.csv')
    try {
      const written = await measure(() => pipeline(Readable.from(syntheticJournalCsv({ rows })), createWriteStream(file)))
      const size = (await stat(file)).size
      ctx.print(`generated ${rows.toLocaleString('en')} rows, ${(size / 1e6).toFixed(0)} MB in ${written.seconds.toFixed(1)} s (not counted)`)

      for (const label of ['first import (empty directory)', 're-import of the same file']) {
        const dbCpuBefore = ctx.databaseCpuSeconds?.()
        const run = await measure(() =>
          importDirectory(ctx.pool, createReadStream(file, { highWaterMark: 256 * 1024 }), {
            format: 'csv',
            snilsKey: SNILS_KEY,
            actor: { kind: 'system', id: 'bench' },
          }),
        )
        const r: ImportReport = run.result
        // An ended backend's CPU reaches the postmaster's total only once it has been reaped.
        if (dbCpuBefore !== undefined) await new Promise((resolve) => setTimeout(resolve, 1000))
        const dbCpu = dbCpuBefore === undefined ? 'n/a' : `${(ctx.databaseCpuSeconds!() - dbCpuBefore).toFixed(1)} s`
        ctx.print(`${label}:`)
        ctx.print(`  ${Math.round(r.rows / run.seconds).toLocaleString('en')} rows/s, ${run.seconds.toFixed(1)} s total, peak RSS ${run.peakRssMb} MB (${run.startRssMb} MB before); CPU: node ${run.cpuSeconds.toFixed(1)} s, database ${dbCpu}`)
        ctx.print(`  inserted ${r.inserted}, updated ${r.updated}, unchanged ${r.unchanged}, rejected ${r.rejected} ${JSON.stringify(r.rejected_by_reason)}`)
        const t = r.timings
        ctx.print(`  database waiting for the file ${(t.reading_ms / 1000).toFixed(1)} s · COPY ${(t.copy_ms / 1000).toFixed(1)} s · checks ${(t.checks_ms / 1000).toFixed(1)} s · merge ${(t.merge_ms / 1000).toFixed(1)} s · finish ${(t.finish_ms / 1000).toFixed(1)} s`)
      }
      // Completeness report ≤ 1 s on the full directory; no manual ANALYZE: the import leaves fresh statistics.
      const report = await measure(() => completenessReport(ctx.pool))
      const page = await measure(() => problemCards(ctx.pool, { limit: 100 }))
      const school = await measure(() => completenessReport(ctx.pool, { organizationId: organizationId(0) }))
      ctx.print(
        `completeness report: all ${report.result.length} organisation×role rows ${report.seconds.toFixed(2)} s · one school ${school.seconds.toFixed(3)} s · first page of problem cards ${page.seconds.toFixed(3)} s`,
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
export default bench
