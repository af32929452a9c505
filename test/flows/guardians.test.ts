import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relationsOfCard } from '../../src/guardians/checks.js'
import { journalBasicAuth } from '../helpers/app.js'
import { textOf } from './browser.js'
import { KID_SCOPES, linkAs, loginAs } from './guardian-helpers.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'
import { StockJournal } from './login-helpers.js'

/**
 * Guardians confirmed by Госуслуги, end to end: a parent links a card (and later logs in), the
 * bridge compares the children Госуслуги lists for the parent with the journal's children of the
 * card, stores a state per relation, tells the person what to check, and tells the journal which
 * children are confirmed — in the link token, and in the ID token and userinfo of scope `children`.
 * Once through the ЕСИА dialect (the mock adapter) and once through a broker's standard OIDC.
 */
describe.each([
  { dialect: 'ЕСИА', kind: 'mock' as const, env: {} as Record<string, string> },
  { dialect: 'OIDC', kind: 'oidc' as const, env: { OIDC_SCOPES: `openid profile snils ${KID_SCOPES}` } as Record<string, string> },
])('guardians confirmed by Госуслуги ($dialect)', ({ kind, env }) => {
  let w: FlowWorld
  let journal: StockJournal

  beforeAll(async () => {
    w = await startFlowWorld({ upstream: kind, env })
    journal = new StockJournal(w)
  })
  afterAll(async () => w?.close())

  const states = async (parent: string) =>
    Object.fromEntries((await relationsOfCard(w.db.pool, parent, null)).filter((r) => r.parentId === parent).map((r) => [r.childId, r.reasons.length ? `${r.state} ${r.reasons.join(' ')}` : r.state]))

  const link = (card: string, persona: string) => linkAs(w, card, persona)
  const login = (persona: string, scope = 'openid children') => loginAs(w, journal, persona, scope)

  const checks = async (parent: string) => (await w.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'guardian.checked' AND journal_user_id = $1`, [parent])).rows[0]!.n

  it('a parent with two children, both in the journal: both confirmed, straight back, and the link token lists them', async () => {
    const { token, resultPage } = await link('u3001', 'parent-two-children')
    expect(resultPage).toBeUndefined()
    expect(token).toMatchObject({ result: 'linked', children: ['u3011', 'u3012'] })
    expect(Math.abs(token.children_checked_at! - Date.now() / 1000)).toBeLessThan(60)
    expect(await states('u3001')).toEqual({ u3011: 'confirmed', u3012: 'confirmed' })

    const { claims, userinfo } = await login('parent-two-children')
    expect(claims.children).toEqual(['u3011', 'u3012'])
    expect(userinfo.children).toEqual(['u3011', 'u3012'])
    expect(claims.children_checked_at).toBe(userinfo.children_checked_at)
  })

  it('a returning parent whose children were just compared is not compared again at login', async () => {
    const before = await checks('u3001')
    await login('parent-two-children')
    expect(await checks('u3001')).toBe(before)
  })

  it('without scope `children` the tokens say nothing of children', async () => {
    const { claims, userinfo } = await login('parent-two-children', 'openid')
    expect(claims).not.toHaveProperty('children')
    expect(userinfo).not.toHaveProperty('children')
    expect(userinfo).not.toHaveProperty('children_checked_at')
  })

  it('a child whose name the journal mistyped: linked, the page says what to check; a login after the school fixes it confirms', async () => {
    const { token, resultPage } = await link('u3101', 'parent-child-typo')
    expect(token).toMatchObject({ result: 'linked', children: [] })
    const page = textOf(resultPage!.body)
    expect(page).toContain('Госуслуги привязаны')
    expect(page).toContain('Егоров Тимафей Романович — Не совпадает: имя')
    expect(page).toContain('«Семья и дети»')
    expect(page).toContain('классного руководителя')
    expect(page).not.toContain('Тимофей')
    expect(await states('u3101')).toEqual({ u3111: 'mismatch mismatch:first_name' })

    expect((await login('parent-child-typo')).claims.children).toEqual([])

    const fixed = await w.app.inject({
      method: 'PUT',
      url: '/api/v1/directory/users/u3111',
      headers: { authorization: journalBasicAuth() },
      payload: { organization_id: 'gymnasium-3', role: 'student', last_name: 'Егоров', first_name: 'Тимофей', middle_name: 'Романович', birth_date: '2014-03-05', snils: '302-223-335 95' },
    })
    expect(fixed.statusCode).toBe(200)
    // Nothing is compared until the parent's next login; then the changed card makes it due at once.
    expect(await states('u3101')).toEqual({ u3111: 'mismatch mismatch:first_name' })
    const after = await login('parent-child-typo')
    expect(after.claims.children).toEqual(['u3111'])
    expect(after.userinfo.children).toEqual(['u3111'])
    expect(await states('u3101')).toEqual({ u3111: 'confirmed' })
  })

  it('a child on Госуслуги who is not in the journal is counted, never stored; the one who is gets confirmed', async () => {
    const { token, resultPage } = await link('u3201', 'parent-child-not-in-journal')
    expect(resultPage).toBeUndefined()
    expect(token.children).toEqual(['u3211'])
    expect(await states('u3201')).toEqual({ u3211: 'confirmed' })
    const audit = (await w.db.pool.query(`SELECT details FROM audit_events WHERE type = 'guardian.checked' AND journal_user_id = 'u3201'`)).rows
    expect(audit).toEqual([{ details: expect.objectContaining({ trigger: 'link', confirmed: 1, esia_children_not_in_journal: 1 }) }])
  })

  it('a journal child who is not among the parent\'s children on Госуслуги: not_in_esia, and the page says where to add the child', async () => {
    const { token, resultPage } = await link('u3301', 'parent-journal-child-not-in-esia')
    expect(token).toMatchObject({ result: 'linked', children: ['u3311'] })
    const page = textOf(resultPage!.body)
    expect(page).toContain('Орлов Денис Игоревич — Нет в разделе «Семья и дети» на Госуслугах')
    expect(page).not.toContain('Никитин Глеб')
    expect(page).toContain('Ребёнка нет среди ваших детей на Госуслугах')
    expect(await states('u3301')).toEqual({ u3311: 'confirmed', u3312: 'not_in_esia' })
    const { claims } = await login('parent-journal-child-not-in-esia')
    expect(claims.children).toEqual(['u3311'])
  })

  it('a parent who does not let the children\'s data go still links, with the children «не проверено»', async () => {
    const { token, resultPage } = await link('u3401', 'parent-declines-kids')
    expect(token).toMatchObject({ result: 'linked', children: [] })
    expect(token).not.toHaveProperty('children_checked_at')
    expect(await states('u3401')).toEqual({ u3411: 'unchecked' })
    if (kind === 'mock') {
      // ЕСИА was asked for the kid scopes and did not grant them: the page says how to allow it.
      expect(textOf(resultPage!.body)).toContain('Данные детей не переданы')
    } else {
      // A broker that sends no children claim cannot say whether it was asked: nothing to explain.
      expect(resultPage).toBeUndefined()
    }
    const { claims, userinfo } = await login('parent-declines-kids')
    expect(claims.children).toEqual([])
    expect(userinfo.children).toEqual([])
    expect(claims).not.toHaveProperty('children_checked_at')
    expect(await states('u3401')).toEqual({ u3411: 'unchecked' })
  })

  it('a card that is not a parent\'s gets no children claim, even when the journal asks; a parent\'s without children an empty one', async () => {
    await link('u2901', 'esia-test-snils')
    expect((await login('esia-test-snils')).claims).not.toHaveProperty('children')
    await link('u1501', 'double-surname')
    expect((await login('double-surname')).claims.children).toEqual([])
  })

  it('discovery lists the scope and its claims', async () => {
    const discovery = (await w.app.inject({ url: '/.well-known/openid-configuration' })).json<{ scopes_supported: string[]; claims_supported: string[] }>()
    expect(discovery.scopes_supported).toContain('children')
    expect(discovery.claims_supported).toEqual(expect.arrayContaining(['children', 'children_checked_at']))
  })

  it('keeps the children\'s SNILS and ЕСИА-side names out of the logs', () => {
    const logs = w.logs.text()
    for (const value of ['Тимофей', 'Лев', '302223335', '303334447', '302-223-335']) expect(logs).not.toContain(value)
    expect(logs).not.toContain('children could not be compared')
  })
})
