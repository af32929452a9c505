import pg from 'pg'
import { connectionFailed } from './failures.js'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient

// `date` columns stay 'YYYY-MM-DD' strings: a birth date is a calendar day, not an instant, and
// converting it through a JS Date in a non-UTC zone would shift it by a day.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value)
// bigint ids and counts fit in a JS number for any realistic table.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

/**
 * How long the bridge waits on PostgreSQL before it answers 503 (src/http/unavailable.ts): a
 * database that is down or unreachable must cost a request seconds, not hang it and the pool.
 */
export interface DatabaseTimeouts {
  /** For a connection: a new one, or a free one when all are busy. */
  connectMs: number
  /**
   * For one statement: the server cancels it then (statement_timeout), and the client stops waiting
   * a second later even if the server never answers (a network that drops packets). The longest
   * statement of a request is far below it; imports use their own connection without it.
   */
  statementMs: number
}
export const DATABASE_TIMEOUTS: DatabaseTimeouts = { connectMs: 3000, statementMs: 30_000 }

export function createPool(connectionString: string, max = 10, timeouts: DatabaseTimeouts = DATABASE_TIMEOUTS): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: timeouts.connectMs,
    statement_timeout: timeouts.statementMs,
    query_timeout: timeouts.statementMs + 1000,
    // A connection whose server vanished without a word is found out by TCP keep-alive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'esia-bridge',
    // JIT compilation pays off for long analytical queries only; here it added ~110 ms to the
    // whole-directory completeness report and nothing to the short statements of the login path.
    options: '-c jit=off',
  })
  // An idle client losing its server (restart, failover) must not crash the process; the pool
  // drops it and the next query gets a fresh connection.
  pool.on('error', () => {})
  return pool
}

/**
 * Runs `fn` in one transaction on one client. Functions that must run inside a transaction take
 * the client as an argument, so the boundary is visible at the call site.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    // A connection that failed under the transaction is dropped, not given back to the pool: a
    // ROLLBACK would wait on it in vain, and so would the next request. The server rolls back a
    // transaction whose connection is gone.
    if (connectionFailed(err)) broken = err as Error
    else await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release(broken)
  }
}
