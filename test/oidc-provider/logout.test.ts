import { createHash } from 'node:crypto'
import { generateKeyPair, SignJWT } from 'jose'
import { newSessionId } from '../../src/events/sessions.js'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signIdToken, signLinkToken } from '../../src/oidc-provider/tokens.js'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { CookieJar } from '../helpers/mock-esia.js'
import { Browser, textOf, type Page } from '../flows/browser.js'
import { startFlowWorld, type FlowWorld } from '../flows/helpers.js'
import { choose, LOGIN_REDIRECT, loginJourney, POST_LOGOUT_REDIRECT, StockJournal } from '../flows/login-helpers.js'

/**
 * GET /oauth2/logout, the journal's «Выйти» (OpenID Connect RP-Initiated Logout): the bridge
 * forgets what it keeps for the browser, takes it through ЕСИА's /idp/ext/Logout (so the next
 * person at a shared computer does not find a live Госуслуги session) and sends it back only to a
 * post_logout_redirect_uri registered for the client the ID token names.
 */
const CLAIMS = { auth_time: 1_756_713_600, amr: ['esia'], acr: 'esia:confirmed', org_id: 'school-12', role: 'parent' }

describe('logout through the bridge and ЕСИА', () => {
  let w: FlowWorld
  let journal: StockJournal
  const idToken = (aud = JOURNAL_CLIENT.client_id) =>
    signIdToken(w.app.signingKeys, { issuer: w.url, clientId: aud, journalUserId: 'u1001', nonce: 'n', claims: CLAIMS })

  /**
   * The browser follows the bridge to ЕСИА's logout and back; returns the bridge's last answer. A
   * logout without an ID token of ours as its hint is asked first: `answer` presses «Выйти».
   */
  async function logOut(browser: Browser, params: Record<string, string>, answer = false): Promise<{ toEsia: Page; last: Page }> {
    const url = oidc.buildEndSessionUrl(await journal.config(), params)
    let toEsia = await browser.get(`${url.pathname}${url.search}`)
    if (answer) {
      expect(toEsia.status).toBe(200)
      expect(textOf(toEsia.body)).toContain('Выйти из журнала?')
      toEsia = await browser.press(toEsia, 'Выйти')
    }
    expect(toEsia.status).toBe(303)
    const esia = new URL(toEsia.location!)
    expect(`${esia.origin}${esia.pathname}`).toBe(`${w.mock.url}/idp/ext/Logout`)
    expect(Object.fromEntries(esia.searchParams)).toEqual({ client_id: w.mock.clientId, redirect_url: `${w.url}/oauth2/logout/done` })
    const atEsia = await fetch(esia, { redirect: 'manual', headers: { cookie: new CookieJar().header() } })
    expect(atEsia.status).toBe(302)
    const back = new URL(atEsia.headers.get('location')!)
    return { toEsia, last: await browser.get(`${back.pathname}${back.search}`) }
  }

  /** The parent logs in through the chooser; the journal gets its tokens in this browser. */
  async function logIn() {
    const journey = await loginJourney(w, journal, 'parent-two-schools')
    const chosen = await choose(journey.browser, await journey.browser.get(journey.landed.location!), 'u1001')
    const { tokens } = await journal.receive(chosen.location!, journey.tx)
    return { browser: journey.browser, tokens }
  }

  beforeAll(async () => {
    w = await startFlowWorld()
    journal = new StockJournal(w)
  })
  afterAll(async () => w?.close())

  it('after a login: through ЕСИА and back to the journal with its state; pending pages are forgotten, the remembered school is kept for the next login', async () => {
    // The parent logs in with the chooser (so this browser remembers a choice), then starts again and stops at the chooser.
    const first = await loginJourney(w, journal, 'parent-two-schools')
    const chosen = await choose(first.browser, await first.browser.get(first.landed.location!), 'u1001')
    const { tokens } = await journal.receive(chosen.location!, first.tx)
    const browser = first.browser
    const cookiesBefore = [...browser.cookies.keys()]
    expect(cookiesBefore).toContain('bridge-last-choice')
    const waiting = await loginJourney(w, journal, 'parent-two-schools', { browser })

    const { last } = await logOut(browser, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT_REDIRECT, state: 'bye-1' })
    expect(last.status).toBe(303)
    expect(last.location).toBe(`${POST_LOGOUT_REDIRECT}?state=bye-1`)
    expect(browser.cookies.has('bridge-last-choice')).toBe(true)
    expect((await browser.get(waiting.landed.location!)).status).toBe(410)
  })

  it('an expired ID token is still a good hint: the journal’s session may outlive it', async () => {
    const { browser, tokens } = await logIn()
    const { kid, key } = await w.app.signingKeys.current()
    const now = Math.floor(Date.now() / 1000)
    const sid = tokens.claims()!.sid
    const expired = await new SignJWT({ ...CLAIMS, sid }).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).setIssuer(w.url).setAudience(JOURNAL_CLIENT.client_id).setSubject('u1001').setIssuedAt(now - 7200).setExpirationTime(now - 6600).sign(key)
    const { last } = await logOut(browser, { id_token_hint: expired, post_logout_redirect_uri: POST_LOGOUT_REDIRECT })
    expect(last.location).toBe(POST_LOGOUT_REDIRECT)
  })

  it('an ID token of ours from a login in another browser vouches for nothing: this browser’s person is asked', async () => {
    // Anyone can log in and get a valid ID token; a page of theirs must not log a visitor out with it.
    const { tokens } = await logIn()
    const visitor = new Browser(w.app)
    const { last } = await logOut(visitor, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT_REDIRECT }, true)
    expect(last.location).toBe(POST_LOGOUT_REDIRECT)
  })

  it('client_id alone identifies the journal too, once the person has said «Выйти»', async () => {
    const { last } = await logOut(new Browser(w.app), { client_id: JOURNAL_CLIENT.client_id, post_logout_redirect_uri: POST_LOGOUT_REDIRECT, state: 's' }, true)
    expect(last.location).toBe(`${POST_LOGOUT_REDIRECT}?state=s`)
  })

  // [case, the parameters, whether the person is asked first (no ID token of ours from a login in this browser as the hint)]
  const notRedirected: [string, () => Promise<Record<string, string>>, boolean][] = [
    ['an unregistered post_logout_redirect_uri', async () => ({ id_token_hint: await idToken(), post_logout_redirect_uri: 'https://evil.example/' }), true],
    ['a login redirect_uri used as the logout address', async () => ({ id_token_hint: await idToken(), post_logout_redirect_uri: LOGIN_REDIRECT }), true],
    ['a hint signed by someone else', async () => {
      const { privateKey } = await generateKeyPair('ES256')
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'forged' }).setIssuer(w.url).setAudience(JOURNAL_CLIENT.client_id).setSubject('u1001').setIssuedAt().setExpirationTime('5m').sign(privateKey)
      return { id_token_hint: forged, post_logout_redirect_uri: POST_LOGOUT_REDIRECT }
    }, true],
    ['a link token offered as the hint', async () => ({
      id_token_hint: await signLinkToken(w.app.signingKeys, { issuer: w.url, clientId: JOURNAL_CLIENT.client_id, journalUserId: 'u1001', outcome: { result: 'linked', reasons: [], evidence: [], replaced: false } }),
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT,
    }), true],
    ['a hint for another client than client_id', async () => ({ id_token_hint: await idToken('journal-other'), client_id: JOURNAL_CLIENT.client_id, post_logout_redirect_uri: POST_LOGOUT_REDIRECT }), true],
    ['an address with no client to confirm it', async () => ({ post_logout_redirect_uri: POST_LOGOUT_REDIRECT, client_id: 'unknown-journal' }), true],
  ]
  for (const [name, params, asked] of notRedirected) {
    it(`${name}: logged out all the same, but sent nowhere`, async () => {
      const { last } = await logOut(new Browser(w.app), await params(), asked)
      expect(last.status).toBe(200)
      expect(last.location).toBeUndefined()
      const text = textOf(last.body)
      expect(text).toContain('Вы вышли')
      expect(text).toContain('Вернуться в журнал автоматически не получилось')
    })
  }

  it('no parameters at all: the question, then through ЕСИА, then our page', async () => {
    const { last } = await logOut(new Browser(w.app), {}, true)
    expect(last.status).toBe(200)
    expect(textOf(last.body)).toContain('Вы вышли из входа через Госуслуги на этом устройстве')
  })

  it('coming back from ЕСИА without the bridge’s cookie (another browser, or forged) leads nowhere', async () => {
    const page = await new Browser(w.app).get('/oauth2/logout/done')
    expect(page.status).toBe(200)
    expect(page.location).toBeUndefined()
    expect(textOf(page.body)).toContain('Вы вышли')
  })
})

describe('logout without an upstream logout page', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t?.close())

  it('goes straight back to the registered address', async () => {
    // The browser the login was made in: its cookie, and the sid tagged with it.
    const browserId = 'b'.repeat(43)
    const sid = newSessionId(createHash('sha256').update(browserId).digest())
    const token = await signIdToken(t.app.signingKeys, { issuer: 'http://bridge.test', clientId: JOURNAL_CLIENT.client_id, journalUserId: 'u1', nonce: null, claims: { ...CLAIMS, sid } })
    const res = await t.app.inject({ method: 'GET', url: `/oauth2/logout?${new URLSearchParams({ id_token_hint: token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT, state: 'x' })}`, cookies: { 'bridge-browser': browserId } })
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe(`${POST_LOGOUT_REDIRECT}?state=x`)
  })
})
