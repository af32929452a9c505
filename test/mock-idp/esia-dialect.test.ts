import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { loginAtMock, MockLoginError, type TestMockEsia } from '../helpers/mock-esia.js'
import { authorizeUrl, bearer, decodeJwt, exchange, secret, timestamp, mockWithClient, type EsiaTestClient } from './esia-client.js'

let mock: TestMockEsia
let rp: EsiaTestClient

beforeAll(async () => {
  ({ mock, rp } = await mockWithClient('https://rp.example/esia/callback'))
})
afterAll(() => mock.close())
afterEach(() => {
  mock.resetFaults()
  vi.useRealTimers()
})

/** Sends the browser through the persona page and returns the code. */
async function codeFor(persona: string, url = authorizeUrl(rp)): Promise<string> {
  const back = await loginAtMock(url, persona)
  expect(back.searchParams.get('error_description')).toBeNull()
  return back.searchParams.get('code')!
}

describe('a client signing with its test key goes through the whole ЕСИА flow', () => {
  it('v2/ac → persona → callback → v3/te → /rs/prns → /kids, with ЕСИА-shaped tokens', async () => {
    const url = authorizeUrl(rp)
    const back = await loginAtMock(url, 'parent-two-schools')
    expect(back.origin + back.pathname).toBe(rp.redirectUri)
    expect(back.searchParams.get('state')).toBe(url.searchParams.get('state'))
    const code = back.searchParams.get('code')!
    // The code is itself a JWT, as ЕСИА's is (docs/esia.md, «Token shapes and the checks made»).
    const codeJwt = decodeJwt(code)
    expect(codeJwt.header).toMatchObject({ sbt: 'authorization_code', alg: 'RS256' })
    expect(codeJwt.claims['urn:esia:client:state']).toBe(url.searchParams.get('state'))
    expect((codeJwt.claims.exp as number) - (codeJwt.claims.iat as number)).toBe(240)

    const { status, body, sentState } = await exchange(rp, code)
    expect(status).toBe(200)
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, state: sentState })
    expect(body.refresh_token).toBeUndefined()

    const access = decodeJwt(body.access_token as string)
    expect(access.header).toEqual({ ver: 1, typ: 'JWT', sbt: 'access', alg: 'RS256' })
    expect(access.claims).toMatchObject({ iss: `${mock.url}/`, client_id: rp.clientId, 'urn:esia:sbj_id': 1000300001 })
    expect(access.claims.aud).toBeUndefined()
    expect(access.claims.scope).toBe('openid fullname?oid=1000300001 birthdate?oid=1000300001 snils?oid=1000300001 kid_fullname?oid=1000300001 kid_birthdate?oid=1000300001 kid_snils?oid=1000300001')

    const id = decodeJwt(body.id_token as string)
    expect(id.header).toEqual({ ver: 0, typ: 'JWT', sbt: 'id', alg: 'RS256' })
    expect(id.claims).toMatchObject({
      iss: `${mock.url}/`, aud: rp.clientId, sub: 1000300001, amr: 'PWD',
      'urn:esia:sbj': { 'urn:esia:sbj:typ': 'P', 'urn:esia:sbj:is_tru': true, 'urn:esia:sbj:oid': 1000300001, 'urn:esia:sbj:nam': 'OID.1000300001', 'urn:esia:sbj:lvl': 'PR' },
    })
    expect(id.claims.nonce).toBeUndefined()

    const person = await (await bearer(mock.url, '/rs/prns/1000300001', body.access_token as string)).json()
    expect(person).toMatchObject({ lastName: 'Смирнова', firstName: 'Ольга', middleName: 'Викторовна', birthDate: '14.03.1985', snils: '112-345-671 21', trusted: true })

    const kidsLinks = await (await bearer(mock.url, '/rs/prns/1000300001/kids', body.access_token as string)).json() as { size: number; elements: string[] }
    expect(kidsLinks.size).toBe(2)
    expect(kidsLinks.elements[0]).toBe(`${mock.url}/rs/prns/1000300001/kids/7000001`)
    const kid = await (await bearer(mock.url, new URL(kidsLinks.elements[1]!).pathname, body.access_token as string)).json()
    expect(kid).toMatchObject({ lastName: 'Смирнова', firstName: 'Полина', birthDate: '03.09.2016', snils: '135-792-468 94' })
    const kidsEmbedded = await (await bearer(mock.url, '/rs/prns/1000300001/kids?embed=(elements)', body.access_token as string)).json() as { elements: { firstName: string }[] }
    expect(kidsEmbedded.elements.map((k) => k.firstName)).toEqual(['Артём', 'Полина'])
  })

  it('gives a refresh token with access_type=offline and accepts both refresh signatures in use', async () => {
    const code = await codeFor('teacher-parent', authorizeUrl(rp, { access_type: 'offline' }))
    const first = await exchange(rp, code)
    const refreshToken = first.body.refresh_token as string
    expect(refreshToken).toMatch(/^[0-9a-f-]{36}$/)
    const scope = 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils'
    const state = randomUUID()
    const ts = timestamp()
    // AISGorod's variant: client_id + scope + timestamp + state + refresh_token (docs/esia.md, «The mock, and how it differs from ЕСИА»).
    const response = await fetch(`${mock.url}/aas/oauth2/v3/te`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: rp.clientId, grant_type: 'refresh_token', refresh_token: refreshToken, scope, state, timestamp: ts, client_secret: secret(rp.privateKey, rp.clientId + scope + ts + state + refreshToken) }),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ state, token_type: 'Bearer' })
  })

  it('the access token opens only what its scopes name: /ctts without email or mobile is 403', async () => {
    const { body } = await exchange(rp, await codeFor('name-with-yo'))
    expect((await bearer(mock.url, '/rs/prns/1000300005/ctts', body.access_token as string)).status).toBe(403)
    expect((await bearer(mock.url, '/rs/prns/1000300005/docs', body.access_token as string)).status).toBe(403)
    // Another person's record is not reachable with this token.
    expect((await bearer(mock.url, '/rs/prns/1000300001', body.access_token as string)).status).toBe(403)
    expect((await bearer(mock.url, '/rs/prns/1000300005', 'not-a-token')).status).toBe(401)
  })

  it('contacts and documents come as links by default and inline with embed, per scope', async () => {
    const scope = 'openid fullname email mobile id_doc'
    const code = await codeFor('double-surname', authorizeUrl(rp, { scope }))
    const { body } = await exchange(rp, code, { scope })
    const token = body.access_token as string
    const ctts = await (await bearer(mock.url, '/rs/prns/1000300006/ctts', token)).json() as { elements: string[] }
    expect(ctts.elements).toHaveLength(2)
    expect(typeof ctts.elements[0]).toBe('string')
    const person = await (await bearer(mock.url, '/rs/prns/1000300006?embed=(contacts.elements,documents.elements)', token)).json() as Record<string, { elements: { type: string }[] }>
    expect(person.contacts!.elements.map((e) => e.type)).toEqual(['EML', 'MBT'])
    expect(person.documents!.elements.map((e) => e.type)).toEqual(['RF_PASSPORT'])
    expect(person).toMatchObject({ lastName: 'Мамина-Сибирякова' })
    expect((person as Record<string, unknown>).snils).toBeUndefined()
  })
})

describe('checks as ЕСИА does, answering with the real codes', () => {
  const refusedOnRedirect = async (url: URL) => {
    const back = await loginAtMock(url, 'parent-two-schools')
    return { error: back.searchParams.get('error'), description: back.searchParams.get('error_description') ?? '', state: back.searchParams.get('state') }
  }

  it('a missing parameter: ESIA-007014 naming it, on the redirect with the state', async () => {
    const url = authorizeUrl(rp, { client_certificate_hash: undefined })
    const r = await refusedOnRedirect(url)
    expect(r).toMatchObject({ error: 'invalid_request', state: url.searchParams.get('state') })
    expect(r.description).toBe('ESIA-007014: The request does not contain the mandatory parameter [client_certificate_hash]')
  })

  it('an unknown client: ESIA-007002 on a page (its redirect_uri cannot be trusted)', async () => {
    const error = await loginAtMock(authorizeUrl(rp, { client_id: 'NOSUCH01' }), 'parent-two-schools').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MockLoginError)
    expect(error).toMatchObject({ status: 400, code: 'ESIA-007002' })
  })

  it('a redirect_uri not registered for the ИС: ESIA-007023 on a page', async () => {
    const error = await loginAtMock(authorizeUrl(rp, { redirect_uri: 'https://evil.example/steal' }), 'parent-two-schools').catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 400, code: 'ESIA-007023' })
    expect((error as MockLoginError).page).toContain('lang="ru"')
  })

  it('a wrong client_certificate_hash: ESIA-007053', async () => {
    const r = await refusedOnRedirect(authorizeUrl(rp, { client_certificate_hash: 'A'.repeat(64) }))
    expect(r).toMatchObject({ error: 'access_denied', description: 'ESIA-007053: OAuthErrorEnum.clientSecretWrong' })
  })

  it('client_secret over the legacy v1 order (scope + timestamp + client_id + state): ESIA-007053', async () => {
    const r = await refusedOnRedirect(authorizeUrl(rp, {}, (p) => `${p.scope}${p.timestamp}${p.client_id}${p.state}`))
    expect(r.description).toMatch(/^ESIA-007053/)
  })

  it('client_secret signed by another key: ESIA-007053', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const other = generateKeyPairSync('ed25519').privateKey
    const url = authorizeUrl(rp)
    const p = Object.fromEntries(url.searchParams)
    url.searchParams.set('client_secret', secret(other, `${p.client_id}${p.scope}${p.timestamp}${p.state}${p.redirect_uri}`))
    expect((await refusedOnRedirect(url)).description).toMatch(/^ESIA-007053/)
  })

  it('a timestamp in the wrong format or too far from now: ESIA-007015', async () => {
    const iso = await refusedOnRedirect(authorizeUrl(rp, { timestamp: new Date().toISOString() }))
    expect(iso.description).toMatch(/^ESIA-007015/)
    const stale = await refusedOnRedirect(authorizeUrl(rp, { timestamp: timestamp(new Date(Date.now() - 3600_000)) }))
    expect(stale.description).toMatch(/^ESIA-007015/)
    // Any offset is fine when the instant is right (ЕСИА accepts +0300 and +0000 alike; docs/esia.md, «Known only from public examples, unverified on a real stand»).
    expect((await refusedOnRedirect(authorizeUrl(rp, { timestamp: timestamp(new Date(), 0) }))).error).toBeNull()
  })

  it('a state that is not a UUID: ESIA-007003', async () => {
    const r = await refusedOnRedirect(authorizeUrl(rp, { state: 'not-a-uuid' }))
    expect(r).toMatchObject({ error: 'invalid_request', state: 'not-a-uuid' })
    expect(r.description).toMatch(/^ESIA-007003/)
  })

  it('a person who declines: ESIA-007004 with access_denied', async () => {
    const url = authorizeUrl(rp)
    const back = await loginAtMock(url, 'declines')
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(back.searchParams.get('error_description')).toMatch(/^ESIA-007004/)
    expect(back.searchParams.get('state')).toBe(url.searchParams.get('state'))
    // «Отказать» pressed by anyone does the same.
    const pressed = await loginAtMock(authorizeUrl(rp), 'parent-two-schools', { decline: true })
    expect(pressed.searchParams.get('error_description')).toMatch(/^ESIA-007004/)
  })

  it('token endpoint: errors are 400 JSON with error, error_description and the request state', async () => {
    const code = await codeFor('journal-typo')
    const missing = await exchange(rp, code, { client_certificate_hash: undefined })
    expect(missing.status).toBe(400)
    expect(missing.body).toEqual({ error: 'invalid_request', error_description: 'ESIA-007014: The request does not contain the mandatory parameter [client_certificate_hash]', state: missing.sentState })

    // The signature at the token endpoint covers the code: leaving it out is ESIA-007053.
    const noCode = await exchange(rp, code, {}, (p) => `${p.client_id}${p.scope}${p.timestamp}${p.state}${p.redirect_uri}`)
    expect(noCode.body.error_description).toMatch(/^ESIA-007053/)
    expect((await exchange(rp, code, { client_id: 'NOSUCH01' })).body.error_description).toMatch(/^ESIA-007002/)
    expect((await exchange(rp, code, { timestamp: '2025-09-02 13:00:29' })).body.error_description).toMatch(/^ESIA-007015/)
    expect((await exchange(rp, code, { state: '12345' })).body.error_description).toMatch(/^ESIA-007003/)

    const ok = await exchange(rp, code)
    expect(ok.status).toBe(200)
    const replay = await exchange(rp, code)
    expect(replay.status).toBe(400)
    expect(replay.body).toMatchObject({ error: 'invalid_grant', state: replay.sentState })
    expect(replay.body.error_description).toMatch(/^ESIA-007011/)
  })

  it('a code older than 240 s: ESIA-007011', async () => {
    const code = await codeFor('no-snils-in-journal')
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 241_000 })
    const late = await exchange(rp, code)
    expect(late.status).toBe(400)
    expect(late.body.error_description).toMatch(/^ESIA-007011/)
  })

  it('a code used with another redirect_uri than it was issued for: ESIA-007011', async () => {
    const code = await codeFor('esia-test-snils')
    const moved = await exchange(rp, code, { redirect_uri: 'https://rp.example/other' })
    expect(moved.body.error_description).toMatch(/^ESIA-007011/)
  })

  it('PKCE, when the client sends a challenge: a wrong verifier is ESIA-007040', async () => {
    const { createHash } = await import('node:crypto')
    const verifier = 'v'.repeat(43)
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const code = await codeFor('unknown-to-journal', authorizeUrl(rp, { code_challenge: challenge, code_challenge_method: 'S256' }))
    expect((await exchange(rp, code, { code_verifier: 'w'.repeat(43) })).body.error_description).toMatch(/^ESIA-007040/)
    const again = await codeFor('unknown-to-journal', authorizeUrl(rp, { code_challenge: challenge, code_challenge_method: 'S256' }))
    expect((await exchange(rp, again, { code_verifier: verifier })).status).toBe(200)
  })

  it('the logout page takes redirect_url (not redirect_uri) and returns only to a registered origin', async () => {
    const back = await fetch(`${mock.url}/idp/ext/Logout?client_id=${rp.clientId}&redirect_url=${encodeURIComponent('https://rp.example/bye')}`, { redirect: 'manual' })
    expect(back.status).toBe(302)
    expect(back.headers.get('location')).toBe('https://rp.example/bye')
    const foreign = await fetch(`${mock.url}/idp/ext/Logout?client_id=${rp.clientId}&redirect_url=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' })
    expect(foreign.status).toBe(200)
    expect(await foreign.text()).toContain('Вы вышли из учётной записи')
  })
})
