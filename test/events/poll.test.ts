import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import type { ClientFileEntry } from '../../src/oidc-provider/clients.js'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, type TestApp } from '../helpers/app.js'
import { BOOTSTRAP, seedSchools } from '../admin/fixtures.js'
import { NOTIFY_CHANNEL } from '../../src/events/outbox.js'
import { MAX_LONG_POLLS_PER_CLIENT } from '../../src/events/poll.js'
import { untilEarlyInMinute } from '../helpers/clock.js'
import { verifySet } from './receiver.js'

/**
 * A journal that cannot be called polls for its events (RFC 8936): it receives its unacknowledged
 * SETs, acknowledges what it processed, reports what it refused, and long-polls when nothing waits.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const POLLING: ClientFileEntry & { client_secret: string } = {
  client_id: 'journal-poll',
  name: 'Журнал за межсетевым экраном',
  client_secret: 'journal-poll-secret-0123456789abcdef0123456789',
  redirect_uris: ['https://poll.journal.example/auth/callback'],
  events_delivery: 'poll',
}

describe('POST /api/v1/events (RFC 8936 poll)', () => {
  let t: TestApp
  const poll = (payload: object, client: { client_id: string; client_secret: string } = POLLING) =>
    t.app.inject({ method: 'POST', url: '/api/v1/events', headers: { authorization: journalBasicAuth(client) }, payload })
  const link = (journalUserId: string, upstreamSubject: string) =>
    withTransaction(t.db.pool, (tx) => saveLink(tx, { journalUserId, upstreamSubject, method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: upstreamSubject } }))
  const verified = (sets: Record<string, string>) => Promise.all(Object.entries(sets).map(async ([jti, set]) => ({ jti, ...(await verifySet(t.app, set, POLLING.client_id)) })))

  beforeAll(async () => {
    t = await buildTestApp({ clients: [JOURNAL_CLIENT, POLLING] })
    // Two links: two SETs wait for the polling journal.
    await seedSchools(t.db.pool)
  })
  afterAll(async () => t.close())

  it('answers only the client that polls, with its own credentials', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/events', payload: {} })).statusCode).toBe(401)
    expect((await poll({}, { client_id: POLLING.client_id, client_secret: 'wrong-secret-0123456789abcdef0123456789' })).statusCode).toBe(401)
    const push = await poll({ returnImmediately: true }, JOURNAL_CLIENT)
    expect(push.statusCode).toBe(403)
    expect(push.json().error).toBe('poll_not_enabled')
  })

  it('returns the waiting SETs, oldest first, keyed by jti, and says when more are available', async () => {
    const first = await poll({ maxEvents: 1, returnImmediately: true })
    expect(first.statusCode).toBe(200)
    expect(first.headers['cache-control']).toBe('no-store')
    const body = first.json()
    expect(body.moreAvailable).toBe(true)
    const [set] = await verified(body.sets)
    expect(set!.payload.jti).toBe(set!.jti)
    expect(set!.type).toBe('urn:esia-bridge:event:link-created')
    expect(set!.event).toMatchObject({ journal_user_id: 'a-parent-ivanova', method: 'link' })

    const all = (await poll({ returnImmediately: true })).json()
    expect(Object.keys(all.sets)).toHaveLength(2)
    expect(all.moreAvailable).toBe(false)
    // Not acknowledged: the first one comes again.
    expect(Object.keys(all.sets)[0]).toBe(set!.jti)
  })

  it('acknowledged SETs are not sent again; refused ones are kept as failed with the journal’s error', async () => {
    const [a, b] = Object.keys((await poll({ returnImmediately: true })).json().sets)
    const res = await poll({ maxEvents: 0, ack: [a], setErrs: { [b!]: { err: 'invalid_request', description: 'unknown journal user' } } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ sets: {}, moreAvailable: false })
    expect((await poll({ returnImmediately: true })).json()).toEqual({ sets: {}, moreAvailable: false })
    const { rows } = await t.db.pool.query(`SELECT jti, status, last_error FROM event_outbox WHERE client_id = $1 ORDER BY id`, [POLLING.client_id])
    expect(rows).toEqual([
      { jti: a, status: 'delivered', last_error: null },
      { jti: b, status: 'failed', last_error: 'invalid_request: unknown journal user' },
    ])
    // Someone else's jti, or a string that is no jti at all, changes nothing.
    expect((await poll({ maxEvents: 0, ack: ['not-a-jti', '00000000-0000-0000-0000-000000000000'] })).statusCode).toBe(200)
  })

  it('long-polls: with nothing waiting it holds the answer until a SET is queued', async () => {
    let answered = false
    const pending = poll({}).then((res) => {
      answered = true
      return res
    })
    await new Promise((r) => setTimeout(r, 800))
    expect(answered).toBe(false)
    const unlink = await t.app.inject({ method: 'POST', url: '/api/v1/admin/users/a-parent-ivanova/unlink', headers: BOOTSTRAP, payload: { reason: 'проверка' } })
    expect(unlink.statusCode).toBe(200)
    const res = await pending
    expect(res.statusCode).toBe(200)
    const sets = await verified(res.json().sets)
    expect(sets.map((s) => [s.type, s.event.by])).toEqual([['urn:esia-bridge:event:link-removed', 'support']])
    await poll({ maxEvents: 0, ack: sets.map((s) => s.jti) })
  })

  it('a long poll that is waiting ends when a change is committed by another statement too, and not for a rolled-back one', async () => {
    const pending = poll({})
    await new Promise((r) => setTimeout(r, 300))
    await withTransaction(t.db.pool, async (tx) => {
      await saveLink(tx, { journalUserId: 'a-parent-smirnov', upstreamSubject: '1000020', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000020' } })
      throw new Error('rolled back')
    }).catch(() => undefined)
    await link('a-staff-kuznetsova', '1000021')
    const sets = await verified((await pending).json().sets)
    expect(sets.map((s) => s.event.journal_user_id)).toEqual(['a-staff-kuznetsova'])
  })

  it('a SET queued while several long polls of one journal wait is read once, for one of them', async () => {
    const waiting = (await poll({ returnImmediately: true })).json<{ sets: Record<string, string> }>()
    await poll({ maxEvents: 0, ack: Object.keys(waiting.sets) })
    const answered: number[] = []
    const polls = [0, 1, 2].map((i) => poll({}).then((res) => (answered.push(i), res)))
    await sleep(500)
    await link('a-parent-smirnov', '1000022')
    await expect.poll(() => answered.length).toBe(1)
    await sleep(300)
    expect(answered).toHaveLength(1)
    const sets = await verified((await polls[answered[0]!]!).json().sets)
    expect(sets.map((s) => s.event.journal_user_id)).toEqual(['a-parent-smirnov'])
    const { rows } = await t.db.pool.query(`SELECT attempts FROM event_outbox WHERE client_id = $1 AND journal_user_id = 'a-parent-smirnov'`, [POLLING.client_id])
    expect(rows).toEqual([{ attempts: 1 }])
    // Each later notification wakes the next poll, which finds the SET still unacknowledged.
    for (let i = 0; i < 2; i++) await t.db.pool.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, POLLING.client_id])
    for (const res of await Promise.all(polls)) expect(Object.keys(res.json().sets)).toEqual([sets[0]!.jti])
    await poll({ maxEvents: 0, ack: [sets[0]!.jti] })
  })

  it(`holds at most ${MAX_LONG_POLLS_PER_CLIENT} long polls of one journal on an instance: one more answers at once`, async () => {
    const held = Array.from({ length: MAX_LONG_POLLS_PER_CLIENT }, () => poll({}))
    let heldAnswered = false
    void Promise.race(held).then(() => (heldAnswered = true))
    await sleep(500)
    const beyond = await poll({})
    expect(beyond.statusCode).toBe(200)
    expect(beyond.json()).toEqual({ sets: {}, moreAvailable: false })
    expect(heldAnswered).toBe(false)
    await link('a-parent-ivanova', '1000023')
    for (let i = 1; i < MAX_LONG_POLLS_PER_CLIENT; i++) await t.db.pool.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, POLLING.client_id])
    for (const res of await Promise.all(held)) expect(Object.keys(res.json().sets)).toHaveLength(1)
  })

  it('refuses a malformed request with 400', async () => {
    for (const payload of [{ maxEvents: -1 }, { ack: [{}] }, { returnImmediately: 'soon' }, { setErrs: { x: { description: 'no err' } } }]) {
      expect((await poll(payload)).statusCode, JSON.stringify(payload)).toBe(400)
    }
  })
})

describe('POST /api/v1/events under the per-address limit', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ clients: [POLLING], env: { RATE_LIMIT_PER_MINUTE: '5' } })
  })
  afterAll(async () => t.close())

  it('answers 429 beyond RATE_LIMIT_PER_MINUTE polls a minute from one address, with the client\'s credentials or without', async () => {
    await untilEarlyInMinute()
    const poll = (authorization: string) =>
      t.app.inject({ method: 'POST', url: '/api/v1/events', remoteAddress: '198.51.100.9', headers: { authorization }, payload: { returnImmediately: true } })
    for (let i = 0; i < 4; i++) expect((await poll(journalBasicAuth(POLLING))).statusCode).toBe(200)
    expect((await poll(journalBasicAuth({ client_id: POLLING.client_id, client_secret: 'guessed-0123456789abcdef0123456789' }))).statusCode).toBe(401)
    expect((await poll(journalBasicAuth(POLLING))).statusCode).toBe(429)
  }, 90_000)
})
