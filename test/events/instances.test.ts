import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { removeLink, saveLink } from '../../src/linking/links.js'
import { buildTestApp, JOURNAL_CLIENT, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { seedSchools, CARDS, SCHOOL_A } from '../admin/fixtures.js'
import { upsertCard, validateCard } from '../../src/directory/cards.js'
import { outboxSettled, startReceiver, verifySet, type Receiver } from './receiver.js'

/**
 * Three bridge instances on one database, as a region runs them behind a balancer: every instance
 * sends, none sends what another already holds (FOR UPDATE SKIP LOCKED), so each event reaches the
 * journal once — and in order per journal user.
 */
describe('three instances share the outbox', () => {
  let db: TestDatabase
  let instances: TestApp[]
  let receiver: Receiver
  const client = () => ({ ...JOURNAL_CLIENT, events_endpoint: `${receiver.url}/events` })

  beforeAll(async () => {
    receiver = await startReceiver()
    // A slow journal keeps rows in flight while the other instances look for work.
    receiver.answer(() => ({ status: 202, delayMs: 20 }))
    db = await createTestDatabase()
    instances = await Promise.all([0, 1, 2].map(() => buildTestApp({ db, clients: [client()] })))
    await seedSchools(db.pool)
    for (let n = 0; n < 30; n++) {
      const v = validateCard({ id: `a-student-${n}`, organization_id: SCHOOL_A.id, role: 'student', last_name: 'Ученик', first_name: `Номер${n}` }, { snilsKey: TEST_SECRETS.snilsHmacKey })
      if (!v.ok) throw new Error(v.rejection.message)
      await upsertCard(db.pool, v.row)
    }
  })
  afterAll(async () => {
    for (const i of instances ?? []) await i.close()
    await db?.drop()
    await receiver?.close()
  })

  it('delivers each event exactly once, in order per journal user', async () => {
    const cards = [...CARDS.filter((c) => !['a-parent-ivanova', 'b-parent-petrova'].includes(c.id)).map((c) => c.id), ...Array.from({ length: 30 }, (_, n) => `a-student-${n}`)]
    // Each card: linked, unlinked, linked again — 3 events per card, from whichever instance.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        cards.map((id, n) =>
          withTransaction(db.pool, async (tx) => {
            if (round === 1) await removeLink(tx, { journalUserId: id, actor: { kind: 'person', id: `subject-${n}` }, reason: 'по просьбе' })
            else await saveLink(tx, { journalUserId: id, upstreamSubject: `subject-${n}`, method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: `subject-${n}` } })
          }),
        ),
      )
    }
    await outboxSettled(instances[0]!.app, 20_000)

    const { rows } = await db.pool.query<{ jti: string; journal_user_id: string }>(`SELECT jti, journal_user_id FROM event_outbox ORDER BY id`)
    expect(rows).toHaveLength(2 + cards.length * 3)
    const received = await Promise.all(receiver.to('/events').map((r) => verifySet(instances[0]!.app, r.body, JOURNAL_CLIENT.client_id)))
    const jtis = received.map((r) => r.payload.jti)
    expect(jtis).toHaveLength(rows.length)
    expect(new Set(jtis)).toEqual(new Set(rows.map((r) => r.jti)))

    // Every instance took its share (the counters of each instance's /metrics).
    const delivered = await Promise.all(
      instances.map(async (i) => Number(/bridge_events_delivered_total\{client="journal-test",kind="set"\} (\d+)/.exec((await i.app.inject({ url: '/metrics' })).body)?.[1] ?? 0)),
    )
    expect(delivered.reduce((a, b) => a + b, 0)).toBe(rows.length)
    expect(delivered.filter((n) => n > 0).length).toBeGreaterThan(1)

    for (const id of cards) {
      const mine = received.filter((r) => r.payload.sub_id.id === id).map((r) => r.type.replace('urn:esia-bridge:event:', ''))
      expect(mine, id).toEqual(['link-created', 'link-removed', 'link-created'])
    }
  })
})
