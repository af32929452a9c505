import { readdir } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { createPool, DATABASE_TIMEOUTS } from '../src/db/pool.js'
import type { BenchContext, BenchModule } from './lib/context.js'
import { databaseCpu, freshDatabase, serverSettings, startBenchServer } from './lib/database.js'

/**
 * `npm run bench [-- NAME… --option=value…]`: runs every benchmark module in bench/ (or the ones
 * named), each on a fresh database — DATABASE_URL's server when set, else an embedded PostgreSQL in
 * a temporary directory. Benchmarks print figures; they never pass or fail on time.
 */
const here = fileURLToPath(new URL('.', import.meta.url))
const args = process.argv.slice(2)
const options = new Map<string, string>()
for (const a of args.filter((x) => x.startsWith('--'))) {
  const [k, v = ''] = a.slice(2).split('=', 2)
  options.set(k!, v)
}
const named = args.filter((a) => !a.startsWith('--'))
const available = (await readdir(here)).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3)).sort()
const unknown = named.filter((n) => !available.includes(n))
if (unknown.length > 0) {
  process.stderr.write(`Unknown benchmark(s): ${unknown.join(', ')}. Available: ${available.join(', ')}\n`)
  process.exit(2)
}

const server = await startBenchServer()
const databaseCpuSeconds = await databaseCpu(server)
process.stdout.write(`esia-bridge benchmarks — node ${process.version}, ${os.cpus().length} CPUs; PostgreSQL from ${server.kind}\n${await serverSettings(server)}\n`)
try {
  for (const name of named.length > 0 ? named : available) {
    const mod = (await import(`./${name}.ts`)) as { default: BenchModule }
    process.stdout.write(`\n== ${name}: ${mod.default.description}\n`)
    const db = await freshDatabase(server, name)
    // Generating a region's directory is one statement of minutes, beyond the service's own timeout.
    const pool = createPool(db.url, 10, { ...DATABASE_TIMEOUTS, statementMs: 30 * 60_000 })
    const ctx: BenchContext = {
      databaseUrl: db.url,
      pool,
      server: server.kind,
      databaseCpuSeconds,
      option(option, fallback) {
        const raw = options.get(option) ?? process.env[`BENCH_${option.toUpperCase()}`]
        const value = raw === undefined ? fallback : Number(raw.replace(/_/g, ''))
        if (!Number.isFinite(value)) throw new Error(`--${option} must be a number`)
        return value
      },
      print: (line) => void process.stdout.write(`   ${line}\n`),
    }
    try {
      await mod.default.run(ctx)
    } finally {
      await pool.end()
      await db.drop()
    }
  }
} finally {
  await server.stop()
}
