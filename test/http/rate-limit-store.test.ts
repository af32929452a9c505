import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../../src/db/pool.js'
import { SharedRateLimitCounters } from '../../src/http/rate-limit-store.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { untilEarlyInMinute } from '../helpers/clock.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

const MINUTE = 60_000
/** Half a minute into a window, so a test never straddles two. */
const midWindow = () => Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE / 2

describe('rate-limit counters shared through PostgreSQL', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db?.drop())

  it('adds the counts of every instance, so two instances allow the limit once between them', async () => {
    const a = new SharedRateLimitCounters(db.pool, { flushMs: 60_000 })
    const b = new SharedRateLimitCounters(db.pool, { flushMs: 60_000 })
    const now = midWindow()
    for (let i = 0; i < 6; i++) a.hit('GET /oauth2/authorize', '203.0.113.7', MINUTE, now)
    for (let i = 0; i < 5; i++) b.hit('GET /oauth2/authorize', '203.0.113.7', MINUTE, now)
    await a.flush()
    await b.flush()
    // B flushed second and learned both instances' hits; A learns them when it next adds its own.
    expect(b.hit('GET /oauth2/authorize', '203.0.113.7', MINUTE, now).current).toBe(12)
    expect(a.hit('GET /oauth2/authorize', '203.0.113.7', MINUTE, now).current).toBe(7)
    await a.flush()
    expect(a.hit('GET /oauth2/authorize', '203.0.113.7', MINUTE, now).current).toBe(13)
    await Promise.all([a.close(), b.close()])
    const { rows } = await db.pool.query<{ hits: number }>('SELECT sum(hits)::int AS hits FROM rate_limit_hits')
    expect(rows[0]!.hits).toBe(14)
  })

  it('counts routes and clients apart, and keeps no client address in the database', async () => {
    const c = new SharedRateLimitCounters(db.pool, { flushMs: 60_000 })
    const now = midWindow()
    c.hit('GET /auth/callback', '198.51.100.1', MINUTE, now)
    c.hit('GET /auth/callback', '198.51.100.1', MINUTE, now)
    expect(c.hit('GET /auth/callback', '198.51.100.2', MINUTE, now).current).toBe(1)
    expect(c.hit('POST /admin/login', '198.51.100.1', MINUTE, now).current).toBe(1)
    await c.close()
    const { rows } = await db.pool.query<{ bucket: string }>('SELECT bucket FROM rate_limit_hits')
    expect(rows.map((r) => r.bucket).join(' ')).not.toMatch(/198\.51|callback|admin/)
  })

  it('aligns windows to the clock, so instances agree on when a window ends', () => {
    const c = new SharedRateLimitCounters(db.pool)
    const start = Math.floor(Date.now() / MINUTE) * MINUTE
    expect(c.hit('x', 'k', MINUTE, start + 15_000)).toEqual({ current: 1, ttl: 45_000 })
    expect(c.hit('x', 'k', MINUTE, start + MINUTE + 1)).toEqual({ current: 1, ttl: MINUTE - 1 })
  })

  it('keeps counting per instance while PostgreSQL is unreachable, and never throws at a request', async () => {
    const unreachable = createPool('postgres://nobody@127.0.0.1:1/none')
    const warnings: string[] = []
    const c = new SharedRateLimitCounters(unreachable, { flushMs: 60_000, log: { warn: (_o: unknown, m?: string) => void warnings.push(m ?? ''), info: () => {} } })
    const now = midWindow()
    for (let i = 0; i < 4; i++) c.hit('GET /oauth2/authorize', 'k', MINUTE, now)
    await c.flush()
    await c.flush()
    expect(c.hit('GET /oauth2/authorize', 'k', MINUTE, now).current).toBe(5)
    expect(warnings).toHaveLength(1)
    await c.close()
    await unreachable.end()
  })

  it('flooded with more keys than it keeps, forgets the smallest counts and never a key near its limit', async () => {
    const c = new SharedRateLimitCounters(db.pool, { flushMs: 60_000, maxKeys: 10 })
    const now = midWindow()
    const hit = (key: string) => c.hit('GET /oauth2/authorize', key, MINUTE, now, 20)
    for (let i = 0; i < 15; i++) hit('attacker')
    await c.flush()
    // Thirty fresh addresses, one hit each (any IPv6 /64 holds more than anyone needs).
    for (let i = 0; i < 30; i++) hit(`fresh-${i}`)
    await c.flush()
    // The flushes dropped fresh keys, not the one being limited: it is still judged on its total.
    expect(hit('attacker').current).toBe(16)
    await c.close()
  })

  it('flushes concurrently from several instances without deadlocks or lost counts', async () => {
    await db.pool.query('DELETE FROM rate_limit_hits')
    const instances = Array.from({ length: 4 }, () => new SharedRateLimitCounters(db.pool, { flushMs: 60_000 }))
    const now = midWindow()
    const keys = Array.from({ length: 200 }, (_, i) => `client-${i}`)
    for (const [n, counters] of instances.entries()) {
      // Each instance sees the clients in another order.
      for (const key of n % 2 ? [...keys].reverse() : keys) counters.hit('GET /auth/callback', key, MINUTE, now)
    }
    await Promise.all(instances.map((c) => c.flush()))
    const { rows } = await db.pool.query<{ rows: number; hits: number }>('SELECT count(*)::int AS rows, sum(hits)::int AS hits FROM rate_limit_hits')
    expect(rows[0]).toEqual({ rows: 200, hits: 800 })
    await Promise.all(instances.map((c) => c.close()))
  })
})

describe('the public endpoints limited across two instances of the bridge', () => {
  let db: TestDatabase
  let a: TestApp
  let b: TestApp
  beforeAll(async () => {
    db = await createTestDatabase()
    a = await buildTestApp({ db, env: { RATE_LIMIT_PER_MINUTE: '10' } })
    b = await buildTestApp({ db, env: { RATE_LIMIT_PER_MINUTE: '10' } })
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await db?.drop()
  })

  it('refuses a client that spent the limit on the other instance, from its next flush on', async () => {
    // Counts start again with each clock minute: begin early in one.
    await untilEarlyInMinute()
    const hits = async () => (await db.pool.query<{ n: number }>('SELECT coalesce(sum(hits), 0)::int AS n FROM rate_limit_hits')).rows[0]!.n
    const probe = (t: TestApp, ip = '192.0.2.44') => t.app.inject({ url: '/no/such/page', remoteAddress: ip })
    for (let i = 0; i < 10; i++) expect((await probe(b)).statusCode).toBe(404)
    expect((await probe(b)).statusCode).toBe(429)
    await expect.poll(hits, { timeout: 10_000 }).toBe(11)
    // Instance A has not counted this client yet: it learns the shared total when it adds its own
    // hit, within a second, and refuses from then on.
    expect((await probe(a)).statusCode).toBe(404)
    await expect.poll(hits, { timeout: 10_000 }).toBe(12)
    expect((await probe(a)).statusCode).toBe(429)
    expect((await probe(a, '192.0.2.45')).statusCode).toBe(404)
  }, 90_000)

  it('counts the addresses of one IPv6 /64 as one client', async () => {
    await untilEarlyInMinute()
    const probe = (ip: string) => a.app.inject({ url: '/no/such/page', remoteAddress: ip })
    for (let i = 1; i <= 10; i++) expect((await probe(`2001:db8:5:6::${i.toString(16)}`)).statusCode).toBe(404)
    expect((await probe('2001:db8:5:6:ffff:1:2:3')).statusCode).toBe(429)
    expect((await probe('2001:db8:5:7::1')).statusCode).toBe(404)
  }, 90_000)
})
