import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { pseudonymiseExpiredAudit } from '../../src/subjects/audit-retention.js'
import { pseudonym, pseudonymKey } from '../../src/subjects/pseudonym.js'
import { buildTestApp, JOURNAL_CLIENT, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { person } from '../admin/fixtures.js'

/**
 * What the purges leave behind: after AUDIT_RETENTION_DAYS an audit row keeps who acted and what was
 * done, and the person becomes the pseudonym an erasure would give them; every purge of personal
 * data — audit, failed attempts, events, session records — writes its destruction record.
 */
describe('retention: audit pseudonymisation and the destruction record of every purge', () => {
  let t: TestApp
  const key = pseudonymKey(TEST_SECRETS.snilsHmacKey)
  const audit = (ageDays: number, row: { type: string; actor_kind: string; actor_id: string | null; journal_user_id?: string; upstream_subject?: string; details?: object }) =>
    t.db.pool.query(
      `INSERT INTO audit_events (at, type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, details)
       VALUES (now() - make_interval(days => $1), $2, $3, $4, $5, 'school-a', $6, $7) RETURNING id`,
      [ageDays, row.type, row.actor_kind, row.actor_id, row.journal_user_id ?? null, row.upstream_subject ?? null, JSON.stringify(row.details ?? {})],
    ).then((r) => r.rows[0].id as number)
  const records = async () => (await t.db.pool.query(`SELECT basis, actor_kind, actor_id, reason, categories, total FROM destruction_records ORDER BY id`)).rows

  beforeAll(async () => {
    t = await buildTestApp({ env: { AUDIT_RETENTION_DAYS: '30' } })
  })
  afterAll(async () => t.close())

  it('pseudonymises audit rows older than AUDIT_RETENTION_DAYS, keeping the actor, and records it once', async () => {
    const login = await audit(40, { type: 'login.succeeded', actor_kind: 'person', actor_id: '7000001', journal_user_id: 'u-old', upstream_subject: '7000001', details: { method: 'link' } })
    const moved = await audit(40, { type: 'link.removed', actor_kind: 'support', actor_id: 'support-1', journal_user_id: 'u-old', upstream_subject: '7000001', details: { moved_to: 'u-new', method: 'link' } })
    const replaced = await audit(35, { type: 'link.replaced', actor_kind: 'person', actor_id: '7000002', journal_user_id: 'u-new', upstream_subject: '7000002', details: { previous_subject: '7000001' } })
    const consoleLogin = await audit(40, { type: 'support.login', actor_kind: 'support', actor_id: 'support-1' })
    const recent = await audit(10, { type: 'login.succeeded', actor_kind: 'person', actor_id: '7000001', journal_user_id: 'u-old', upstream_subject: '7000001' })

    const removed = await t.app.housekeeping.runAll()
    expect(removed.audit_events).toBe(3)
    const row = async (id: number) => (await t.db.pool.query(`SELECT actor_kind, actor_id, journal_user_id, upstream_subject, details, pseudonymised_at FROM audit_events WHERE id = $1`, [id])).rows[0]
    const oldCard = pseudonym(key, 'journal_user', 'u-old')
    const oldSubject = pseudonym(key, 'subject', '7000001')
    expect(await row(login)).toMatchObject({ actor_kind: 'person', actor_id: oldSubject, journal_user_id: oldCard, upstream_subject: oldSubject, details: { method: 'link' } })
    expect(await row(moved)).toMatchObject({ actor_kind: 'support', actor_id: 'support-1', journal_user_id: oldCard, details: { moved_to: pseudonym(key, 'journal_user', 'u-new'), method: 'link' } })
    expect((await row(replaced)).details).toEqual({ previous_subject: oldSubject })
    expect(await row(consoleLogin)).toMatchObject({ actor_id: 'support-1', pseudonymised_at: expect.any(Date) })
    expect(await row(recent)).toMatchObject({ actor_id: '7000001', journal_user_id: 'u-old', pseudonymised_at: null })
    expect(await records()).toEqual([
      { basis: 'retention', actor_kind: 'system', actor_id: 'housekeeping', reason: 'audit retention period ended', categories: [{ category: 'audit_events', action: 'pseudonymised', count: 3 }], total: 3 },
    ])

    expect((await t.app.housekeeping.runAll()).audit_events).toBe(0)
    expect(await records()).toHaveLength(1)
  })

  it('records the purges of failed attempts, events and session records', async () => {
    await t.db.pool.query('DELETE FROM destruction_records')
    const attempt = await recordFailedAttempt(t.db.pool, TEST_SECRETS.snilsHmacKey, { flow: 'login', reasons: ['not_found'], person: person({ subject: '7000003', lastName: 'Орлова', firstName: 'Вера' }) })
    await t.db.pool.query(`UPDATE failed_attempts SET at = now() - interval '31 days' WHERE id = $1`, [attempt])
    await t.db.pool.query(
      `INSERT INTO event_outbox (client_id, kind, delivery, journal_user_id, event_type, data, status, delivered_at, created_at)
       VALUES ($1, 'set', 'push', 'u-old', 'urn:esia-bridge:event:link-created', '{}', 'delivered', now(), now() - interval '8 days')`,
      [JOURNAL_CLIENT.client_id],
    )
    await t.db.pool.query(`INSERT INTO login_sessions (sid, client_id, journal_user_id, created_at) VALUES ('old', $1, 'u-old', now() - interval '31 days')`, [JOURNAL_CLIENT.client_id])

    const removed = await t.app.housekeeping.runAll()
    expect(removed).toMatchObject({ failed_attempts: 1, event_outbox: 1, login_sessions: 1 })
    const categories = (await records()).map((r) => ({ basis: r.basis, actor: r.actor_id, ...r.categories[0] }))
    expect(categories).toEqual(expect.arrayContaining([
      { basis: 'retention', actor: 'housekeeping', category: 'failed_attempts', action: 'deleted', count: 1 },
      { basis: 'retention', actor: 'housekeeping', category: 'journal_events', action: 'deleted', count: 1 },
      { basis: 'retention', actor: 'housekeeping', category: 'login_sessions', action: 'deleted', count: 1 },
    ]))
    expect(categories).toHaveLength(3)
  })

  it('records each batch of the audit pseudonymisation in its own transaction, with a data.destroyed event, and clears reasons typed about the person', async () => {
    await t.db.pool.query('DELETE FROM destruction_records')
    const since = (await t.db.pool.query(`SELECT max(id) AS id FROM audit_events`)).rows[0].id
    // Oldest first, a batch of 3: three logins; the console login (names nobody), two logins; the typed reason.
    const login = (age: number, i: number) => audit(age, { type: 'login.succeeded', actor_kind: 'person', actor_id: `800000${i}`, journal_user_id: `u-batch-${i}`, upstream_subject: `800000${i}` })
    for (const [age, i] of [[60, 0], [59, 1], [58, 2]] as const) await login(age, i)
    const quiet = await audit(57, { type: 'support.login', actor_kind: 'support', actor_id: 'support-1' })
    await login(56, 3)
    await login(55, 4)
    const typed = await audit(54, { type: 'link.removed', actor_kind: 'support', actor_id: 'support-1', journal_user_id: 'u-batch-typed' })
    await t.db.pool.query(`UPDATE audit_events SET reason = 'просила Сидорова Анна' WHERE id = $1`, [typed])
    await t.db.pool.query(`UPDATE audit_events SET reason = 'kept' WHERE id = $1`, [quiet])

    expect(await pseudonymiseExpiredAudit(t.db.pool, key, 30, 3)).toBe(6)
    expect((await records()).map((r) => r.categories[0].count)).toEqual([3, 2, 1])
    const events = (await t.db.pool.query(`SELECT details FROM audit_events WHERE type = 'data.destroyed' AND id > $1 ORDER BY id`, [since])).rows
    expect(events.map((e) => e.details)).toEqual([3, 2, 1].map((count) => ({ table: 'audit_events', action: 'pseudonymised', count, retention_days: 30 })))
    expect((await t.db.pool.query(`SELECT reason FROM audit_events WHERE id = $1`, [typed])).rows[0].reason).toBeNull()
    expect((await t.db.pool.query(`SELECT reason FROM audit_events WHERE id = $1`, [quiet])).rows[0].reason).toBe('kept')
  })
})
