import * as client from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loginAtMock, startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'

let mock: TestMockEsia
const redirectUri = 'https://rp.example/oidc/callback'

beforeAll(async () => {
  mock = await startTestMockEsia({ redirectUris: [redirectUri] })
})
afterAll(() => mock.close())

async function stockClient(): Promise<client.Configuration> {
  const config = await client.discovery(new URL(mock.oidc.issuer), mock.oidc.clientId, undefined, client.ClientSecretBasic(mock.oidc.clientSecret), {
    execute: [client.allowInsecureRequests],
  })
  // Signatures checked too, not only claims: the mock must sign what it publishes.
  client.enableNonRepudiationChecks(config)
  return config
}

describe('the standard OIDC side, driven by openid-client as a stock client', () => {
  it('completes discovery → authorize (PKCE S256) → token (client_secret_basic) → userinfo', async () => {
    const config = await stockClient()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid profile snils', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    const back = await loginAtMock(url, 'name-with-yo')
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
    const claims = tokens.claims()!
    expect(claims).toMatchObject({ iss: mock.oidc.issuer, sub: '1000300005', aud: mock.oidc.clientId, nonce })
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
    expect(userinfo).toEqual({
      sub: '1000300005', family_name: 'Фёдоров', given_name: 'Пётр', middle_name: 'Семёнович',
      birthdate: '1983-01-30', snils: '179-135-792 08', trusted: true,
    })
  })

  it('an unconfirmed person is `trusted: false`; a simplified account has no SNILS or birth date', async () => {
    const config = await stockClient()
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid profile snils', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })
    const back = await loginAtMock(url, 'simplified-account')
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier })
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
    expect(userinfo).toEqual({ sub: '1000300004', family_name: 'Белова', given_name: 'Ксения', middle_name: 'Игоревна', trusted: false })
  })

  it('refuses a wrong PKCE verifier, a replayed code and a wrong client secret', async () => {
    const config = await stockClient()
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })
    const back = await loginAtMock(url, 'standard-account')
    await expect(client.authorizationCodeGrant(config, back, { pkceCodeVerifier: client.randomPKCECodeVerifier() })).rejects.toMatchObject({ error: 'invalid_grant' })
    // The failed attempt used the code up.
    await expect(client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier })).rejects.toMatchObject({ error: 'invalid_grant' })

    const wrong = await client.discovery(new URL(mock.oidc.issuer), mock.oidc.clientId, undefined, client.ClientSecretBasic('wrong-secret'), { execute: [client.allowInsecureRequests] })
    const url2 = client.buildAuthorizationUrl(wrong, { redirect_uri: redirectUri, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })
    await expect(client.authorizationCodeGrant(wrong, await loginAtMock(url2, 'standard-account'), { pkceCodeVerifier: verifier })).rejects.toThrow()
  })

  it('a declining person comes back with access_denied', async () => {
    const config = await stockClient()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid', state })
    const back = await loginAtMock(url, 'declines')
    await expect(client.authorizationCodeGrant(config, back, { expectedState: state })).rejects.toMatchObject({ error: 'access_denied' })
  })
})
