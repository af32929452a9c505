import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { textOf } from '../flows/browser.js'

/**
 * GET /oauth2/authorize as a journal (or an attacker) may call it. RFC 6749 §4.1.2.1: a request
 * whose client or redirect_uri cannot be trusted gets a page and never a redirect; after that,
 * every refusal goes back on the registered redirect_uri with error, state and iss. None of them
 * starts a trip to Госуслуги (no flow state is written, no login cookie is set).
 */
const REDIRECT = JOURNAL_CLIENT.redirect_uris[0]!
const GOOD = {
  response_type: 'code',
  client_id: JOURNAL_CLIENT.client_id,
  redirect_uri: REDIRECT,
  scope: 'openid',
  state: 'journal-state-1',
  nonce: 'journal-nonce-1',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
}

describe('GET /oauth2/authorize', () => {
  let t: TestApp
  const flowStates = async () => (await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM flow_states')).rows[0]!.n
  /** A login's flow state travels in a cookie named bridge-login-…: a refused request sets none. */
  const loginCookies = (res: { cookies: { name: string }[] }) => res.cookies.filter((c) => c.name.includes('bridge-login-'))
  const authorize = (params: Record<string, string | undefined>) => {
    const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined))
    return t.app.inject({ method: 'GET', url: `/oauth2/authorize?${qs}` })
  }

  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t?.close())

  describe('a request that cannot be trusted gets a page, never a redirect', () => {
    const cases: [string, Record<string, string | undefined>, string][] = [
      ['no client_id', { ...GOOD, client_id: undefined }, 'не подключён к входу через Госуслуги'],
      ['an unknown client', { ...GOOD, client_id: 'evil-journal' }, 'не подключён к входу через Госуслуги'],
      ['no redirect_uri', { ...GOOD, redirect_uri: undefined }, 'адрес возврата, который у нас не зарегистрирован'],
      ['an unregistered redirect_uri', { ...GOOD, redirect_uri: 'https://evil.example/callback' }, 'адрес возврата, который у нас не зарегистрирован'],
      ['a registered redirect_uri with a trailing slash', { ...GOOD, redirect_uri: `${REDIRECT}/` }, 'адрес возврата, который у нас не зарегистрирован'],
      ['a registered redirect_uri with an extra query', { ...GOOD, redirect_uri: `${REDIRECT}?next=https://evil.example` }, 'адрес возврата, который у нас не зарегистрирован'],
      ['a registered redirect_uri in other letter case', { ...GOOD, redirect_uri: REDIRECT.toUpperCase() }, 'адрес возврата, который у нас не зарегистрирован'],
      ['another client’s redirect_uri… from a client that does not exist', { ...GOOD, client_id: 'demo-journal' }, 'не подключён к входу через Госуслуги'],
    ]
    for (const [name, params, says] of cases) {
      it(name, async () => {
        const res = await authorize(params)
        expect(res.statusCode).toBe(400)
        expect(res.headers.location).toBeUndefined()
        expect(res.headers['content-type']).toMatch(/text\/html/)
        expect(textOf(res.body)).toContain('Не получилось начать вход')
        expect(textOf(res.body)).toContain(says)
        expect(await flowStates()).toBe(0)
        expect(loginCookies(res)).toEqual([])
      })
    }

    it('a repeated parameter', async () => {
      const res = await t.app.inject({ method: 'GET', url: `/oauth2/authorize?${new URLSearchParams(GOOD)}&redirect_uri=${encodeURIComponent('https://evil.example/')}` })
      expect(res.statusCode).toBe(400)
      expect(res.headers.location).toBeUndefined()
      expect(textOf(res.body)).toContain('не можем разобрать')
    })
  })

  describe('after the client and redirect_uri check out, refusals go back to the journal', () => {
    const cases: [string, Record<string, string | undefined>, string, string][] = [
      ['response_type missing', { response_type: undefined }, 'invalid_request', 'response_type is required'],
      ['the implicit flow', { response_type: 'token' }, 'unsupported_response_type', 'Only response_type=code is supported'],
      ['the hybrid flow', { response_type: 'code id_token' }, 'unsupported_response_type', 'Only response_type=code is supported'],
      ['a fragment response', { response_mode: 'fragment' }, 'invalid_request', 'Only response_mode=query is supported'],
      ['no openid scope', { scope: 'profile' }, 'invalid_scope', 'scope must include openid'],
      ['no nonce', { nonce: undefined }, 'invalid_request', 'nonce is required'],
      ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request', 'code_challenge is required (PKCE with S256)'],
      ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request', 'code_challenge_method must be S256'],
      ['PKCE without a method (plain by default, RFC 7636 §4.3)', { code_challenge_method: undefined }, 'invalid_request', 'code_challenge_method must be S256'],
      ['a challenge that is no S256 value', { code_challenge: 'short' }, 'invalid_request', 'code_challenge must be the 43-character base64url S256 of the code_verifier'],
      ['prompt=none (the bridge keeps no session)', { prompt: 'none' }, 'login_required', 'The bridge keeps no session: every login goes through ESIA (Gosuslugi)'],
      ['prompt=none with another value', { prompt: 'none select_account' }, 'invalid_request', 'prompt=none cannot be combined with other values'],
      ['an unknown prompt', { prompt: 'create' }, 'invalid_request', 'prompt value create is not supported'],
      ['a request object', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported', 'Request objects are not supported'],
      ['a request_uri', { request_uri: 'https://evil.example/request.jwt' }, 'request_uri_not_supported', 'request_uri is not supported'],
    ]
    for (const [name, change, error, description] of cases) {
      it(`${name}: ${error}`, async () => {
        const res = await authorize({ ...GOOD, ...change })
        expect(res.statusCode).toBe(303)
        const url = new URL(res.headers.location as string)
        expect(`${url.origin}${url.pathname}`).toBe(REDIRECT)
        expect(Object.fromEntries(url.searchParams)).toEqual({ error, error_description: description, state: GOOD.state, iss: 'http://bridge.test' })
        expect(await flowStates()).toBe(0)
        expect(loginCookies(res)).toEqual([])
      })
    }

    it('no state: invalid_request, and no state to return', async () => {
      const res = await authorize({ ...GOOD, state: undefined })
      const url = new URL(res.headers.location as string)
      expect(Object.fromEntries(url.searchParams)).toEqual({ error: 'invalid_request', error_description: 'state is required', iss: 'http://bridge.test' })
    })

    it('a state too long to be anyone’s is not echoed back', async () => {
      const res = await authorize({ ...GOOD, state: 'x'.repeat(600) })
      const url = new URL(res.headers.location as string)
      expect(url.searchParams.get('error')).toBe('invalid_request')
      expect(url.searchParams.has('state')).toBe(false)
    })
  })

  it('takes a form POST as it takes a GET (OIDC Core §3.1.2.1)', async () => {
    const post = (params: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/oauth2/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(params).toString() })
    const refused = await post({ ...GOOD, code_challenge_method: 'plain' })
    expect(refused.statusCode).toBe(303)
    expect(new URL(refused.headers.location as string).searchParams.get('error_description')).toBe('code_challenge_method must be S256')
    const untrusted = await post({ ...GOOD, redirect_uri: 'https://evil.example/' })
    expect(untrusted.statusCode).toBe(400)
    expect(untrusted.headers.location).toBeUndefined()
    // A good one gets as far as Госуслуги would (none here); «Попробовать ещё раз» repeats it as a GET.
    const good = await post(GOOD)
    expect(good.statusCode).toBe(503)
    const retry = /<a class="btn" href="([^"]+)">Попробовать ещё раз<\/a>/.exec(good.body)![1]!.replaceAll('&amp;', '&')
    expect(Object.fromEntries(new URL(retry, 'http://bridge.test').searchParams)).toEqual(GOOD)
  })

  it('a good request when Госуслуги cannot be reached: a page with «Попробовать ещё раз» and the way back', async () => {
    // buildTestApp has no upstream adapter: the start fails as an unreachable provider would.
    const res = await authorize(GOOD)
    expect(res.statusCode).toBe(503)
    expect(textOf(res.body)).toContain('Попробовать ещё раз')
    const back = /<a class="btn secondary" href="([^"]+)">Вернуться в журнал<\/a>/.exec(res.body)![1]!.replaceAll('&amp;', '&')
    expect(Object.fromEntries(new URL(back).searchParams)).toEqual({ error: 'temporarily_unavailable', error_description: 'ESIA (Gosuslugi) could not be reached; try again later', state: GOOD.state, iss: 'http://bridge.test' })
    expect(await flowStates()).toBe(0)
    expect(loginCookies(res)).toEqual([])
  })
})
