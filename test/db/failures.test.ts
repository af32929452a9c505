import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectionFailed, databaseUnavailable } from '../../src/db/failures.js'
import { createPool, withTransaction } from '../../src/db/pool.js'
import { unavailablePart } from '../../src/http/unavailable.js'
import { UpstreamError } from '../../src/upstream/types.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

/**
 * Which failures mean «the database cannot serve now» (a 503) and which are ours (a 500), told
 * from real errors of node-postgres, and what the pool does with a connection that failed.
 */
describe('database failures, as node-postgres reports them', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db.drop())

  const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err)

  it('nobody listening, or a connection cut: the connection failed', async () => {
    const nowhere = createPool('postgres://postgres@127.0.0.1:1/none', 1, { connectMs: 500, statementMs: 500 })
    const refused = await failure(nowhere.query('SELECT 1'))
    await nowhere.end()
    expect(connectionFailed(refused)).toBe(true)
    const killed = await failure(withTransaction(db.pool, (tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())')))
    expect(connectionFailed(killed)).toBe(true)
    expect(unavailablePart(killed)).toBe('database')
  })

  it('a statement over its timeout is unavailable, though its connection lives on', async () => {
    const slow = await failure(withTransaction(db.pool, async (tx) => {
      await tx.query(`SET LOCAL statement_timeout = '50ms'`)
      await tx.query('SELECT pg_sleep(1)')
    }))
    expect({ unavailable: databaseUnavailable(slow), failed: connectionFailed(slow) }).toEqual({ unavailable: true, failed: false })
  })

  it('our own mistakes and the data\'s conflicts are not outages', async () => {
    expect(databaseUnavailable(await failure(db.pool.query('SELEC 1')))).toBe(false)
    expect(databaseUnavailable(await failure(db.pool.query(`SELECT 'x'::int`)))).toBe(false)
    expect(databaseUnavailable(await failure(db.pool.query(`INSERT INTO organizations (id, name, kind) VALUES ('o', 'О', 'school'), ('o', 'О', 'school')`)))).toBe(false)
    expect(unavailablePart(new Error('Cannot read properties of undefined'))).toBeUndefined()
  })

  it('the upstream counts only when it says it is unavailable; a cause is followed', () => {
    expect(unavailablePart(new UpstreamError('unavailable', 'ESIA-007008', 'overloaded'))).toBe('upstream')
    expect(unavailablePart(new UpstreamError('invalid_response', 'token_expired', 'expired'))).toBeUndefined()
    expect(unavailablePart(new Error('while saving', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }))).toBe('database')
  })

  it('a transaction whose connection stalls is dropped, and the pool serves the next one on a fresh connection', async () => {
    const proxy = await TcpProxy.start(db.url)
    const pool = createPool(proxy.urlFor(db.url), 1, { connectMs: 500, statementMs: 300 })
    try {
      await pool.query('SELECT 1')
      proxy.stall()
      const stalled = await failure(withTransaction(pool, (tx) => tx.query('SELECT 1')))
      expect(connectionFailed(stalled)).toBe(true)
      await proxy.open()
      expect((await withTransaction(pool, (tx) => tx.query<{ n: number }>('SELECT 2 AS n'))).rows).toEqual([{ n: 2 }])
    } finally {
      await pool.end()
      await proxy.close()
    }
  })
})
