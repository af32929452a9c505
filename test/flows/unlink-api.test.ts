import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { BOOTSTRAP_TOKEN, JOURNAL_CLIENT, journalBasicAuth } from '../helpers/app.js'
import { buildListeningApp, seedCard } from '../oidc-provider/helpers.js'

type T = Awaited<ReturnType<typeof buildListeningApp>>

/**
 * «Отвязать учётную запись Госуслуг» in the journal's settings: the journal, having signed the
 * person in, removes their link through DELETE /api/v1/links/{journal_user_id}. It is the person's
 * own request in the audit trail, and the journals hear link-removed `by: person`.
 */
describe('DELETE /api/v1/links/{journal_user_id}', () => {
  let t: T
  const unlink = (id: string, authorization = journalBasicAuth()) => t.app.inject({ method: 'DELETE', url: `/api/v1/links/${encodeURIComponent(id)}`, headers: { authorization } })
  const state = (id: string) => t.app.inject({ method: 'GET', url: `/api/v1/links/${encodeURIComponent(id)}`, headers: { authorization: journalBasicAuth() } })

  beforeAll(async () => {
    t = await buildListeningApp()
    await seedCard(t.db.pool, { id: 'parent-u1', organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна' })
    await withTransaction(t.db.pool, (tx) =>
      saveLink(tx, { journalUserId: 'parent-u1', upstreamSubject: '1000555', method: 'link', evidence: ['last_name'], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000555' } }),
    )
    // A journal that takes events by polling: the removal must reach it.
    await t.db.pool.query(`INSERT INTO event_recipients (client_id, sets) VALUES ($1, 'poll') ON CONFLICT (client_id) DO UPDATE SET sets = 'poll'`, [JOURNAL_CLIENT.client_id])
  })
  afterAll(async () => t.close())

  it('refuses a wrong secret (401) and a support token (401): only the journal speaks for the person', async () => {
    expect((await unlink('parent-u1', journalBasicAuth({ client_id: JOURNAL_CLIENT.client_id, client_secret: 'wrong' }))).statusCode).toBe(401)
    expect((await unlink('parent-u1', `Bearer ${BOOTSTRAP_TOKEN}`)).statusCode).toBe(401)
    expect((await state('parent-u1')).json()).toMatchObject({ linked: true })
  })

  it('removes the link, audited as the person\'s own request, and tells the journals', async () => {
    const res = await unlink('parent-u1')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ journal_user_id: 'parent-u1', linked: false })
    expect((await state('parent-u1')).json()).toEqual({ journal_user_id: 'parent-u1', linked: false })
    const { rows: audit } = await t.db.pool.query(`SELECT actor_kind, actor_id, details FROM audit_events WHERE type = 'link.removed' AND journal_user_id = 'parent-u1'`)
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({ actor_kind: 'person', actor_id: '1000555', details: { client_id: JOURNAL_CLIENT.client_id, via: 'journal' } })
    const { rows: events } = await t.db.pool.query(`SELECT event_type, data FROM event_outbox WHERE journal_user_id = 'parent-u1'`)
    expect(events).toEqual([{ event_type: 'urn:esia-bridge:event:link-removed', data: expect.objectContaining({ by: 'person', reason_code: 'unlinked' }) }])
  })

  it('answers linked: false again and writes nothing for a user without a link; 404 for an unknown user', async () => {
    const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n
    expect((await unlink('parent-u1')).json()).toEqual({ journal_user_id: 'parent-u1', linked: false })
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n).toBe(before)
    const unknown = await unlink('nobody')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ error: 'journal_user_not_found' })
  })
})
