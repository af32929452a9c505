import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { removeLink, saveLink } from '../../src/linking/links.js'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, type TestApp } from '../helpers/app.js'
import { BOOTSTRAP, seedSchools, SCHOOL_A, type Seeded } from '../admin/fixtures.js'
import { outboxSettled, pushedEvents, startReceiver, verifySet, type Receiver } from './receiver.js'

/**
 * Link events pushed to a journal (RFC 8935): every way a link changes reaches the journal's
 * events_endpoint as exactly one Security Event Token of the right type, signed with the bridge's
 * keys; a journal that stumbles gets it again with backoff, one that refuses does not.
 */
const CREATED = 'urn:esia-bridge:event:link-created'
const REMOVED = 'urn:esia-bridge:event:link-removed'
const MOVED = 'urn:esia-bridge:event:link-moved'
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('link events pushed to the journal', () => {
  let t: TestApp
  let receiver: Receiver
  let seeded: Seeded
  const events = () => pushedEvents(t.app, receiver, '/events', JOURNAL_CLIENT.client_id)
  const admin = (url: string, payload: object) => t.app.inject({ method: 'POST', url: `/api/v1/admin${url}`, headers: BOOTSTRAP, payload })
  const personLinks = (journalUserId: string, upstreamSubject: string) =>
    withTransaction(t.db.pool, (tx) =>
      saveLink(tx, { journalUserId, upstreamSubject, method: 'link', evidence: ['last_name', 'first_name'], trusted: true, level: 'PR', actor: { kind: 'person', id: upstreamSubject } }),
    )

  beforeAll(async () => {
    receiver = await startReceiver()
    t = await buildTestApp({ clients: [{ ...JOURNAL_CLIENT, events_endpoint: `${receiver.url}/events` }] })
    seeded = await seedSchools(t.db.pool)
    await outboxSettled(t.app)
  })
  afterAll(async () => {
    await t.close()
    await receiver.close()
  })
  beforeEach(async () => {
    await outboxSettled(t.app)
    receiver.clear()
    receiver.answer(() => 202)
  })

  it('a person links: one link-created, with the card’s organisation and role and nothing personal', async () => {
    await personLinks('a-staff-kuznetsova-2', '1000010')
    await outboxSettled(t.app)
    const received = receiver.to('/events')
    expect(received).toHaveLength(1)
    expect(received[0]!.contentType).toBe('application/secevent+jwt')
    const { payload, type, event } = (await events())[0]!
    expect(type).toBe(CREATED)
    expect(event).toEqual({ journal_user_id: 'a-staff-kuznetsova-2', organization_id: SCHOOL_A.id, role: 'staff', method: 'link', trusted: true, at: expect.stringMatching(ISO) })
    expect(payload).toMatchObject({ iss: t.config.publicUrl, aud: JOURNAL_CLIENT.client_id, sub_id: { format: 'opaque', id: 'a-staff-kuznetsova-2' } })
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
    expect(payload).not.toHaveProperty('sub')
    expect(payload).not.toHaveProperty('nonce')
    const claims = Buffer.from(received[0]!.body.split('.')[1]!, 'base64url').toString('utf8')
    for (const personal of ['1000010', 'Кузнецова', 'Ольга']) expect(claims).not.toContain(personal)
  })

  it('support unlinks: one link-removed, by support, with a reason code and never support’s words', async () => {
    const res = await admin('/users/a-parent-ivanova/unlink', { reason: 'Мария Петровна сообщила, что привязан чужой аккаунт' })
    expect(res.statusCode).toBe(200)
    await outboxSettled(t.app)
    const received = await events()
    expect(received.map((e) => [e.type, e.event])).toEqual([[REMOVED, { journal_user_id: 'a-parent-ivanova', organization_id: SCHOOL_A.id, by: 'support', reason_code: 'unlinked', at: expect.stringMatching(ISO) }]])
    const claims = Buffer.from(receiver.to('/events')[0]!.body.split('.')[1]!, 'base64url').toString('utf8')
    for (const personal of ['Мария', 'чужой', '1000001']) expect(claims).not.toContain(personal)
  })

  it('support moves a link to another card: one link-moved, not a removal and a creation', async () => {
    const res = await admin('/users/b-parent-petrova/move-link', { to_journal_user_id: 'b-parent-sidorov', reason: 'Дубль карточки' })
    expect(res.statusCode).toBe(200)
    await outboxSettled(t.app)
    const received = await events()
    expect(received.map((e) => [e.type, e.payload.sub_id.id, e.event])).toEqual([
      [MOVED, 'b-parent-petrova', { from_journal_user_id: 'b-parent-petrova', to_journal_user_id: 'b-parent-sidorov', at: expect.stringMatching(ISO) }],
    ])
  })

  it('support links despite a mismatch («Связать вопреки расхождению»): one link-created with method support_override', async () => {
    const res = await admin(`/failed-attempts/${seeded.attempts.smirnovBirthDate}/link`, { reason: 'Проверили паспорт в школе' })
    expect(res.statusCode).toBe(200)
    await outboxSettled(t.app)
    const received = await events()
    expect(received.map((e) => [e.type, e.event])).toEqual([[CREATED, { journal_user_id: 'a-parent-smirnov', organization_id: SCHOOL_A.id, role: 'parent', method: 'support_override', trusted: true, at: expect.stringMatching(ISO) }]])
  })

  it('a link replaced by another account: link-removed (by: replaced), then link-created, in that order', async () => {
    await personLinks('a-staff-kuznetsova-2', '1000011')
    await outboxSettled(t.app)
    const received = await events()
    expect(received.map((e) => [e.type, e.event.by ?? e.event.method])).toEqual([[REMOVED, 'replaced'], [CREATED, 'link']])
    expect(received[0]!.event).toMatchObject({ reason_code: 'replaced', organization_id: SCHOOL_A.id })
  })

  it('the same account linked again changes nothing the journal hears about', async () => {
    await personLinks('a-staff-kuznetsova-2', '1000011')
    await sleep(300)
    await outboxSettled(t.app)
    expect(receiver.to('/events')).toHaveLength(0)
  })

  it('the journal deletes a linked card: link-removed, by directory', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/api/v1/directory/users/a-staff-kuznetsova-2', headers: { authorization: journalBasicAuth() } })
    expect(res.statusCode).toBe(200)
    await outboxSettled(t.app)
    const received = await events()
    expect(received.map((e) => [e.type, e.event.by, e.event.reason_code])).toEqual([[REMOVED, 'directory', 'card_deleted']])
  })

  it('a change that rolls back reports nothing', async () => {
    await expect(
      withTransaction(t.db.pool, async (tx) => {
        await saveLink(tx, { journalUserId: 'a-staff-kuznetsova', upstreamSubject: '1000012', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000012' } })
        throw new Error('the request failed after the link was saved')
      }),
    ).rejects.toThrow('the request failed')
    await sleep(500)
    expect(receiver.requests).toHaveLength(0)
    const { rows } = await t.db.pool.query(`SELECT 1 FROM event_outbox WHERE journal_user_id = 'a-staff-kuznetsova'`)
    expect(rows).toHaveLength(0)
  })

  it('a journal that answers 500 twice gets the event three times, with backoff, then never again', async () => {
    receiver.answer((_r, n) => (n <= 2 ? 500 : 202))
    await personLinks('a-staff-kuznetsova', '1000013')
    const received = await receiver.waitFor('/events', 3, 15_000)
    const jtis = await Promise.all(received.map(async (r) => (await verifySet(t.app, r.body, JOURNAL_CLIENT.client_id)).payload.jti))
    expect(new Set(jtis).size).toBe(1)
    // 1 s after the first failure, 2 s after the second.
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(900)
    expect(received[2]!.at - received[1]!.at).toBeGreaterThanOrEqual(1900)
    await sleep(2500)
    expect(receiver.to('/events')).toHaveLength(3)
    const { rows } = await t.db.pool.query(`SELECT status, attempts, last_status FROM event_outbox WHERE jti = $1`, [jtis[0]])
    expect(rows).toEqual([{ status: 'delivered', attempts: 3, last_status: '202' }])
  })

  it('a journal that refuses (400) is not asked again; the refusal is kept for the console', async () => {
    receiver.answer(() => ({ status: 400, body: JSON.stringify({ err: 'invalid_audience', description: 'not our client id' }) }))
    await t.app.inject({ method: 'POST', url: '/api/v1/admin/users/a-staff-kuznetsova/unlink', headers: BOOTSTRAP, payload: { reason: 'проверка' } })
    await receiver.waitFor('/events', 1)
    await sleep(2500)
    expect(receiver.to('/events')).toHaveLength(1)
    const { rows } = await t.db.pool.query(`SELECT status, attempts, last_status, last_error FROM event_outbox WHERE journal_user_id = 'a-staff-kuznetsova' ORDER BY id DESC LIMIT 1`)
    expect(rows).toEqual([{ status: 'failed', attempts: 1, last_status: '400', last_error: 'invalid_audience: not our client id' }])
  })

  it('keeps the order per journal user: a later event waits while an earlier one is retried', async () => {
    receiver.answer((_r, n) => (n === 1 ? 503 : 202))
    await personLinks('a-student-ivanov', '1000014')
    await withTransaction(t.db.pool, (tx) => removeLink(tx, { journalUserId: 'a-student-ivanov', actor: { kind: 'person', id: '1000014' }, reason: 'по просьбе' }))
    const received = await receiver.waitFor('/events', 3, 15_000)
    const order = await Promise.all(received.map(async (r) => (await verifySet(t.app, r.body, JOURNAL_CLIENT.client_id)).type))
    expect(order).toEqual([CREATED, CREATED, REMOVED])
    const removed = await verifySet(t.app, received[2]!.body, JOURNAL_CLIENT.client_id)
    expect(removed.event).toMatchObject({ by: 'person', reason_code: 'unlinked' })
  })

  it('a move keeps its place among the events of both cards: an unlink of the target waits while the move is retried', async () => {
    receiver.answer((_r, n) => (n === 1 ? 503 : 202))
    expect((await admin('/users/b-parent-sidorov/move-link', { to_journal_user_id: 'b-parent-petrova', reason: 'Вернули на прежнюю карточку' })).statusCode).toBe(200)
    expect((await admin('/users/b-parent-petrova/unlink', { reason: 'проверка' })).statusCode).toBe(200)
    const received = await receiver.waitFor('/events', 3, 15_000)
    await outboxSettled(t.app)
    const order = await Promise.all(received.map(async (r) => (await verifySet(t.app, r.body, JOURNAL_CLIENT.client_id)).type))
    expect(order).toEqual([MOVED, MOVED, REMOVED])
    expect(receiver.to('/events')).toHaveLength(3)
  })

  it('counts what it delivered and what waits in /metrics', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(res.body).toMatch(/bridge_events_delivered_total\{client="journal-test",kind="set"\} \d+/)
    expect(res.body).toMatch(/bridge_events_failed_total\{client="journal-test",kind="set",why="refused"\} 1/)
    expect(res.body).toMatch(/bridge_events_attempt_errors_total\{client="journal-test",kind="set"\} \d+/)
    expect(res.body).toContain('bridge_events_delivery_latency_seconds_bucket')
    expect(res.body).toContain('# TYPE bridge_events_queued gauge')
  })

  it('an instance started with a CLIENTS_FILE that asks for no events leaves no recipient (the last one started wins)', async () => {
    const other = await buildTestApp({ db: t.db, clients: [JOURNAL_CLIENT] })
    try {
      const { rows } = await t.db.pool.query('SELECT client_id FROM event_recipients')
      expect(rows).toEqual([])
    } finally {
      await other.close()
    }
  })
})
