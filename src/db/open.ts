import path from 'node:path'
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js'
import { migrate } from './migrate.js'
import { createPool, type Pool } from './pool.js'

export interface OpenedDatabase {
  url: string
  pool: Pool
  /** True when this process started the embedded PostgreSQL under DATA_DIR. */
  embedded: boolean
  close(): Promise<void>
}

/** The embedded server could not start; usually another process (the service) owns DATA_DIR. */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError'
}

/**
 * The database the service uses, opened the same way by the server and every command-line tool:
 * DATABASE_URL when set, otherwise the embedded PostgreSQL under DATA_DIR/pg (created on first
 * use); migrations applied either way.
 */
export async function openDatabase(opts: { databaseUrl: string | undefined; dataDir: string; poolSize?: number; log?: (msg: string) => void }): Promise<OpenedDatabase> {
  let embedded: EmbeddedDatabase | undefined
  let url = opts.databaseUrl
  if (!url) {
    const dir = path.resolve(opts.dataDir, 'pg')
    opts.log?.(`DATABASE_URL is not set: starting the embedded PostgreSQL in ${dir} (development database)`)
    try {
      embedded = await startEmbeddedPostgres(dir, { ...(opts.log ? { notice: opts.log } : {}) })
    } catch (err) {
      if (err instanceof EmbeddedPostgresError) throw new DatabaseOpenError(`Could not start the embedded PostgreSQL: ${err.message}`, { cause: err })
      throw new DatabaseOpenError(
        `Could not start the embedded PostgreSQL under ${dir}: ${(err as Error).message}. ` +
          'If the service is running, stop it first (one server owns a data directory), or set DATABASE_URL.',
        { cause: err },
      )
    }
    url = embedded.url
  }
  try {
    await migrate(url)
  } catch (err) {
    await embedded?.stop()
    throw err
  }
  const pool = createPool(url, opts.poolSize)
  return {
    url,
    pool,
    embedded: embedded !== undefined,
    async close() {
      await pool.end()
      await embedded?.stop()
    },
  }
}
