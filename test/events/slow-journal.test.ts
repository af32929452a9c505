import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { LINK_REMOVED, type LinkEvent } from '../../src/events/event-types.js'
import { queueLinkEvents } from '../../src/events/outbox.js'
import { PER_ENDPOINT } from '../../src/events/sender.js'
import type { ClientFileEntry } from '../../src/oidc-provider/clients.js'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { startReceiver, type Receiver } from './receiver.js'

/**
 * One journal that takes events but never answers must not hold up the others: it holds a few
 * deliveries while every other journal gets its events, and after a timeout its other events wait
 * for its next attempt instead of each taking a slot for the whole timeout.
 */
const HANGING_ID = 'journal-hanging'

describe('a journal that does not answer', () => {
  let t: TestApp
  let hanging: Receiver
  let healthy: Receiver
  const removed = (n: number, from = 0): LinkEvent[] =>
    Array.from({ length: n }, (_, i) => ({ type: LINK_REMOVED, subject: `card-${from + i}`, data: { journal_user_id: `card-${from + i}`, organization_id: 'school-1', by: 'journal', reason_code: 'unlinked' } }))
  const queue = (events: LinkEvent[]) => withTransaction(t.db.pool, (tx) => queueLinkEvents(tx, events))
  const rowsOfHanging = async () =>
    (await t.db.pool.query<{ attempts: number; last_status: string | null; next_attempt_at: Date; in_flight: boolean }>(
      `SELECT attempts, last_status, next_attempt_at, coalesce(leased_until > now(), false) AS in_flight FROM event_outbox WHERE client_id = $1 ORDER BY id`,
      [HANGING_ID],
    )).rows

  beforeAll(async () => {
    hanging = await startReceiver()
    healthy = await startReceiver()
    hanging.answer(() => ({ status: 202, delayMs: 120_000 }))
    const stuck: ClientFileEntry = {
      client_id: HANGING_ID,
      name: 'Журнал, который не отвечает',
      client_secret: 'journal-hanging-secret-0123456789abcdef01234567',
      redirect_uris: ['https://hanging.journal.example/auth/callback'],
      events_endpoint: `${hanging.url}/events`,
    }
    t = await buildTestApp({ clients: [stuck, { ...JOURNAL_CLIENT, events_endpoint: `${healthy.url}/events` }] })
  })
  afterAll(async () => {
    await t.close()
    await hanging.close()
    await healthy.close()
  })

  it('holds a few deliveries while every other journal gets all of its events', async () => {
    await queue(removed(30))
    await healthy.waitFor('/events', 30, 60_000)
    // Nothing the hanging journal was sent has timed out yet: the others never waited for it.
    expect((await rowsOfHanging()).filter((r) => r.last_status === 'timeout')).toEqual([])
    expect(hanging.to('/events').length).toBeLessThanOrEqual(PER_ENDPOINT)
  })

  it('after a timeout its other events wait for its next attempt, and the others still flow', async () => {
    const deadline = Date.now() + 30_000
    let rows = await rowsOfHanging()
    while (!rows.some((r) => r.last_status === 'timeout')) {
      if (Date.now() > deadline) throw new Error('no delivery to the hanging journal timed out')
      await new Promise((r) => setTimeout(r, 100))
      rows = await rowsOfHanging()
    }
    // The deferral follows the timed-out row's settlement as its own statement, and rows already
    // being sent (leased, not yet settled) keep their own time: look at the waiting ones once settled.
    const deferred = async () => {
      const now = await rowsOfHanging()
      const retryAt = Math.min(...now.filter((r) => r.last_status === 'timeout').map((r) => r.next_attempt_at.getTime()))
      const waiting = now.filter((r) => r.attempts === 0 && !r.in_flight)
      return { waiting, early: waiting.filter((r) => r.next_attempt_at.getTime() < retryAt) }
    }
    let state = await deferred()
    for (let tries = 0; state.early.length > 0 && tries < 50; tries++) {
      await new Promise((r) => setTimeout(r, 100))
      state = await deferred()
    }
    expect(state.waiting.length).toBeGreaterThan(0)
    expect(state.early).toEqual([])

    await queue(removed(5, 100))
    await healthy.waitFor('/events', 35, 30_000)
  })
})
