import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { buildListeningApp } from './helpers.js'
import { discoveryDocument } from '../../src/oidc-provider/discovery.js'
import { UserinfoClaims } from '../../src/oidc-provider/userinfo.js'

describe('a journal discovers the bridge with a stock OpenID client', () => {
  let t: TestApp & { url: string }
  beforeAll(async () => {
    t = await buildListeningApp()
  })
  afterAll(async () => t.close())

  it('openid-client discovery() accepts the metadata, issuer = PUBLIC_URL', async () => {
    const config = await oidc.discovery(new URL(t.url), JOURNAL_CLIENT.client_id, undefined, oidc.ClientSecretBasic(JOURNAL_CLIENT.client_secret), {
      execute: [oidc.allowInsecureRequests],
    })
    const meta = config.serverMetadata()
    expect(meta.issuer).toBe(t.url)
    expect(meta.token_endpoint).toBe(`${t.url}/oauth2/token`)
    expect(meta.jwks_uri).toBe(`${t.url}/oauth2/jwks`)
    expect(meta.authorization_endpoint).toBe(`${t.url}/oauth2/authorize`)
    expect(meta.userinfo_endpoint).toBe(`${t.url}/oauth2/userinfo`)
    expect(meta.end_session_endpoint).toBe(`${t.url}/oauth2/logout`)
    expect(meta.code_challenge_methods_supported).toEqual(['S256'])
    expect(meta.id_token_signing_alg_values_supported).toEqual(['ES256'])
    expect(meta.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post'])
    expect(meta.authorization_response_iss_parameter_supported).toBe(true)
    expect(meta.response_types_supported).toEqual(['code'])
  })

  it('lists only claims the bridge issues: ID-token protocol claims or the userinfo schema', () => {
    const idTokenOnly = ['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'acr', 'sid']
    const released = new Set([...idTokenOnly, ...Object.keys(UserinfoClaims.properties)])
    expect(discoveryDocument('https://bridge.example').claims_supported.filter((c) => !released.has(c))).toEqual([])
  })

  it('publishes one ES256 public key with a thumbprint kid and no private part, cacheable for at most 10 minutes', async () => {
    const res = await fetch(`${t.url}/oauth2/jwks`)
    expect(res.status).toBe(200)
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(600)
    const { keys } = (await res.json()) as { keys: Record<string, string>[] }
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    expect(keys[0]!.kid).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(keys[0]).not.toHaveProperty('d')
  })

  it('keeps the private key encrypted at rest', async () => {
    const { rows } = await t.db.pool.query<{ private_jwk_jwe: string; public_jwk: object }>('SELECT private_jwk_jwe, public_jwk FROM signing_keys')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.private_jwk_jwe.split('.')).toHaveLength(5)
    expect(rows[0]!.private_jwk_jwe).not.toContain('"d"')
    expect(rows[0]!.public_jwk).not.toHaveProperty('d')
  })
})
