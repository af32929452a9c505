import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../../src/mock-idp/index.js'
import { snilsDigits } from '../../src/matching/snils.js'
import { JOURNAL_CLIENT } from '../helpers/app.js'
import { Browser, textOf } from './browser.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'
import { choose, chooserOptions, countRows, goToEsia, LOGIN_REDIRECT, loginJourney, statementsDuring, StockJournal } from './login-helpers.js'

/**
 * «Войти через Госуслуги» end to end: a journal using openid-client exactly as documented
 * (discovery, PKCE, state, nonce, code grant, userinfo), the person's browser through the real
 * bridge and the mock ЕСИА, the demo journal's directory. Each persona's first login links their
 * cards by strong evidence (or explains why not); the next one goes through the link.
 */
describe('login through the bridge with a stock OpenID Connect client', () => {
  let w: FlowWorld
  let journal: StockJournal
  const personas = new Map(loadPersonas().map((p) => [p.id, p]))
  const oid = (persona: string) => String(personas.get(persona)!.oid)
  const linksOf = async (subject: string) =>
    (await w.db.pool.query(`SELECT journal_user_id, method FROM links WHERE upstream_subject = $1 ORDER BY journal_user_id`, [subject])).rows

  beforeAll(async () => {
    w = await startFlowWorld()
    journal = new StockJournal(w)
  })
  afterAll(async () => w?.close())

  const straightIn: { persona: string; sub: string; org: string; role: string; acr: string; names: [string, string, string | undefined] }[] = [
    { persona: 'name-with-yo', sub: 'u1401', org: 'elizovo-school-1', role: 'parent', acr: 'esia:confirmed', names: ['Федоров', 'Петр', 'Семенович'] },
    { persona: 'double-surname', sub: 'u1501', org: 'gymnasium-3', role: 'parent', acr: 'esia:confirmed', names: ['Мамина – Сибирякова', 'Екатерина', 'Олеговна'] },
    { persona: 'no-patronymic', sub: 'u1601', org: 'kindergarten-7', role: 'parent', acr: 'esia:confirmed', names: ['Ли', 'Виктория', undefined] },
    { persona: 'esia-test-snils', sub: 'u2901', org: 'ddt', role: 'staff', acr: 'esia:confirmed', names: ['Орлова', 'Анастасия', 'Игоревна'] },
    { persona: 'child-with-consent', sub: 'u2001', org: 'school-12', role: 'student', acr: 'esia:child', names: ['Смирнов', 'Артём', 'Дмитриевич'] },
  ]

  for (const c of straightIn) {
    it(`${c.persona} logs in for the first time: linked automatically, the journal gets sub ${c.sub}, ${c.org}, ${c.role}`, async () => {
      const { landed, tx } = await loginJourney(w, journal, c.persona)
      expect(landed.status).toBe(303)
      expect(landed.location!.startsWith(LOGIN_REDIRECT)).toBe(true)
      const { claims, userinfo, tokens } = await journal.receive(landed.location!, tx)

      expect(claims).toMatchObject({ iss: w.url, aud: JOURNAL_CLIENT.client_id, sub: c.sub, org_id: c.org, role: c.role, amr: ['esia'], acr: c.acr, nonce: tx.nonce })
      expect(claims.family_name).toBe(c.names[0])
      expect(claims.given_name).toBe(c.names[1])
      expect(claims.middle_name).toBe(c.names[2])
      expect(claims.auth_time).toBeGreaterThan(Date.now() / 1000 - 60)
      expect(tokens.token_type.toLowerCase()).toBe('bearer')
      // userinfo: the same person, without the authentication-event claims.
      expect(userinfo).toMatchObject({ sub: c.sub, org_id: c.org, role: c.role, family_name: c.names[0] })
      expect(userinfo).not.toHaveProperty('acr')

      expect(await linksOf(oid(c.persona))).toEqual([{ journal_user_id: c.sub, method: 'auto' }])
      // A parent's card also gets `guardian.checked`: the children are compared at this first login (test/flows/guardians.test.ts).
      const audit = (await w.db.pool.query(`SELECT type, actor_id, upstream_subject, details FROM audit_events WHERE journal_user_id = $1 AND type <> 'guardian.checked' ORDER BY id`, [c.sub])).rows
      expect(audit.map((a) => a.type)).toEqual(['link.created', 'login.succeeded'])
      expect(audit[0].details).toMatchObject({ method: 'auto', client_id: JOURNAL_CLIENT.client_id })
      expect(audit[1]).toMatchObject({ actor_id: oid(c.persona), upstream_subject: oid(c.persona) })
      expect(audit[1].details).toMatchObject({ method: 'auto', chooser: false, client_id: JOURNAL_CLIENT.client_id, acr: c.acr })
    })
  }

  it('the next login goes through the link: no new link, method link, last login recorded', async () => {
    const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
    const { claims } = await journal.receive(landed.location!, tx)
    expect(claims.sub).toBe('u1401')
    expect(await linksOf(oid('name-with-yo'))).toEqual([{ journal_user_id: 'u1401', method: 'auto' }])
    const last = (await w.db.pool.query(`SELECT details FROM audit_events WHERE journal_user_id = 'u1401' AND type = 'login.succeeded' ORDER BY id DESC LIMIT 1`)).rows[0]
    expect(last.details).toMatchObject({ method: 'link', chooser: false })
    const link = (await w.db.pool.query(`SELECT last_login_at FROM links WHERE journal_user_id = 'u1401'`)).rows[0]
    expect(Date.now() - link.last_login_at.getTime()).toBeLessThan(60_000)
  })

  it('a returning person logs in on the verified token alone: the person data service is not asked', async () => {
    // With /rs/prns answering garbage, any login that needed the person's data would fail.
    w.mock.setFaults({ malformedJson: 'person' })
    try {
      const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
      expect((await journal.receive(landed.location!, tx)).claims.sub).toBe('u1401')
      // A first login does need the data (to find the cards), and says the service failed.
      const first = await loginJourney(w, journal, 'unknown-to-journal')
      expect(first.landed.location).toMatch(/^\/login\//)
      const attempt = await w.db.pool.query(`SELECT reasons FROM failed_attempts WHERE upstream_subject = $1 OR (upstream_subject IS NULL AND flow = 'login') ORDER BY id DESC LIMIT 1`, [oid('unknown-to-journal')])
      expect(attempt.rows[0].reasons[0]).toMatch(/^idp_error:/)
    } finally {
      w.mock.resetFaults()
    }
  })

  it('a returning person’s callback takes two statements, and the same callback again is refused with nothing written', async () => {
    const { browser, callback, tx } = await goToEsia(w, journal, 'name-with-yo')
    const { result: landed, statements } = await statementsDuring(w, () => browser.get(callback))
    expect(landed.status).toBe(303)
    // The state recorded as used; then the cards read, the code, the last login and the audit event written in one.
    expect(statements).toBe(2)

    const before = await countRows(w)
    const replay = await browser.get(callback)
    expect(replay.status).toBe(400)
    expect(textOf(replay.body)).toContain('Страница устарела или ссылка уже была использована')
    expect(await countRows(w)).toEqual(before)
    expect((await journal.receive(landed.location!, tx)).claims.sub).toBe('u1401')
  })

  describe('«Выберите организацию»', () => {
    it('the parent with children in two schools gets both cards linked and the chooser: school, role and the name on each card', async () => {
      const before = await countRows(w)
      const { landed, browser, tx } = await loginJourney(w, journal, 'parent-two-schools')
      expect(landed.status).toBe(303)
      expect(landed.location).toMatch(/^\/login\/[A-Za-z0-9_-]{43}$/)
      // Linked at the callback, one link per organisation and role, before anything is chosen.
      expect(await linksOf(oid('parent-two-schools'))).toEqual([
        { journal_user_id: 'u1001', method: 'auto' },
        { journal_user_id: 'u1002', method: 'auto' },
      ])

      const chooser = await browser.get(landed.location!)
      expect(chooser.status).toBe(200)
      expect(textOf(chooser.body)).toContain('Выберите организацию')
      expect(chooserOptions(chooser)).toEqual([
        { value: 'u1002', remembered: false, label: 'МАОУ «Гимназия № 3» Родитель · Смирнова Ольга Викторовна' },
        { value: 'u1001', remembered: false, label: 'МБОУ «Средняя школа № 12» Родитель · Смирнова Ольга Викторовна' },
      ])
      expect((await countRows(w)).codes).toBe(before.codes)

      const chosen = await choose(browser, chooser, 'u1001')
      expect(chosen.status).toBe(303)
      const { claims } = await journal.receive(chosen.location!, tx)
      expect(claims).toMatchObject({ sub: 'u1001', org_id: 'school-12', role: 'parent', acr: 'esia:confirmed' })
      const audit = (await w.db.pool.query(`SELECT details FROM audit_events WHERE journal_user_id = 'u1001' AND type = 'login.succeeded'`)).rows
      expect(audit).toEqual([{ details: expect.objectContaining({ method: 'auto', chooser: true, candidates: 2 }) }])

      // The choice is remembered in this browser and marked next time; the chooser is still shown.
      const again = await loginJourney(w, journal, 'parent-two-schools', { browser })
      const second = await browser.get(again.landed.location!)
      expect(chooserOptions(second).map((o) => [o.value, o.remembered])).toEqual([['u1002', false], ['u1001', true]])
      expect(textOf(second.body)).toContain('Вы выбирали её в прошлый раз')
      const other = await journal.receive((await choose(browser, second, 'u1002')).location!, again.tx)
      expect(other.claims).toMatchObject({ sub: 'u1002', org_id: 'gymnasium-3', role: 'parent' })
      expect((await w.db.pool.query(`SELECT details FROM audit_events WHERE journal_user_id = 'u1002' AND type = 'login.succeeded'`)).rows[0].details).toMatchObject({ method: 'link', chooser: true })

      // Another browser remembers nothing.
      const fresh = await loginJourney(w, journal, 'parent-two-schools')
      expect(chooserOptions(await fresh.browser.get(fresh.landed.location!)).every((o) => !o.remembered)).toBe(true)
    })

    it('the teacher who is also a parent chooses between her two roles in one school', async () => {
      const { landed, browser, tx } = await loginJourney(w, journal, 'teacher-parent')
      const chooser = await browser.get(landed.location!)
      expect(chooserOptions(chooser).map((o) => o.label)).toEqual([
        'МБОУ «Средняя школа № 12» Родитель · Иванова Марина Сергеевна',
        'МБОУ «Средняя школа № 12» Сотрудник · Иванова Марина Сергеевна',
      ])
      const { claims } = await journal.receive((await choose(browser, chooser, 'u1101')).location!, tx)
      expect(claims).toMatchObject({ sub: 'u1101', org_id: 'school-12', role: 'staff' })
    })

    it('a card whose link support removed while the person was choosing: «start again», and nothing is issued', async () => {
      const { landed, browser } = await loginJourney(w, journal, 'teacher-parent')
      const chooser = await browser.get(landed.location!)
      await w.db.pool.query(`DELETE FROM links WHERE journal_user_id = 'u1101'`)
      const before = await countRows(w)
      const chosen = await choose(browser, chooser, 'u1101')
      expect(chosen.status).toBe(410)
      expect(await countRows(w)).toEqual(before)
      expect(browser.cookies.has('bridge-last-choice')).toBe(false)
    })

    it('prompt=select_account shows the chooser even for one card', async () => {
      const { landed, browser, tx } = await loginJourney(w, journal, 'double-surname', { extra: { prompt: 'select_account' } })
      expect(landed.location).toMatch(/^\/login\//)
      const chooser = await browser.get(landed.location!)
      expect(chooserOptions(chooser)).toEqual([{ value: 'u1501', remembered: false, label: 'МАОУ «Гимназия № 3» Родитель · Мамина – Сибирякова Екатерина Олеговна' }])
      const { claims } = await journal.receive((await choose(browser, chooser, 'u1501')).location!, tx)
      expect(claims.sub).toBe('u1501')
    })

    it('a card that is not on offer is never logged into: the chooser comes back, and nothing is issued', async () => {
      const { landed, browser, tx } = await loginJourney(w, journal, 'parent-two-schools')
      const chooser = await browser.get(landed.location!)
      const before = await countRows(w)
      for (const forged of ['u1101', 'u2001', '']) {
        const refused = await choose(browser, chooser, forged)
        expect(refused.status).toBe(400)
        expect(textOf(refused.body)).toContain('Выберите одну из учётных записей')
      }
      expect(await countRows(w)).toEqual(before)
      // The real choice still works afterwards, once.
      const chosen = await choose(browser, chooser, 'u1002')
      expect((await journal.receive(chosen.location!, tx)).claims.sub).toBe('u1002')
      const twice = await choose(browser, chooser, 'u1002')
      expect(twice.status).toBe(303)
      expect(twice.location).toBe(landed.location)
      expect((await browser.get(twice.location!)).status).toBe(410)
    })

    it('a chooser opened in another browser shows its own page and cannot be used', async () => {
      const { landed, browser } = await loginJourney(w, journal, 'parent-two-schools')
      const chooser = await browser.get(landed.location!)
      const stranger = new Browser(w.app)
      const seen = await stranger.get(landed.location!)
      expect(seen.status).toBe(403)
      expect(textOf(seen.body)).toContain('Вход начат в другом браузере')
      expect(textOf(seen.body)).not.toContain('Смирнова')
      // Even with the page's own form fields, another browser's post takes nothing.
      const form = /action="([^"]+\/choose)">\s*<input type="hidden" name="_csrf" value="([^"]+)">/.exec(chooser.body)!
      const forged = await stranger.post(form[1]!, { _csrf: form[2]!, journal_user_id: 'u1001' })
      expect(forged.status).toBe(403)
      expect((await browser.get(landed.location!)).status).toBe(200)
    })

    it('«Отменить» sends the journal access_denied with its state', async () => {
      const { landed, browser, tx } = await loginJourney(w, journal, 'parent-two-schools')
      const back = await browser.press(await browser.get(landed.location!), 'Отменить')
      const url = new URL(back.location!)
      expect(`${url.origin}${url.pathname}`).toBe(LOGIN_REDIRECT)
      expect(Object.fromEntries(url.searchParams)).toMatchObject({ error: 'access_denied', error_description: 'cancelled', state: tx.state, iss: w.url })
      await expect(journal.receive(back.location!, tx)).rejects.toMatchObject({ error: 'access_denied' })
    })
  })

  it('counts logins in /metrics and keeps names and SNILS out of the logs', async () => {
    const metrics = (await w.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/bridge_flows_started_total\{flow="login"\} \d+/)
    expect(metrics).toMatch(/bridge_flows_finished_total\{flow="login",result="logged_in"\} \d+/)
    expect(metrics).toMatch(/bridge_flows_finished_total\{flow="login",result="cancelled"\} 1/)
    const logs = w.logs.text()
    for (const p of personas.values()) {
      expect(logs).not.toContain(p.lastName)
      const digits = snilsDigits(p.snils ?? null)
      if (digits) expect(logs).not.toContain(digits)
    }
  })
})
