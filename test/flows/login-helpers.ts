import * as oidc from 'openid-client'
import { expect } from 'vitest'
import { JOURNAL_CLIENT } from '../helpers/app.js'
import { CookieJar, loginAtMock } from '../helpers/mock-esia.js'
import { Browser, type Page } from './browser.js'
import type { FlowWorld } from './helpers.js'

/** Where the test journal takes people back after «Войти через Госуслуги». */
export const LOGIN_REDIRECT = JOURNAL_CLIENT.redirect_uris[0]!
export const POST_LOGOUT_REDIRECT = JOURNAL_CLIENT.post_logout_redirect_uris![0]!

export interface LoginTransaction {
  state: string
  nonce: string
  codeVerifier: string
}

/**
 * The test journal, written the way a journal's backend would use a stock OpenID Connect client:
 * openid-client's discovery, PKCE, state and nonce, code grant and userinfo — nothing bespoke.
 */
export class StockJournal {
  #config: oidc.Configuration | undefined
  constructor(readonly world: FlowWorld) {}

  async config(): Promise<oidc.Configuration> {
    this.#config ??= await oidc.discovery(new URL(this.world.url), JOURNAL_CLIENT.client_id, JOURNAL_CLIENT.client_secret, oidc.ClientSecretBasic(JOURNAL_CLIENT.client_secret), {
      execute: [oidc.allowInsecureRequests],
    })
    return this.#config
  }

  /** «Войти через Госуслуги» pressed in the journal: where the browser goes, and what the journal keeps. */
  async start(extra: Record<string, string> = {}): Promise<{ url: URL; tx: LoginTransaction }> {
    const tx = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() }
    const url = oidc.buildAuthorizationUrl(await this.config(), {
      redirect_uri: LOGIN_REDIRECT,
      scope: 'openid',
      state: tx.state,
      nonce: tx.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(tx.codeVerifier),
      code_challenge_method: 'S256',
      ...extra,
    })
    return { url, tx }
  }

  /** The browser is back at the journal: openid-client checks state, iss, nonce, PKCE and the ID token. */
  async receive(location: string, tx: LoginTransaction) {
    const config = await this.config()
    const tokens = await oidc.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: tx.codeVerifier,
      expectedState: tx.state,
      expectedNonce: tx.nonce,
      idTokenExpected: true,
    })
    const claims = tokens.claims()!
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
    return { tokens, claims, userinfo }
  }
}

export interface Journey {
  browser: Browser
  tx: LoginTransaction
  /** The bridge's answer to the callback (a redirect to the journal, the chooser or a failure page). */
  landed: Page
  /** Path and query of the callback the mock sent the browser to. */
  callback: string
}

/**
 * A person presses «Войти через Госуслуги» in the journal, goes through the bridge to the mock
 * ЕСИА, logs in as `persona` (or declines) and comes back to the bridge's callback.
 */
export async function goToEsia(w: FlowWorld, journal: StockJournal, persona: string, opts: { browser?: Browser; extra?: Record<string, string>; decline?: boolean; esiaJar?: CookieJar } = {}) {
  const { url, tx } = await journal.start(opts.extra)
  const browser = opts.browser ?? new Browser(w.app)
  const toEsia = await browser.get(`${url.pathname}${url.search}`)
  expect(toEsia.status).toBe(303)
  expect(toEsia.location!.startsWith(w.mock.url)).toBe(true)
  const back = await loginAtMock(toEsia.location!, persona, { decline: opts.decline, jar: opts.esiaJar })
  expect(`${back.origin}${back.pathname}`).toBe(`${w.url}/auth/callback`)
  return { browser, tx, callback: `${back.pathname}${back.search}` }
}

export async function loginJourney(w: FlowWorld, journal: StockJournal, persona: string, opts: Parameters<typeof goToEsia>[3] = {}): Promise<Journey> {
  const started = await goToEsia(w, journal, persona, opts)
  return { ...started, landed: await started.browser.get(started.callback) }
}

/** The cards of the chooser (one button each): value, whether marked as last time's choice, and the card's text. */
export function chooserOptions(page: Page): { value: string; remembered: boolean; label: string }[] {
  return [...page.body.matchAll(/<li><button type="submit" name="journal_user_id" value="([^"]+)"( class="remembered")?>([\s\S]*?)<\/button><\/li>/g)].map((m) => ({
    value: m[1]!,
    remembered: m[2] !== undefined,
    label: m[3]!.replace(/<span class="tag">[^<]*<\/span>/, '').replace(/<[^>]+>/g, ' ').replace(/&laquo;/g, '«').replace(/&raquo;/g, '»').replace(/\s+/g, ' ').trim(),
  }))
}

/** Presses a card on the chooser page (the form posts the button's value). */
export function choose(browser: Browser, page: Page, journalUserId: string): Promise<Page> {
  const form = /<form method="post" action="([^"]+\/choose)">\s*<input type="hidden" name="_csrf" value="([^"]+)">/.exec(page.body)
  if (!form) throw new Error('No chooser form on the page')
  return browser.post(form[1]!, { _csrf: form[2]!, journal_user_id: journalUserId })
}

/** Row counts that a refused login must leave as they were (plus what it may add). */
export async function countRows(w: FlowWorld) {
  const count = async (sql: string) => (await w.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n
  return {
    links: await count('links'),
    codes: await count('authorization_codes'),
    succeeded: await count(`audit_events WHERE type = 'login.succeeded'`),
    failed: await count(`audit_events WHERE type = 'login.failed'`),
    attempts: await count('failed_attempts'),
  }
}

/** How many statements (connections taken from the pool) `fn` makes the bridge run. */
export async function statementsDuring<T>(w: FlowWorld, fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  let statements = 0
  const count = () => void statements++
  w.db.pool.on('acquire', count)
  try {
    return { result: await fn(), statements }
  } finally {
    w.db.pool.off('acquire', count)
  }
}
