import pg from 'pg'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient

// `date` columns stay 'YYYY-MM-DD' strings: a birth date is a calendar day, not an instant, and
// converting it through a JS Date in a non-UTC zone would shift it by a day.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value)
// bigint ids and counts fit in a JS number for any realistic table.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
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
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
