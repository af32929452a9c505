import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { upsertCard, upsertOrganization, validateCard } from '../../src/directory/cards.js'
import { sidMadeIn } from '../../src/events/sessions.js'
import { consumeLoginState, issueLoginCode, type SuccessfulLogin } from '../../src/flows/login-record.js'
import { saveLink } from '../../src/linking/links.js'
import { hashToken } from '../../src/oidc-provider/codes.js'
import { JOURNAL_CLIENT, TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

/**
 * The login's one statement: the cards linked to the person read, and the code, the last login and
 * the audit event written in the same breath — for the person's only card, or the card chosen — or
 * nothing written at all.
 */
describe('issuing a login code with the linked cards in one statement', () => {
  let db: TestDatabase
  const card = (id: string, org: string, role: string, middle: string | undefined) => {
    const v = validateCard({ id, organization_id: org, role, last_name: 'Смирнова', first_name: 'Ольга', middle_name: middle }, { snilsKey: TEST_SECRETS.snilsHmacKey })
    if (!v.ok) throw new Error(v.rejection.message)
    return v.row
  }
  const link = (journalUserId: string, subject: string) =>
    withTransaction(db.pool, (tx) => saveLink(tx, { journalUserId, upstreamSubject: subject, method: 'link', evidence: ['last_name'], trusted: true, level: 'PR', actor: { kind: 'person', id: subject } }))
  const login = (subject: string): SuccessfulLogin => ({
    request: { clientId: JOURNAL_CLIENT.client_id, redirectUri: JOURNAL_CLIENT.redirect_uris[0]!, state: 'journal-state', nonce: 'journal-nonce', codeChallenge: 'c'.repeat(43), children: false },
    subject,
    auth: { auth_time: 1_760_000_000, acr: 'esia:confirmed', method: 'link' },
    details: { method: 'link', chooser: false },
  })
  const written = async () => {
    const n = async (sql: string) => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n
    return { codes: await n('authorization_codes'), succeeded: await n(`audit_events WHERE type = 'login.succeeded'`), lastLogins: await n('links WHERE last_login_at IS NOT NULL') }
  }

  beforeAll(async () => {
    db = await createTestDatabase()
    await upsertOrganization(db.pool, { id: 'gymnasium', name: 'Гимназия', kind: 'school' })
    await upsertOrganization(db.pool, { id: 'school', name: 'Школа', kind: 'school' })
    await upsertCard(db.pool, card('one', 'school', 'parent', 'Викторовна'))
    await upsertCard(db.pool, card('no-patronymic', 'school', 'staff', undefined))
    await upsertCard(db.pool, card('two-school', 'school', 'parent', 'Викторовна'))
    await upsertCard(db.pool, card('two-gymnasium', 'gymnasium', 'parent', 'Викторовна'))
    await link('one', '1001')
    await link('no-patronymic', '1002')
    await link('two-school', '1003')
    await link('two-gymnasium', '1003')
  })
  afterAll(async () => db?.drop())

  it('the only linked card: the code with its claims, the last login and login.succeeded, together', async () => {
    const before = await written()
    const { code, cards } = await issueLoginCode(db.pool, login('1001'), { asCard: null })
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cards.map((c) => c.journalUserId)).toEqual(['one'])

    const row = (await db.pool.query('SELECT kind, client_id, redirect_uri, journal_user_id, code_challenge, nonce, payload FROM authorization_codes WHERE code_hash = $1', [hashToken(code!)])).rows[0]
    expect(row).toEqual({
      kind: 'login', client_id: JOURNAL_CLIENT.client_id, redirect_uri: JOURNAL_CLIENT.redirect_uris[0], journal_user_id: 'one', code_challenge: 'c'.repeat(43), nonce: 'journal-nonce',
      payload: { auth_time: 1_760_000_000, amr: ['esia'], acr: 'esia:confirmed', sid: expect.any(String), org_id: 'school', role: 'parent', family_name: 'Смирнова', given_name: 'Ольга', middle_name: 'Викторовна' },
    })
    const audit = (await db.pool.query(`SELECT actor_kind, actor_id, organization_id, upstream_subject, details FROM audit_events WHERE type = 'login.succeeded' AND journal_user_id = 'one'`)).rows
    expect(audit).toEqual([{ actor_kind: 'person', actor_id: '1001', organization_id: 'school', upstream_subject: '1001', details: { method: 'link', chooser: false, client_id: JOURNAL_CLIENT.client_id, acr: 'esia:confirmed' } }])
    expect(await written()).toEqual({ codes: before.codes + 1, succeeded: before.succeeded + 1, lastLogins: before.lastLogins + 1 })
  })

  it('a card without a patronymic: no middle_name claim at all', async () => {
    const { code } = await issueLoginCode(db.pool, login('1002'), { asCard: null })
    const { payload } = (await db.pool.query('SELECT payload FROM authorization_codes WHERE code_hash = $1', [hashToken(code!)])).rows[0]
    expect(payload).toEqual({ auth_time: 1_760_000_000, amr: ['esia'], acr: 'esia:confirmed', sid: expect.any(String), org_id: 'school', role: 'staff', family_name: 'Смирнова', given_name: 'Ольга' })
  })

  it('several cards and no choice yet: the cards in the chooser’s order, and nothing written', async () => {
    const before = await written()
    const { code, cards } = await issueLoginCode(db.pool, login('1003'), { asCard: null })
    expect(code).toBeUndefined()
    expect(cards.map((c) => [c.journalUserId, c.organizationName])).toEqual([['two-gymnasium', 'Гимназия'], ['two-school', 'Школа']])
    expect(await written()).toEqual(before)
  })

  it('the card chosen among several: the code for that card only', async () => {
    const { code } = await issueLoginCode(db.pool, { ...login('1003'), details: { method: 'link', chooser: true, candidates: 2 } }, { asCard: 'two-school' })
    const row = (await db.pool.query('SELECT journal_user_id FROM authorization_codes WHERE code_hash = $1', [hashToken(code!)])).rows[0]
    expect(row).toEqual({ journal_user_id: 'two-school' })
    const seen = (await db.pool.query(`SELECT journal_user_id FROM links WHERE upstream_subject = '1003' AND last_login_at IS NOT NULL`)).rows
    expect(seen).toEqual([{ journal_user_id: 'two-school' }])
  })

  it('a card that is not (or no longer) linked to this person: no code, nothing written', async () => {
    const before = await written()
    expect((await issueLoginCode(db.pool, login('1003'), { asCard: 'one' })).code).toBeUndefined()
    expect((await issueLoginCode(db.pool, login('1003'), { asCard: 'no-such-card' })).code).toBeUndefined()
    // Support removed the only link a moment ago.
    await db.pool.query(`DELETE FROM links WHERE journal_user_id = 'no-patronymic'`)
    expect(await issueLoginCode(db.pool, login('1002'), { asCard: null })).toEqual({ code: undefined, cards: [], childrenDue: false })
    expect(await written()).toEqual({ ...before, lastLogins: before.lastLogins - 1 })
  })

  it('a login state is recorded as used once: again, or twice at the same moment, only one use counts', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 600
    const state = randomUUID()
    expect(await consumeLoginState(db.pool, state, expiresAt)).toBe(true)
    expect(await consumeLoginState(db.pool, state, expiresAt)).toBe(false)
    const race = randomUUID()
    const both = await Promise.all([1, 2].map(() => consumeLoginState(db.pool, race, expiresAt)))
    expect(both.filter(Boolean)).toHaveLength(1)
  })

  it('a parent whose children are due a comparison with Госуслуги: no code yet, and nothing written', async () => {
    await upsertCard(db.pool, card('one-child', 'school', 'student', 'Ивановна'))
    await db.pool.query(`INSERT INTO journal_user_relations (parent_id, child_id) VALUES ('one', 'one-child')`)
    const before = await written()
    const due = await issueLoginCode(db.pool, login('1001'), { asCard: null, childrenRecheck: { confirmed: 24, other: 1 } })
    expect(due).toMatchObject({ code: undefined, childrenDue: true })
    expect(due.cards.map((c) => c.journalUserId)).toEqual(['one'])
    expect(await written()).toEqual(before)
    // Compared (or Госуслуги gave no children): the caller asks for that card, and gets the code.
    expect((await issueLoginCode(db.pool, login('1001'), { asCard: 'one' })).code).toBeDefined()
  })

  it('a journal that asked for the children, with back-channel logout: the children claim and the session, in the same statement', async () => {
    const withChildren = { ...login('1001'), request: { ...login('1001').request, children: true } }
    const browser = Buffer.alloc(32, 7)
    const { code } = await issueLoginCode(db.pool, withChildren, { asCard: null, browser, recordSession: true })
    const { payload } = (await db.pool.query('SELECT payload FROM authorization_codes WHERE code_hash = $1', [hashToken(code!)])).rows[0]
    expect(payload.children).toEqual([])
    const sessions = (await db.pool.query('SELECT client_id, journal_user_id, browser_hash FROM login_sessions WHERE sid = $1', [payload.sid])).rows
    expect(sessions).toEqual([{ client_id: JOURNAL_CLIENT.client_id, journal_user_id: 'one', browser_hash: browser }])
    // The sid carries the browser it was made in, for /oauth2/logout to recognise (and nobody else).
    expect(sidMadeIn(payload.sid, browser)).toBe(true)
    expect(sidMadeIn(payload.sid, Buffer.alloc(32, 8))).toBe(false)
  })

  it('keeps its single-use rows out of the WAL, and what must last in it', async () => {
    const { rows } = await db.pool.query<{ relname: string; relpersistence: string }>(
      `SELECT relname, relpersistence FROM pg_class WHERE relkind = 'r' AND relname = ANY ($1) ORDER BY relname`,
      [['access_tokens', 'audit_events', 'authorization_codes', 'consumed_login_states', 'failed_attempts', 'flow_states', 'links', 'pending_logins']],
    )
    expect(Object.fromEntries(rows.map((r) => [r.relname, r.relpersistence === 'u' ? 'unlogged' : 'logged']))).toEqual({
      access_tokens: 'unlogged', authorization_codes: 'unlogged', consumed_login_states: 'unlogged', flow_states: 'unlogged', pending_logins: 'unlogged',
      audit_events: 'logged', failed_attempts: 'logged', links: 'logged',
    })
  })
})
