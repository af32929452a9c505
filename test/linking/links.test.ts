import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { upsertCard, upsertOrganization, validateCard } from '../../src/directory/cards.js'
import { withTransaction } from '../../src/db/pool.js'
import { LinkConflictError, findLink, removeLink, saveLink } from '../../src/linking/links.js'
import { TEST_SECRETS } from '../helpers/app.js'

describe('links and their audit trail', () => {
  let db: TestDatabase
  const card = (id: string, org = 'school-1', role = 'parent') => {
    const v = validateCard({ id, organization_id: org, role, last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна' }, { snilsKey: TEST_SECRETS.snilsHmacKey })
    if (!v.ok) throw new Error(v.rejection.message)
    return v.row
  }
  const link = (journalUserId: string, subject: string) =>
    withTransaction(db.pool, (tx) => saveLink(tx, { journalUserId, upstreamSubject: subject, method: 'link', evidence: ['last_name', 'first_name'], trusted: true, level: 'PR', actor: { kind: 'person', id: subject } }))
  const auditTypes = async (journalUserId: string) =>
    (await db.pool.query<{ type: string }>('SELECT type FROM audit_events WHERE journal_user_id = $1 ORDER BY id', [journalUserId])).rows.map((r) => r.type)

  beforeAll(async () => {
    db = await createTestDatabase()
    await upsertOrganization(db.pool, { id: 'school-1', name: 'Школа № 1', kind: 'school' })
    await upsertOrganization(db.pool, { id: 'school-2', name: 'Школа № 2', kind: 'school' })
    for (const [id, org, role] of [['u1', 'school-1', 'parent'], ['u2', 'school-1', 'parent'], ['u3', 'school-2', 'parent'], ['u4', 'school-1', 'staff']] as const) {
      await upsertCard(db.pool, card(id, org, role))
    }
  })
  afterAll(async () => db.drop())

  it('creates a link with a link.created event', async () => {
    const { replaced } = await link('u1', '1000001')
    expect(replaced).toBeUndefined()
    expect((await findLink(db.pool, 'u1'))?.upstreamSubject).toBe('1000001')
    expect(await auditTypes('u1')).toEqual(['link.created'])
  })

  it('lets one person hold cards in other organisations and roles', async () => {
    await link('u3', '1000001')
    await link('u4', '1000001')
    expect((await findLink(db.pool, 'u3'))?.organizationId).toBe('school-2')
    expect((await findLink(db.pool, 'u4'))?.role).toBe('staff')
  })

  it('refuses a second card of the same organisation and role for the same person, writing nothing', async () => {
    await expect(link('u2', '1000001')).rejects.toBeInstanceOf(LinkConflictError)
    expect(await findLink(db.pool, 'u2')).toBeUndefined()
    expect(await auditTypes('u2')).toEqual([])
  })

  it('replaces the old link of a card and says so', async () => {
    const { replaced } = await link('u1', '2000002')
    expect(replaced?.upstreamSubject).toBe('1000001')
    expect(await auditTypes('u1')).toEqual(['link.created', 'link.replaced'])
  })

  it('re-linking a card to the subject it holds changes nothing but a link.confirmed event', async () => {
    await db.pool.query(`INSERT INTO access_tokens (token_hash, client_id, journal_user_id, claims, code_hash, expires_at)
                         VALUES (sha256('t-u1'), 'journal', 'u1', '{}', sha256('c-u1'), now() + interval '10 minutes')`)
    const before = await findLink(db.pool, 'u1')
    const { link: kept, replaced, confirmed } = await link('u1', '2000002')
    expect({ replaced, confirmed }).toEqual({ replaced: undefined, confirmed: true })
    expect(kept).toEqual(before)
    expect(await findLink(db.pool, 'u1')).toEqual(before)
    expect(await auditTypes('u1')).toEqual(['link.created', 'link.replaced', 'link.confirmed'])
    // The person's login through that link goes on.
    expect((await db.pool.query(`SELECT 1 FROM access_tokens WHERE journal_user_id = 'u1'`)).rowCount).toBe(1)
  })

  it('serialises two concurrent attempts on one card: one link, two events', async () => {
    await upsertCard(db.pool, card('u5', 'school-2', 'student'))
    await Promise.all([link('u5', '3000003'), link('u5', '4000004')])
    const rows = await db.pool.query('SELECT upstream_subject FROM links WHERE journal_user_id = $1', ['u5'])
    expect(rows.rowCount).toBe(1)
    expect(await auditTypes('u5')).toEqual(['link.created', 'link.replaced'])
  })

  it('keeps the link on the card when the card moves to another organisation', async () => {
    await upsertCard(db.pool, card('u4', 'school-2', 'staff'))
    expect((await findLink(db.pool, 'u4'))?.organizationId).toBe('school-2')
  })

  it('ends the access tokens issued through a link when it is removed', async () => {
    await db.pool.query(`INSERT INTO access_tokens (token_hash, client_id, journal_user_id, claims, code_hash, expires_at)
                         VALUES (sha256('t-u4'), 'journal', 'u4', '{}', sha256('c-u4'), now() + interval '10 minutes')`)
    await withTransaction(db.pool, (tx) => removeLink(tx, { journalUserId: 'u4', actor: { kind: 'support', id: 'admin-1' }, reason: 'проверка' }))
    expect((await db.pool.query(`SELECT 1 FROM access_tokens WHERE journal_user_id = 'u4'`)).rowCount).toBe(0)
  })

  it('removes a link with a reason', async () => {
    const removed = await withTransaction(db.pool, (tx) => removeLink(tx, { journalUserId: 'u3', actor: { kind: 'support', id: 'admin-1' }, reason: 'привязан чужой аккаунт' }))
    expect(removed?.upstreamSubject).toBe('1000001')
    const { rows } = await db.pool.query('SELECT reason, actor_kind FROM audit_events WHERE journal_user_id = $1 AND type = $2', ['u3', 'link.removed'])
    expect(rows).toEqual([{ reason: 'привязан чужой аккаунт', actor_kind: 'support' }])
  })
})
