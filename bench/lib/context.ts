import type { Pool } from '../../src/db/pool.js'

/**
 * The contract between `bench/run.ts` and a benchmark module (`bench/<name>.ts`): the module's
 * default export is a `BenchModule`; the runner gives it a fresh migrated database and its options.
 */
export interface BenchContext {
  /** A fresh, migrated database of its own. */
  databaseUrl: string
  pool: Pool
  /** Which server it runs on, for the printout. */
  server: 'DATABASE_URL' | 'embedded'
  /** `--name=value` options from the command line (`npm run bench -- import --rows=100000`). */
  option(name: string, fallback: number): number
  /** CPU seconds the database server has used so far (see `databaseCpu`); undefined when not measurable. */
  databaseCpuSeconds: (() => number) | undefined
  /** Prints one line of results. */
  print(line: string): void
}

export interface BenchModule {
  description: string
  run(ctx: BenchContext): Promise<void>
}
