import * as oidc from 'openid-client'
import { outcomeDescription } from '../../src/matching/outcome.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../../src/mock-idp/index.js'
import { snilsDigits } from '../../src/matching/snils.js'
import { JOURNAL_CLIENT } from '../helpers/app.js'
import { Browser, textOf } from './browser.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'
import { countRows, goToEsia, LOGIN_REDIRECT, loginJourney, StockJournal } from './login-helpers.js'

/**
 * Logins the bridge refuses, each with the reason the person reads and the journal hears, and with
 * nothing linked and no code issued; the refusals of the protocol itself (PKCE, a reused code,
 * tampered state) leave the database as it was.
 */
describe('refused logins', () => {
  let w: FlowWorld
  let journal: StockJournal
  const personas = new Map(loadPersonas().map((p) => [p.id, p]))
  const oid = (persona: string) => String(personas.get(persona)!.oid)

  beforeAll(async () => {
    w = await startFlowWorld()
    journal = new StockJournal(w)
  })
  afterAll(async () => w?.close())

  interface Case {
    persona: string
    reasons: string[]
    title: string
    /** Where support finds the attempt: the organisation of the card found, if one was. */
    organization: string | null
    journalUserIds?: string[]
    decline?: boolean
    /** Sentences of the Камчатка slides (docs/sources.md) / the catalogue the page must carry. */
    says?: string[]
  }
  const cases: Case[] = [
    { persona: 'standard-account', reasons: ['untrusted_account'], title: 'Нужна подтверждённая учётная запись Госуслуг', organization: null },
    { persona: 'simplified-account', reasons: ['untrusted_account'], title: 'Нужна подтверждённая учётная запись Госуслуг', organization: null },
    {
      persona: 'child-without-consent', reasons: ['child_consent_required'], title: 'Нужно согласие родителя', organization: null,
      says: ['«Согласия и доверенности»', 'нажимает «Разрешить». Согласие даётся один раз', 'через браузер, а не через мобильное приложение'],
    },
    { persona: 'shared-snils', reasons: ['ambiguous'], title: 'Нужна помощь школы', organization: 'gymnasium-3', journalUserIds: ['u1801', 'u1802'] },
    { persona: 'journal-typo', reasons: ['mismatch:last_name'], title: 'Не совпадает фамилия', organization: 'school-12', journalUserIds: ['u1701'] },
    {
      persona: 'no-snils-in-journal', reasons: ['not_found'], title: 'Мы не нашли вас в электронном журнале', organization: null,
      says: ['Школа должна внести в журнал ваши ФИО, дату рождения и СНИЛС'],
    },
    { persona: 'unknown-to-journal', reasons: ['not_found'], title: 'Мы не нашли вас в электронном журнале', organization: null },
    { persona: 'declines', reasons: ['idp_error:ESIA-007004'], title: 'Вы не разрешили передать данные', organization: null, decline: true },
  ]

  for (const c of cases) {
    it(`${c.persona}: ${c.reasons.join(', ')} — a page that says what to do, access_denied for the journal, nothing linked`, async () => {
      const before = await countRows(w)
      const { landed, browser, tx } = await loginJourney(w, journal, c.persona, { decline: c.decline })
      expect(landed.status).toBe(303)
      expect(landed.location).toMatch(/^\/login\/[A-Za-z0-9_-]{43}$/)

      const page = await browser.get(landed.location!)
      expect(page.status).toBe(200)
      const text = textOf(page.body)
      expect(text).toContain(c.title)
      for (const s of c.says ?? []) expect(text).toContain(s)
      // A child without consent is told about the consent and nothing else.
      if (c.reasons.includes('child_consent_required')) expect(text).not.toMatch(/Не совпадает|по-разному записаны/)
      // The page names fields, never stored values: no other card's name or SNILS.
      expect(text).not.toContain('Морозова')
      const digits = snilsDigits(personas.get(c.persona)!.snils ?? null)
      if (digits) expect(page.body).not.toContain(digits)

      // The database: no link, no code; one failed attempt and login.failed event per organisation found.
      const after = await countRows(w)
      expect(after).toEqual({ ...before, failed: before.failed + 1, attempts: before.attempts + 1 })
      const subject = c.decline ? null : oid(c.persona)
      const attempt = (await w.db.pool.query('SELECT * FROM failed_attempts ORDER BY id DESC LIMIT 1')).rows[0]
      expect(attempt).toMatchObject({ flow: 'login', reasons: c.reasons, organization_id: c.organization, upstream_subject: subject })
      expect(attempt.journal_user_id).toBe(c.journalUserIds?.length === 1 ? c.journalUserIds[0] : null)
      if (c.journalUserIds) expect(attempt.details.journal_user_ids).toEqual(c.journalUserIds)
      if (c.reasons.includes('child_consent_required')) expect(attempt).toMatchObject({ person_last_name: '', person_birth_date: null, person_snils_hmac: null })
      const event = (await w.db.pool.query(`SELECT * FROM audit_events WHERE type = 'login.failed' ORDER BY id DESC LIMIT 1`)).rows[0]
      expect(event).toMatchObject({ actor_kind: 'person', actor_id: subject, organization_id: c.organization, reason: c.reasons.join(' ') })
      expect(event.details).toMatchObject({ reasons: c.reasons, failed_attempt_id: attempt.id, client_id: JOURNAL_CLIENT.client_id })

      // The page survives a reload; «Вернуться в журнал» tells the journal, once.
      expect(textOf((await browser.get(landed.location!)).body)).toEqual(text)
      const back = await browser.press(page, 'Вернуться в журнал')
      const url = new URL(back.location!)
      expect(`${url.origin}${url.pathname}`).toBe(LOGIN_REDIRECT)
      expect(Object.fromEntries(url.searchParams)).toEqual({ error: 'access_denied', error_description: outcomeDescription(c.reasons), state: tx.state, iss: w.url })
      await expect(journal.receive(back.location!, tx)).rejects.toMatchObject({ error: 'access_denied' })
      expect((await browser.get(landed.location!)).status).toBe(410)
      expect(await countRows(w)).toEqual(after)
    })
  }

  describe('the protocol refuses', () => {
    it('a wrong code_verifier: invalid_grant, and nothing is issued', async () => {
      const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
      const before = await countRows(w)
      await expect(journal.receive(landed.location!, { ...tx, codeVerifier: oidc.randomPKCECodeVerifier() })).rejects.toMatchObject({ error: 'invalid_grant' })
      expect(await countRows(w)).toEqual(before)
      expect((await w.db.pool.query('SELECT count(*)::int AS n FROM access_tokens')).rows[0].n).toBe(0)
    })

    it('a reused code: invalid_grant, and the access token of the first use is revoked', async () => {
      const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
      const first = await journal.receive(landed.location!, tx)
      expect(first.claims.sub).toBe('u1401')
      await expect(journal.receive(landed.location!, tx)).rejects.toMatchObject({ error: 'invalid_grant' })
      await expect(oidc.fetchUserInfo(await journal.config(), first.tokens.access_token, 'u1401')).rejects.toMatchObject({ status: 401 })
    })

    it('a request without PKCE never leaves for Госуслуги: invalid_request on the redirect', async () => {
      const { url, tx } = await journal.start()
      url.searchParams.delete('code_challenge')
      url.searchParams.delete('code_challenge_method')
      const flows = (await w.db.pool.query('SELECT count(*)::int AS n FROM flow_states')).rows[0].n
      const answer = await new Browser(w.app).get(`${url.pathname}${url.search}`)
      expect(answer.status).toBe(303)
      await expect(journal.receive(answer.location!, tx)).rejects.toMatchObject({ error: 'invalid_request', error_description: 'code_challenge is required (PKCE with S256)' })
      expect((await w.db.pool.query('SELECT count(*)::int AS n FROM flow_states')).rows[0].n).toBe(flows)
    })

    it('a tampered state: the journal’s own check refuses the answer', async () => {
      const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
      const tampered = new URL(landed.location!)
      tampered.searchParams.set('state', `${tx.state}x`)
      const refused = await journal.receive(tampered.href, tx).catch((err: Error) => err)
      expect(refused).toBeInstanceOf(Error)
      expect(String((refused as Error & { cause?: Error }).cause?.message)).toMatch(/"state"/)
    })

    it('a tampered state on the way back from Госуслуги: an error page, nothing written, the real callback still works', async () => {
      const { browser, callback, tx } = await goToEsia(w, journal, 'double-surname')
      const before = await countRows(w)
      const forged = new URL(callback, w.url)
      forged.searchParams.set('state', '00000000-0000-4000-8000-000000000000')
      const page = await browser.get(`${forged.pathname}${forged.search}`)
      expect(page.status).toBe(400)
      expect(textOf(page.body)).toContain('Страница устарела или ссылка уже была использована')
      expect(await countRows(w)).toEqual(before)
      const landed = await browser.get(callback)
      expect((await journal.receive(landed.location!, tx)).claims.sub).toBe('u1501')
    })

    it('a callback carried to another browser: its own page, nothing written', async () => {
      const { callback } = await goToEsia(w, journal, 'double-surname')
      const before = await countRows(w)
      const page = await new Browser(w.app).get(callback)
      expect(page.status).toBe(400)
      expect(textOf(page.body)).toContain('Вход начат в другом браузере')
      expect(await countRows(w)).toEqual(before)
    })
  })

  describe('an access token from Госуслуги that fails ЕСИА\'s checks stops a returning person\'s login', () => {
    for (const [tamper, code] of [['access-token-expired', 'token_expired'], ['wrong-client-id', 'token_audience_mismatch'], ['subject-mismatch', 'token_subject_mismatch']] as const) {
      it(`${tamper}: refused with idp_error:${code}, no code and no link written`, async () => {
        // name-with-yo holds a link (earlier tests) and would log in on the tokens alone.
        const before = await countRows(w)
        w.mock.setFaults({ tamper })
        try {
          const { landed, browser } = await loginJourney(w, journal, 'name-with-yo')
          expect(landed.location).toMatch(/^\/login\//)
          expect(textOf((await browser.get(landed.location!)).body)).toContain('Не удалось войти через Госуслуги')
        } finally {
          w.mock.resetFaults()
        }
        expect(await countRows(w)).toEqual({ ...before, failed: before.failed + 1, attempts: before.attempts + 1 })
        const attempt = (await w.db.pool.query('SELECT reasons, upstream_subject FROM failed_attempts ORDER BY id DESC LIMIT 1')).rows[0]
        // Nothing of the refused tokens is believed, not even the subject.
        expect(attempt).toEqual({ reasons: [`idp_error:${code}`], upstream_subject: null })
      })
    }
  })

  it('an unconfirmed account that already holds a link logs in through it, and acr says it is not confirmed', async () => {
    // Linked by support earlier (e.g. when the account was confirmed); today ЕСИА reports it unconfirmed.
    await w.db.pool.query(`INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method, trusted, level) VALUES ('u1201', $1, 'gymnasium-3', 'parent', 'support_override', true, 'PR')`, [oid('standard-account')])
    const { landed, tx } = await loginJourney(w, journal, 'standard-account')
    const { claims } = await journal.receive(landed.location!, tx)
    expect(claims).toMatchObject({ sub: 'u1201', acr: 'esia:unconfirmed', org_id: 'gymnasium-3' })
  })

  it('a child account without consent is refused even when the card is linked', async () => {
    await w.db.pool.query(`INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method, trusted, level) VALUES ('u2002', $1, 'gymnasium-3', 'student', 'support_override', false, 'KD')`, [oid('child-without-consent')])
    const before = await countRows(w)
    const { landed, browser } = await loginJourney(w, journal, 'child-without-consent')
    expect(textOf((await browser.get(landed.location!)).body)).toContain('Нужно согласие родителя')
    expect(await countRows(w)).toMatchObject({ codes: before.codes, succeeded: before.succeeded, failed: before.failed + 1 })
  })
})
