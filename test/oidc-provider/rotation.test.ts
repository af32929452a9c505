import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthorizationCode } from '../../src/oidc-provider/codes.js'
import { ACTIVATION_DELAY_S, RETIRED_KEY_GRACE_S, SigningKeys } from '../../src/oidc-provider/keys.js'
import { JOURNAL_CLIENT, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { buildListeningApp, REDIRECT_URI, tokenRequest } from './helpers.js'

/**
 * A journal verifies link tokens with jose against /oauth2/jwks while the operator runs
 * `npm run keys:rotate`. Time is moved by hand on the app's key clock, never slept.
 */
describe('link tokens across a key rotation', () => {
  let t: TestApp & { url: string }
  let now = Date.now()
  const at = () => new Date(now)

  async function linkToken(): Promise<string> {
    const code = await createAuthorizationCode(t.db.pool, {
      kind: 'link',
      clientId: JOURNAL_CLIENT.client_id,
      redirectUri: REDIRECT_URI,
      journalUserId: 'student-7',
      outcome: { result: 'linked', reasons: [], evidence: ['last_name', 'first_name'], replaced: false },
    })
    const res = await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })
    return res.json<{ link_token: string }>().link_token
  }
  const verify = (token: string, keys: Parameters<typeof jwtVerify>[1]) =>
    jwtVerify(token, keys as never, { issuer: t.url, audience: JOURNAL_CLIENT.client_id, typ: 'link+jwt', algorithms: ['ES256'], currentDate: at() })
  const jwksNow = async () => (await (await fetch(`${t.url}/oauth2/jwks`)).json()) as JSONWebKeySet
  const kidOf = (token: string) => decodeProtectedHeader(token).kid

  beforeAll(async () => {
    t = await buildListeningApp()
    t.app.signingKeys.now = at
  })
  afterAll(async () => t.close())

  it('keeps every token verifiable: the new key is in caches before it signs, the old one stays until its tokens expired', async () => {
    const before = await linkToken()
    const remote = createRemoteJWKSet(new URL(`${t.url}/oauth2/jwks`))
    await verify(before, remote)

    // The operator rotates from another process; running instances re-read keys within a minute.
    const command = new SigningKeys({ db: t.db.pool, encryptionSecret: TEST_SECRETS.keysEncryptionKey, now: at })
    const { kid: next } = await command.rotate()
    now += 61_000
    await t.app.signingKeys.jwks()
    await t.app.signingKeys.refresh()

    // A journal whose JWKS cache refreshed at any time after the rotation already holds the new key.
    const cachedAfterRotation = await jwksNow()
    expect(cachedAfterRotation.keys.map((k) => k.kid)).toContain(next)
    expect(kidOf(await linkToken())).toBe(kidOf(before))

    // Signed by the old key just before the switch…
    now += (ACTIVATION_DELAY_S - 62) * 1000
    const lastOld = await linkToken()
    expect(kidOf(lastOld)).not.toBe(next)
    // …and by the new key right after it.
    now += 2000
    const firstNew = await linkToken()
    expect(kidOf(firstNew)).toBe(next)

    await verify(firstNew, createLocalJWKSet(cachedAfterRotation))
    await verify(lastOld, createRemoteJWKSet(new URL(`${t.url}/oauth2/jwks`)))

    // Once the old key's last token expired (plus cache time), it is no longer published.
    now += RETIRED_KEY_GRACE_S * 1000
    expect((await jwksNow()).keys.map((k) => k.kid)).toEqual([next])
  })

  it('a token signed by a key that is not ours never verifies', async () => {
    // Another bridge with its own database and keys, claiming our issuer.
    const stranger = await buildListeningApp({ env: { PUBLIC_URL: t.url } })
    try {
      const foreignCode = await createAuthorizationCode(stranger.db.pool, {
        kind: 'link',
        clientId: JOURNAL_CLIENT.client_id,
        redirectUri: REDIRECT_URI,
        journalUserId: 'student-7',
        outcome: { result: 'linked', reasons: [], evidence: [], replaced: false },
      })
      const forged = (await tokenRequest(stranger, { grant_type: 'authorization_code', code: foreignCode, redirect_uri: REDIRECT_URI })).json<{ link_token: string }>().link_token
      await expect(verify(forged, createLocalJWKSet(await jwksNow()))).rejects.toThrow()
    } finally {
      await stranger.close()
    }
  })
})
