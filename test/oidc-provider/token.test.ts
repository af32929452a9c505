import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthorizationCode, type LoginClaims } from '../../src/oidc-provider/codes.js'
import { JOURNAL_CLIENT, journalBasicAuth, type TestApp } from '../helpers/app.js'
import { buildListeningApp, FORM, form, REDIRECT_URI, tokenRequest } from './helpers.js'

const OTHER_CLIENT = {
  client_id: 'journal-other',
  name: 'Другой журнал',
  client_secret: 'journal-other-secret-0123456789abcdef0123456789',
  redirect_uris: ['https://other.example/cb'],
}

const CLAIMS: LoginClaims = {
  auth_time: 1_756_713_600,
  amr: ['esia'],
  acr: 'esia:confirmed',
  org_id: 'school-1',
  role: 'parent',
  family_name: 'Иванова',
  given_name: 'Мария',
  middle_name: 'Петровна',
}
const LOGIN_REDIRECT = JOURNAL_CLIENT.redirect_uris[0]!

describe('POST /oauth2/token and /oauth2/userinfo', () => {
  let t: TestApp & { url: string }
  let config: oidc.Configuration
  const linkCode = (redirectUri = REDIRECT_URI) =>
    createAuthorizationCode(t.db.pool, {
      kind: 'link',
      clientId: JOURNAL_CLIENT.client_id,
      redirectUri,
      journalUserId: 'parent-1',
      outcome: { result: 'linked', reasons: [], evidence: ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils'], replaced: false },
    })
  const loginCode = async (verifier: string, nonce: string) =>
    createAuthorizationCode(t.db.pool, {
      kind: 'login',
      clientId: JOURNAL_CLIENT.client_id,
      redirectUri: LOGIN_REDIRECT,
      journalUserId: 'parent-1',
      codeChallenge: await oidc.calculatePKCECodeChallenge(verifier),
      nonce,
      claims: CLAIMS,
    })
  const callbackUrl = (code: string, state: string) => new URL(`${LOGIN_REDIRECT}?code=${code}&state=${state}&iss=${encodeURIComponent(t.url)}`)

  beforeAll(async () => {
    t = await buildListeningApp({ clients: [JOURNAL_CLIENT, OTHER_CLIENT] })
    config = await oidc.discovery(new URL(t.url), JOURNAL_CLIENT.client_id, undefined, oidc.ClientSecretBasic(JOURNAL_CLIENT.client_secret), { execute: [oidc.allowInsecureRequests] })
  })
  afterAll(async () => t.close())

  it('a login code gives a stock client a verified ID token (PKCE, nonce, iss) and userinfo', async () => {
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const code = await loginCode(verifier, nonce)
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl(code, 'journal-state'), { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: 'journal-state', idTokenExpected: true })
    const claims = tokens.claims()!
    expect(claims).toMatchObject({ iss: t.url, aud: JOURNAL_CLIENT.client_id, sub: 'parent-1', nonce, amr: ['esia'], acr: 'esia:confirmed', org_id: 'school-1', role: 'parent', auth_time: CLAIMS.auth_time })
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(600)
    expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'ES256', typ: 'JWT' })
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.expires_in).toBeGreaterThan(0)

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, 'parent-1')
    expect(userinfo).toEqual({ sub: 'parent-1', org_id: 'school-1', role: 'parent', family_name: 'Иванова', given_name: 'Мария', middle_name: 'Петровна' })
    const { rows } = await t.db.pool.query('SELECT token_hash FROM access_tokens')
    expect(rows.map((r) => r.token_hash.length)).toEqual([32])
  })

  it('a link code redeems a link token that jose verifies against /oauth2/jwks', async () => {
    const res = await tokenRequest(t, { grant_type: 'authorization_code', code: await linkCode(), redirect_uri: REDIRECT_URI })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const body = res.json<{ link_token: string }>()
    expect(Object.keys(body)).toEqual(['link_token'])
    const { payload, protectedHeader } = await jwtVerify(body.link_token, createRemoteJWKSet(new URL(`${t.url}/oauth2/jwks`)), {
      issuer: t.url,
      audience: JOURNAL_CLIENT.client_id,
      typ: 'link+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['jti', 'iat', 'exp'],
    })
    expect(protectedHeader.kid).toBeDefined()
    expect(payload).toMatchObject({ sub: 'parent-1', result: 'linked', reasons: [], replaced: false, evidence: ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils'] })
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300)
  })

  it('accepts client_secret_post as well', async () => {
    const res = await tokenRequest(
      t,
      { grant_type: 'authorization_code', code: await linkCode(), redirect_uri: REDIRECT_URI, client_id: JOURNAL_CLIENT.client_id, client_secret: JOURNAL_CLIENT.client_secret },
      {},
    )
    expect(res.statusCode).toBe(200)
  })

  it('a reused code is refused and the access token issued from it is revoked', async () => {
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const code = await loginCode(verifier, nonce)
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl(code, 's'), { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: 's' })
    const again = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: LOGIN_REDIRECT, code_verifier: verifier })
    expect(again.statusCode).toBe(400)
    expect(again.json()).toMatchObject({ error: 'invalid_grant' })
    const userinfo = await t.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(userinfo.statusCode).toBe(401)
    expect(userinfo.headers['www-authenticate']).toContain('invalid_token')
  })

  it('refuses a wrong code_verifier, a missing one, and a verifier for a code without a challenge — without using the code up', async () => {
    const verifier = oidc.randomPKCECodeVerifier()
    const code = await loginCode(verifier, 'n')
    const attempts: Record<string, string>[] = [{ code_verifier: oidc.randomPKCECodeVerifier() }, {}]
    for (const extra of attempts) {
      const res = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: LOGIN_REDIRECT, ...extra })
      expect(res.json()).toMatchObject({ error: 'invalid_grant' })
    }
    const right = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: LOGIN_REDIRECT, code_verifier: verifier })
    expect(right.statusCode).toBe(200)

    const link = await tokenRequest(t, { grant_type: 'authorization_code', code: await linkCode(), redirect_uri: REDIRECT_URI, code_verifier: oidc.randomPKCECodeVerifier() })
    expect(link.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('a code is bound to its client and redirect_uri', async () => {
    const code = await linkCode()
    const wrongRedirect = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: LOGIN_REDIRECT })
    expect(wrongRedirect.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('redirect_uri') })
    const otherClient = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, { authorization: journalBasicAuth(OTHER_CLIENT) })
    expect(otherClient.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('another client') })
    const unused = await t.db.pool.query('SELECT count(*)::int AS n FROM authorization_codes WHERE used_at IS NULL')
    expect(unused.rows[0].n).toBeGreaterThan(0)
    expect((await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })).statusCode).toBe(200)
  })

  it('a code lives 60 seconds', async () => {
    const code = await linkCode()
    const { rows } = await t.db.pool.query<{ ttl: number }>('SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM authorization_codes ORDER BY created_at DESC LIMIT 1')
    expect(rows[0]!.ttl).toBe(60)
    await t.db.pool.query(`UPDATE authorization_codes SET expires_at = now() - interval '1 second', created_at = now() - interval '61 seconds' WHERE used_at IS NULL`)
    const res = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })
    expect(res.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('expired') })
  })

  it('answers client authentication failures with 401 invalid_client and writes nothing', async () => {
    const code = await linkCode()
    const wrongSecret = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, { authorization: journalBasicAuth({ client_id: JOURNAL_CLIENT.client_id, client_secret: 'wrong-secret' }) })
    expect(wrongSecret.statusCode).toBe(401)
    expect(wrongSecret.json()).toMatchObject({ error: 'invalid_client' })
    expect(wrongSecret.headers['www-authenticate']).toContain('Basic')
    expect(wrongSecret.headers['cache-control']).toBe('no-store')
    const none = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, {})
    expect(none.statusCode).toBe(401)
    const both = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_secret: JOURNAL_CLIENT.client_secret })
    expect(both.json()).toMatchObject({ error: 'invalid_request' })
    // The code is still good: nothing was consumed by the refused requests.
    expect((await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })).statusCode).toBe(200)
  })

  it('answers malformed requests in the RFC 6749 shape', async () => {
    const grant = await tokenRequest(t, { grant_type: 'password', code: 'x', redirect_uri: REDIRECT_URI })
    expect(grant.json()).toMatchObject({ error: 'unsupported_grant_type' })
    const missing = await tokenRequest(t, { grant_type: 'authorization_code', redirect_uri: REDIRECT_URI })
    expect(missing.statusCode).toBe(400)
    expect(missing.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('code') })
    const unknown = await tokenRequest(t, { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: REDIRECT_URI })
    expect(unknown.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('userinfo takes the token from the header or a POST body, never both, and refuses unknown tokens', async () => {
    const verifier = oidc.randomPKCECodeVerifier()
    const code = await loginCode(verifier, 'n2')
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl(code, 's2'), { pkceCodeVerifier: verifier, expectedNonce: 'n2', expectedState: 's2' })
    const post = await t.app.inject({ method: 'POST', url: '/oauth2/userinfo', headers: FORM, payload: form({ access_token: tokens.access_token }) })
    expect(post.json()).toMatchObject({ sub: 'parent-1', role: 'parent' })
    const both = await t.app.inject({ method: 'POST', url: '/oauth2/userinfo', headers: { ...FORM, authorization: `Bearer ${tokens.access_token}` }, payload: form({ access_token: tokens.access_token }) })
    expect(both.statusCode).toBe(400)
    const unknown = await t.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: 'Bearer not-a-token' } })
    expect(unknown.statusCode).toBe(401)
    const none = await t.app.inject({ method: 'GET', url: '/oauth2/userinfo' })
    expect(none.statusCode).toBe(401)
  })
})
