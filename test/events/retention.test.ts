import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'

/**
 * What the outbox keeps (EVENTS_RETENTION_DAYS): delivered and refused events, and SETs a polling
 * journal never acknowledged, go after that many days; an event still being retried stays until it
 * is given up; records of login sessions nobody ended go after 30 days.
 */
describe('retention of events and login sessions', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await buildTestApp({ env: { EVENTS_RETENTION_DAYS: '3' }, clients: [JOURNAL_CLIENT] })
  })
  afterAll(async () => t.close())

  it('purges what is older than EVENTS_RETENTION_DAYS, except a pushed event still within its 72 hours', async () => {
    const row = (user: string, delivery: string, status: string, ageDays: number, giveUpInHours: number) =>
      t.db.pool.query(
        `INSERT INTO event_outbox (client_id, kind, delivery, journal_user_id, event_type, data, status, delivered_at, created_at, give_up_at)
         VALUES ('journal-test', 'set', $2, $1, 'urn:esia-bridge:event:link-created', '{}', $3, CASE WHEN $3 = 'delivered' THEN now() END,
                 now() - make_interval(days => $4), now() + make_interval(hours => $5))`,
        [user, delivery, status, ageDays, giveUpInHours],
      )
    await row('old-delivered', 'push', 'delivered', 4, -24)
    await row('old-failed', 'push', 'failed', 4, -24)
    await row('old-unacknowledged', 'poll', 'pending', 4, -24)
    await row('old-still-retried', 'push', 'pending', 4, 1)
    await row('recent-delivered', 'push', 'delivered', 2, 24)
    await t.db.pool.query(
      `INSERT INTO login_sessions (sid, client_id, journal_user_id, created_at) VALUES ('old', 'journal-test', 'u1', now() - interval '31 days'), ('recent', 'journal-test', 'u1', now() - interval '29 days')`,
    )

    const removed = await t.app.housekeeping.runAll()
    expect(removed).toMatchObject({ event_outbox: 3, login_sessions: 1 })
    const { rows } = await t.db.pool.query(`SELECT journal_user_id FROM event_outbox ORDER BY journal_user_id`)
    expect(rows.map((r) => r.journal_user_id)).toEqual(['old-still-retried', 'recent-delivered'])
    expect((await t.db.pool.query(`SELECT sid FROM login_sessions`)).rows).toEqual([{ sid: 'recent' }])
  })
})
