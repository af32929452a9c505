import { createHash, randomBytes } from 'node:crypto'
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'
import { JOURNAL_CLIENT, journalBasicAuth } from './app.js'
import { HttpBrowser, type HttpPage } from './http-browser.js'
import { SUPPORT_LOGIN, SUPPORT_PASSWORD, type Region } from './region.js'

/**
 * The product's three journeys over real HTTP through a region's balancer: «Привязать…» (link
 * flow), «Войти через Госуслуги» (login, with «Выберите организацию» when the person has several
 * cards) and support's unlink in the console. Each throws, naming the step, when something a
 * person or a journal would notice goes wrong.
 */
export const LOGIN_REDIRECT = JOURNAL_CLIENT.redirect_uris[0]!
export const LINK_REDIRECT = JOURNAL_CLIENT.redirect_uris[1]!

const random = () => randomBytes(32).toString('base64url')

export class FlowError extends Error {
  override name = 'FlowError'
}

function expectStatus(page: HttpPage, status: number, step: string): HttpPage {
  if (page.status !== status) throw new FlowError(`${step}: ${page.url.pathname} answered ${page.status}, not ${status}: ${page.body.slice(0, 300)}`)
  return page
}

/** The journal's backend: its client credentials, the bridge through the same balancer as the browsers. */
export class RegionJournal {
  readonly backend: HttpBrowser
  /** The instance that answered each code redemption: the one that signed the tokens. */
  readonly signedBy: string[] = []
  #jwks: JSONWebKeySet | undefined

  constructor(
    readonly region: Region,
    trail?: string[],
  ) {
    this.backend = new HttpBrowser('127.0.0.1', trail)
  }

  async #call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpPage> {
    return this.backend.request(method, new URL(path, this.region.url), { headers, ...(body === undefined ? {} : { body }) })
  }

  async createLinkIntent(journalUserId: string, state: string): Promise<{ intent_id: string; url: string }> {
    const page = await this.#call('POST', '/api/v1/link-intents', { authorization: journalBasicAuth(), 'content-type': 'application/json' }, JSON.stringify({ journal_user_id: journalUserId, redirect_uri: LINK_REDIRECT, state }))
    return JSON.parse(expectStatus(page, 201, 'link intent').body) as { intent_id: string; url: string }
  }

  /** The browser is back at `redirect_uri`: state and iss checked, the code redeemed. */
  async redeem(location: string, expected: { redirectUri: string; state: string; verifier?: string }): Promise<Record<string, string>> {
    const back = new URL(location)
    if (`${back.origin}${back.pathname}` !== expected.redirectUri) throw new FlowError(`sent back to ${back.origin}${back.pathname}, not the journal`)
    if (back.searchParams.get('state') !== expected.state) throw new FlowError('state does not match')
    if (back.searchParams.get('iss') !== this.region.url) throw new FlowError(`iss ${back.searchParams.get('iss')} is not the bridge`)
    const code = back.searchParams.get('code')
    if (!code) throw new FlowError(`no code: error=${back.searchParams.get('error')}`)
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: expected.redirectUri, ...(expected.verifier ? { code_verifier: expected.verifier } : {}) })
    const page = await this.#call('POST', '/oauth2/token', { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' }, form.toString())
    this.signedBy.push(String(page.headers['x-bridge-instance']))
    return JSON.parse(expectStatus(page, 200, 'token').body) as Record<string, string>
  }

  async userinfo(accessToken: string): Promise<Record<string, unknown>> {
    return JSON.parse(expectStatus(await this.#call('GET', '/oauth2/userinfo', { authorization: `Bearer ${accessToken}` }), 200, 'userinfo').body) as Record<string, unknown>
  }

  async jwks(): Promise<JSONWebKeySet> {
    return JSON.parse(expectStatus(await this.#call('GET', '/oauth2/jwks', {}), 200, 'jwks').body) as JSONWebKeySet
  }

  /** Verifies a token against the bridge's JWKS as a stock client does: cached, fetched again for an unknown `kid`. */
  async verify<T extends JWTPayload>(token: string, opts: { typ?: string } = {}): Promise<T & { kid: string }> {
    const check = async () => {
      this.#jwks ??= await this.jwks()
      const { payload } = await jwtVerify<T>(token, createLocalJWKSet(this.#jwks), { issuer: this.region.url, audience: JOURNAL_CLIENT.client_id, algorithms: ['ES256'], ...opts })
      return { ...payload, kid: decodeProtectedHeader(token).kid! }
    }
    try {
      return await check()
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err
      this.#jwks = undefined
      return check()
    }
  }
}

/** The person at the mock ЕСИА: picks `personaId` and presses «Войти»; returns where it sends them back. */
async function atGosuslugi(browser: HttpBrowser, url: string, personaId: string): Promise<string> {
  const page = await browser.get(url)
  if (page.status === 302 && page.location) return page.location
  const tx = /name="tx" value="([^"]+)"/.exec(expectStatus(page, 200, 'Госуслуги').body)?.[1]
  if (!tx) throw new FlowError('no login form at the mock ЕСИА')
  const answer = await browser.post('/login', { tx, persona: personaId, action: 'login' }, page.url)
  if (answer.status !== 302 || !answer.location) throw new FlowError(`mock ЕСИА answered ${answer.status}`)
  return answer.location
}

export interface LinkTokenClaims extends JWTPayload {
  result: 'linked' | 'failed' | 'cancelled'
  reasons: string[]
}

/** «Привязать пользователя портала гос. услуг» for `journalUserId`, logging in at Госуслуги as `personaId`. */
export async function linkFlow(journal: RegionJournal, browser: HttpBrowser, journalUserId: string, personaId: string): Promise<LinkTokenClaims & { kid: string }> {
  const state = random()
  const intent = await journal.createLinkIntent(journalUserId, state)
  const confirmation = expectStatus(await browser.get(intent.url), 200, 'link page')
  const toEsia = expectStatus(await browser.press(confirmation, 'Перейти'), 303, '«Перейти»')
  const callback = await atGosuslugi(browser, toEsia.location!, personaId)
  let leaving = await browser.get(callback)
  if (leaving.location?.startsWith('/link/')) leaving = await browser.press(expectStatus(await browser.follow(leaving), 200, 'link result page'), 'Вернуться в журнал')
  expectStatus(leaving, 303, 'callback')
  const tokens = await journal.redeem(leaving.location!, { redirectUri: LINK_REDIRECT, state })
  return journal.verify<LinkTokenClaims>(tokens.link_token!, { typ: 'link+jwt' })
}

export interface LoginResult {
  sub: string
  kid: string
  chooser: boolean
  userinfo: Record<string, unknown>
}

/**
 * «Войти через Госуслуги» as `personaId`; when the chooser appears, picks `choose` (without it the
 * chooser is a failure).
 * The journal side is a stock client's: PKCE, state, nonce, the ID token verified, userinfo read.
 */
export async function loginFlow(journal: RegionJournal, browser: HttpBrowser, personaId: string, opts: { choose?: string } = {}): Promise<LoginResult> {
  const state = random()
  const nonce = random()
  const verifier = random()
  const authorize = new URL('/oauth2/authorize', journal.region.url)
  authorize.search = new URLSearchParams({
    response_type: 'code', client_id: JOURNAL_CLIENT.client_id, redirect_uri: LOGIN_REDIRECT, scope: 'openid', state, nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString()
  const toEsia = expectStatus(await browser.get(authorize), 303, 'authorize')
  const callback = await atGosuslugi(browser, toEsia.location!, personaId)
  let landed = expectStatus(await browser.get(callback), 303, 'callback')
  let chooser = false
  if (landed.location?.startsWith('/login/')) {
    if (!opts.choose) throw new FlowError(`the chooser appeared for ${personaId}, not expected`)
    chooser = true
    const page = expectStatus(await browser.follow(landed), 200, 'chooser')
    if (!page.body.includes('Выберите организацию')) throw new FlowError('the chooser page does not ask «Выберите организацию»')
    landed = expectStatus(await browser.pressValue(page, 'journal_user_id', opts.choose), 303, 'choose')
  }
  const tokens = await journal.redeem(landed.location!, { redirectUri: LOGIN_REDIRECT, state, verifier })
  const claims = await journal.verify<JWTPayload & { nonce: string }>(tokens.id_token!)
  if (claims.nonce !== nonce) throw new FlowError('nonce does not match')
  const userinfo = await journal.userinfo(tokens.access_token!)
  if (userinfo.sub !== claims.sub) throw new FlowError('userinfo answers for another subject')
  return { sub: claims.sub!, kid: claims.kid, chooser, userinfo }
}

/** Support logs in to the console, opens the card and presses «Отвязать» with a reason; returns the page that answers. */
export async function supportUnlink(region: Region, browser: HttpBrowser, journalUserId: string, reason: string): Promise<HttpPage> {
  const login = expectStatus(await browser.get('/admin/login', region.url), 200, 'console login page')
  expectStatus(await browser.press(login, 'Войти', { login: SUPPORT_LOGIN, password: SUPPORT_PASSWORD }), 303, 'console login')
  const card = expectStatus(await browser.get(`/admin/users/${encodeURIComponent(journalUserId)}`, region.url), 200, 'user card')
  const done = expectStatus(await browser.press(card, 'Отвязать', { reason }), 303, '«Отвязать»')
  return expectStatus(await browser.follow(done), 200, 'user card after unlink')
}
