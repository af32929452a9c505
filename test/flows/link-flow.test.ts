import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../../src/mock-idp/index.js'
import { snilsDigits } from '../../src/matching/snils.js'
import { JOURNAL_CLIENT, journalBasicAuth } from '../helpers/app.js'
import { loginAtMock } from '../helpers/mock-esia.js'
import { REDIRECT_URI, seedCard } from '../oidc-provider/helpers.js'
import { Browser, textOf, type Page } from './browser.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'

const ALL = ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils']
const without = (field: string) => ALL.filter((f) => f !== field)

interface LinkToken extends JWTPayload {
  result: 'linked' | 'failed' | 'cancelled'
  reasons: string[]
  evidence: string[]
  replaced: boolean
}

/**
 * «Привязать пользователя портала гос. услуг» end to end: the journal asks for an intent, the
 * person's browser confirms, logs in at the mock ЕСИА as a persona, comes back, and the journal
 * redeems the code for a link token it verifies with jose against /oauth2/jwks.
 */
describe('the link flow through the real bridge and the mock ЕСИА', () => {
  let w: FlowWorld
  const personas = new Map(loadPersonas().map((p) => [p.id, p]))
  const jwks = () => createRemoteJWKSet(new URL(`${w.url}/oauth2/jwks`))
  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    (await w.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params)).rows[0]!.n
  const writtenRows = async () => ({
    links: await count('links'),
    audit: await count('audit_events'),
    failed: await count('failed_attempts'),
    codes: await count('authorization_codes'),
    consumed: await count('link_intents', 'consumed_at IS NOT NULL'),
  })

  async function newIntent(journalUserId: string, state = `state-${journalUserId}-${Math.random()}`) {
    const res = await w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: { authorization: journalBasicAuth() }, payload: { journal_user_id: journalUserId, redirect_uri: REDIRECT_URI, state } })
    expect(res.statusCode).toBe(201)
    return { ...res.json<{ intent_id: string; url: string }>(), state }
  }

  /** The person presses «Привязать…» in the journal and «Перейти» on our page; returns where Госуслуги sends them back. */
  async function goToEsia(journalUserId: string, personaId: string, opts: { decline?: boolean; browser?: Browser } = {}) {
    const intent = await newIntent(journalUserId)
    const browser = opts.browser ?? new Browser(w.app)
    const toEsia = await browser.press(await browser.get(intent.url), 'Перейти')
    expect(toEsia.status).toBe(303)
    expect(toEsia.location!.startsWith(w.mock.url)).toBe(true)
    const callback = await loginAtMock(toEsia.location!, personaId, { decline: opts.decline })
    expect(`${callback.origin}${callback.pathname}`).toBe(`${w.url}/auth/callback`)
    return { intent, browser, callback: `${callback.pathname}${callback.search}` }
  }

  /** The journal's side of the return: state and iss checked, code redeemed, link token verified. */
  async function journalReceives(page: Page, state: string): Promise<LinkToken> {
    expect(page.status).toBe(303)
    const back = new URL(page.location!)
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI)
    expect(back.searchParams.get('state')).toBe(state)
    expect(back.searchParams.get('iss')).toBe(w.url)
    const res = await w.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT_URI }).toString(),
    })
    expect(res.statusCode).toBe(200)
    const { payload } = await jwtVerify<LinkToken>(res.json<{ link_token: string }>().link_token, jwks(), {
      issuer: w.url,
      audience: JOURNAL_CLIENT.client_id,
      typ: 'link+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['jti', 'iat', 'exp', 'sub'],
    })
    return payload
  }

  /** The whole journey; a failure passes through the result page and its «Вернуться в журнал». */
  async function link(journalUserId: string, personaId: string, opts: { decline?: boolean } = {}) {
    const { intent, browser, callback } = await goToEsia(journalUserId, personaId, opts)
    const landed = await browser.get(callback)
    let resultPage: Page | undefined
    let leaving = landed
    if (landed.location === `/link/${intent.intent_id}`) {
      resultPage = await browser.get(landed.location)
      expect(resultPage.status).toBe(200)
      leaving = await browser.press(resultPage, 'Вернуться в журнал')
    }
    return { token: await journalReceives(leaving, intent.state), resultPage, browser, callback, intent }
  }

  beforeAll(async () => {
    w = await startFlowWorld()
  })
  afterAll(async () => w?.close())

  // `evidence: null`: not asserted (ЕСИА withholds a child's data without the parent's consent, so
  // the adapter hands over an empty person; the consent reason leads whatever else is reported).
  const cases: { persona: string; card: string; result: 'linked' | 'failed'; reasons?: string[]; evidence: string[] | null; page?: string }[] = [
    { persona: 'parent-two-schools', card: 'u1001', result: 'linked', evidence: ALL },
    { persona: 'parent-two-schools', card: 'u1002', result: 'linked', evidence: ALL },
    { persona: 'teacher-parent', card: 'u1101', result: 'linked', evidence: ALL },
    { persona: 'teacher-parent', card: 'u1102', result: 'linked', evidence: ALL },
    { persona: 'standard-account', card: 'u1201', result: 'failed', reasons: ['untrusted_account'], evidence: ALL, page: 'Нужна подтверждённая учётная запись Госуслуг' },
    { persona: 'simplified-account', card: 'u1301', result: 'failed', reasons: ['untrusted_account'], evidence: ['last_name', 'first_name', 'middle_name'], page: 'Нужна подтверждённая учётная запись Госуслуг' },
    { persona: 'child-with-consent', card: 'u2001', result: 'linked', evidence: ALL },
    { persona: 'child-without-consent', card: 'u2002', result: 'failed', reasons: ['child_consent_required'], evidence: null, page: 'Нужно согласие родителя' },
    { persona: 'name-with-yo', card: 'u1401', result: 'linked', evidence: ALL },
    { persona: 'double-surname', card: 'u1501', result: 'linked', evidence: ALL },
    { persona: 'no-patronymic', card: 'u1601', result: 'linked', evidence: without('middle_name') },
    { persona: 'journal-typo', card: 'u1701', result: 'failed', reasons: ['mismatch:last_name'], evidence: without('last_name'), page: 'Не совпадает фамилия' },
    { persona: 'shared-snils', card: 'u1801', result: 'linked', evidence: ALL },
    { persona: 'no-snils-in-journal', card: 'u1901', result: 'linked', evidence: without('snils') },
    { persona: 'esia-test-snils', card: 'u2901', result: 'linked', evidence: ALL },
    { persona: 'unknown-to-journal', card: 'u1802', result: 'failed', reasons: ALL.map((f) => `mismatch:${f}`), evidence: [], page: 'Данные не совпадают' },
  ]

  for (const c of cases) {
    it(`${c.persona} links ${c.card}: ${c.result}${c.reasons ? ` (${c.reasons.join(', ')})` : ''}`, async () => {
      const persona = personas.get(c.persona)!
      const { token, resultPage } = await link(c.card, c.persona)
      expect(token).toMatchObject({ sub: c.card, result: c.result, replaced: false })
      if (c.evidence) {
        expect(token.reasons).toEqual(c.reasons ?? [])
        expect([...token.evidence].sort()).toEqual([...c.evidence].sort())
      } else {
        expect(token.reasons[0]).toBe(c.reasons![0])
      }
      expect(token.exp! - token.iat!).toBeLessThanOrEqual(300)

      const subject = String(persona.oid)
      // The link's own events; a parent's card also gets `guardian.checked` (test/flows/guardians.test.ts).
      const audit = (await w.db.pool.query(`SELECT type, actor_kind, actor_id, upstream_subject, details FROM audit_events WHERE journal_user_id = $1 AND type LIKE 'link.%' ORDER BY id`, [c.card])).rows
      if (c.result === 'linked') {
        expect(resultPage).toBeUndefined()
        const linkRow = (await w.db.pool.query('SELECT upstream_subject, method, evidence, trusted, level FROM links WHERE journal_user_id = $1', [c.card])).rows[0]
        expect(linkRow).toMatchObject({ upstream_subject: subject, method: 'link', level: persona.level })
        expect(audit).toEqual([expect.objectContaining({ type: 'link.created', actor_kind: 'person', actor_id: subject, upstream_subject: subject })])
        expect(await count('failed_attempts', 'journal_user_id = $1', [c.card])).toBe(0)
      } else {
        expect(textOf(resultPage!.body)).toContain(c.page!)
        expect(await count('links', 'journal_user_id = $1', [c.card])).toBe(0)
        expect(audit).toEqual([expect.objectContaining({ type: 'link.failed', actor_kind: 'person', actor_id: subject })])
        expect(audit[0].details).toMatchObject({ reasons: token.reasons, client_id: JOURNAL_CLIENT.client_id })
        const attempt = (await w.db.pool.query('SELECT * FROM failed_attempts WHERE journal_user_id = $1', [c.card])).rows[0]
        expect(attempt).toMatchObject({ flow: 'link', reasons: token.reasons, upstream_subject: subject })
        // Support sees the ЕСИА-side names to fix the card; SNILS only as an HMAC.
        if (c.evidence) expect(attempt).toMatchObject({ person_last_name: persona.lastName, person_first_name: persona.firstName })
        const digits = snilsDigits(persona.snils ?? null)
        if (digits) expect(JSON.stringify(attempt)).not.toContain(digits)
        if (digits && c.evidence) expect(attempt.person_snils_hmac).toHaveLength(32)
      }
    })
  }

  it('a person who declines at Госуслуги comes back to a page that says so; the journal learns idp_error:ESIA-007004', async () => {
    const { token, resultPage } = await link('u2101', 'declines', { decline: true })
    expect(token).toMatchObject({ sub: 'u2101', result: 'failed', reasons: ['idp_error:ESIA-007004'], evidence: [] })
    expect(textOf(resultPage!.body)).toContain('Вы не разрешили передать данные')
    const audit = (await w.db.pool.query(`SELECT actor_kind, actor_id, details FROM audit_events WHERE journal_user_id = 'u2101'`)).rows
    expect(audit).toEqual([expect.objectContaining({ actor_kind: 'person', actor_id: null })])
    expect(await count('failed_attempts', `journal_user_id = 'u2101' AND reasons = '{idp_error:ESIA-007004}'`)).toBe(1)
  })

  it('linking again by the same person changes nothing: the link stays, the trail says link.confirmed', async () => {
    const before = (await w.db.pool.query(`SELECT upstream_subject, created_at FROM links WHERE journal_user_id = 'u1001'`)).rows
    const { token } = await link('u1001', 'parent-two-schools')
    expect(token).toMatchObject({ result: 'linked', replaced: false })
    expect((await w.db.pool.query(`SELECT upstream_subject, created_at FROM links WHERE journal_user_id = 'u1001'`)).rows).toEqual(before)
    const types = (await w.db.pool.query(`SELECT type FROM audit_events WHERE journal_user_id = 'u1001' AND type LIKE 'link.%' ORDER BY id`)).rows.map((r) => r.type)
    expect(types).toEqual(['link.created', 'link.confirmed'])
  })

  it('linking a card that holds another Госуслуги account replaces that link, says so on the page beforehand and in the token', async () => {
    // Somebody else's account on Смирнова's card (linked by support from a wrong attempt, say).
    await w.db.pool.query(`UPDATE links SET upstream_subject = '1000399999' WHERE journal_user_id = 'u1001'`)
    const intent = await newIntent('u1001')
    const browser = new Browser(w.app)
    expect(textOf((await browser.get(intent.url)).body)).toContain('существующая связь будет удалена')
    const { token } = await link('u1001', 'parent-two-schools')
    expect(token).toMatchObject({ result: 'linked', replaced: true })
    const replaced = (await w.db.pool.query(`SELECT details FROM audit_events WHERE journal_user_id = 'u1001' AND type = 'link.replaced'`)).rows
    expect(replaced).toEqual([{ details: expect.objectContaining({ previous_subject: '1000399999' }) }])
    expect(await count('links', `journal_user_id = 'u1001' AND upstream_subject = $1`, [String(personas.get('parent-two-schools')!.oid)])).toBe(1)
  })

  it('refuses a second card of the same organisation and role for one person: already_linked_elsewhere, the old link stays', async () => {
    // A duplicate card of Смирнова in school-12 as a parent: a data error at school.
    await seedCard(w.db.pool, { id: 'u1001-dup', organization_id: 'school-12', role: 'parent', last_name: 'Смирнова', first_name: 'Ольга', middle_name: 'Викторовна', birth_date: '1985-03-14', snils: '112-345-671 21' })
    const { token, resultPage } = await link('u1001-dup', 'parent-two-schools')
    expect(token).toMatchObject({ result: 'failed', reasons: ['already_linked_elsewhere'], replaced: false })
    expect(textOf(resultPage!.body)).toContain('Эти Госуслуги уже привязаны к другой учётной записи журнала')
    expect(await count('links', `journal_user_id = 'u1001-dup'`)).toBe(0)
    expect(await count('links', `journal_user_id = 'u1001'`)).toBe(1)
    const failed = (await w.db.pool.query(`SELECT details FROM audit_events WHERE journal_user_id = 'u1001-dup' AND type = 'link.failed'`)).rows[0]
    expect(failed.details).toMatchObject({ reasons: ['already_linked_elsewhere'], other_journal_user_id: 'u1001' })
  })

  it('a failed relink leaves the existing link of the card in place', async () => {
    // u1101 is linked to teacher-parent; Кузнецова (journal-typo) tries to take it.
    const before = (await w.db.pool.query(`SELECT upstream_subject FROM links WHERE journal_user_id = 'u1101'`)).rows
    const { token } = await link('u1101', 'journal-typo')
    expect(token.result).toBe('failed')
    expect((await w.db.pool.query(`SELECT upstream_subject FROM links WHERE journal_user_id = 'u1101'`)).rows).toEqual(before)
  })

  it('a replayed callback gets an error page and changes nothing; the upstream code is never exchanged twice', async () => {
    const { browser, callback } = await link('u2401', 'name-with-yo')
    const before = await writtenRows()
    const replay = await browser.get(callback)
    expect(replay.status).toBe(400)
    expect(textOf(replay.body)).toContain('Что-то пошло не так')
    expect(await writtenRows()).toEqual(before)
  })

  it('a state carried to another browser gets its own page and changes nothing; the right browser can still finish', async () => {
    const { intent, browser, callback } = await goToEsia('u1501', 'double-surname')
    const before = await writtenRows()
    const other = await new Browser(w.app).get(callback)
    expect(other.status).toBe(400)
    expect(textOf(other.body)).toContain('Привязка уже начата в другом браузере')
    expect(await writtenRows()).toEqual(before)
    const token = await journalReceives(await browser.get(callback), intent.state)
    expect(token).toMatchObject({ result: 'linked', replaced: false })
  })

  it('an expired flow state gets an error page and changes nothing', async () => {
    const { browser, callback } = await goToEsia('u1601', 'no-patronymic')
    await w.db.pool.query(`UPDATE flow_states SET expires_at = now() - interval '1 second'`)
    const before = await writtenRows()
    const page = await browser.get(callback)
    expect(page.status).toBe(400)
    expect(textOf(page.body)).toContain('Страница устарела или ссылка уже была использована')
    expect(await writtenRows()).toEqual(before)
    expect(await count('flow_states')).toBe(0)
  })

  it('a forged callback with an unknown state changes nothing', async () => {
    const before = await writtenRows()
    const browser = new Browser(w.app)
    const page = await browser.get('/auth/callback?state=00000000-0000-4000-8000-000000000000&code=forged')
    expect(page.status).toBe(400)
    expect(await writtenRows()).toEqual(before)
  })

  it('30 concurrent link attempts by one person for one card: exactly one link, one link.created, no link.replaced', async () => {
    await seedCard(w.db.pool, { id: 'race-1', organization_id: 'kindergarten-7', role: 'staff', last_name: 'Ли', first_name: 'Виктория', birth_date: '1992-04-17', snils: '203-468-025 33' })
    const trips = await Promise.all(Array.from({ length: 30 }, () => goToEsia('race-1', 'no-patronymic')))
    const landed = await Promise.all(trips.map((t) => t.browser.get(t.callback)))
    const tokens = await Promise.all(landed.map((page, i) => journalReceives(page, trips[i]!.intent.state)))
    expect(new Set(tokens.map((t) => t.result))).toEqual(new Set(['linked']))
    expect(tokens.filter((t) => t.replaced)).toEqual([])
    expect(await count('links', `journal_user_id = 'race-1'`)).toBe(1)
    const types = (await w.db.pool.query(`SELECT type, count(*)::int AS n FROM audit_events WHERE journal_user_id = 'race-1' GROUP BY type ORDER BY type`)).rows
    expect(types).toEqual([{ type: 'link.confirmed', n: 29 }, { type: 'link.created', n: 1 }])
  })

  it('a result page survives a reload, and its way back works once', async () => {
    const { intent, browser, callback } = await goToEsia('u1201', 'standard-account')
    const landed = await browser.get(callback)
    const first = await browser.get(landed.location!)
    const reload = await browser.get(landed.location!)
    expect(textOf(reload.body)).toEqual(textOf(first.body))
    const leaving = await browser.press(reload, 'Вернуться в журнал')
    await journalReceives(leaving, intent.state)
    const again = await browser.press(first, 'Вернуться в журнал')
    expect(again.location).toBe(`/link/${intent.intent_id}`)
    expect((await browser.get(again.location!)).status).toBe(410)
  })

  it('counts flows in /metrics and keeps names and SNILS out of the logs', async () => {
    const metrics = (await w.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/bridge_flows_started_total\{flow="link"\} \d+/)
    expect(metrics).toMatch(/bridge_flows_finished_total\{flow="link",result="linked"\} \d+/)
    expect(metrics).toMatch(/bridge_flows_failed_total\{flow="link",reason="untrusted_account"\} \d+/)
    expect(metrics).toMatch(/bridge_flows_failed_total\{flow="link",reason="idp_error:ESIA-007004"\} 1/)
    expect(metrics).toMatch(/bridge_flow_callbacks_refused_total\{refusal="other_browser"\} 1/)
    const logs = w.logs.text()
    for (const p of personas.values()) {
      expect(logs).not.toContain(p.lastName)
      const digits = snilsDigits(p.snils ?? null)
      if (digits) expect(logs).not.toContain(digits)
    }
  })
})
