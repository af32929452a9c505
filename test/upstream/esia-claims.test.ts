import { describe, expect, it } from 'vitest'
import { checkAccessToken } from '../../src/upstream/esia/claims.js'

/**
 * The access token's claims as ЕСИА's guide asks a system to check them (docs/esia.md): issuer,
 * `client_id`, the time window with a small skew, and `urn:esia:sbj_id` = the ID token's subject.
 * The signature is checked before, by the same verifier as the ID token's (esia-adapter.test.ts).
 */
describe('the ЕСИА access token checks', () => {
  const now = 1_750_000_000
  const expected = { issuers: new Set(['http://esia.gosuslugi.ru/']), clientId: 'SCHOOL01', oid: '1000299681', skewSeconds: 60, now }
  // The shape of a real access token (ekapusta's 2018 prod sample), fresh.
  const token = (claims: Record<string, unknown> = {}) =>
    new TextEncoder().encode(JSON.stringify({
      nbf: now - 10, iat: now - 10, exp: now + 3590, iss: 'http://esia.gosuslugi.ru/', client_id: 'SCHOOL01',
      'urn:esia:sid': 'c7d3b3f0', 'urn:esia:sbj_id': 1000299681, scope: 'openid fullname?oid=1000299681', ...claims,
    }))
  const refusal = (claims: Record<string, unknown>) => {
    try {
      checkAccessToken(token(claims), expected)
    } catch (err) {
      return (err as { code: string }).code
    }
    return 'accepted'
  }

  it('accepts a fresh token for our system and this person, and returns the granted scopes', () => {
    expect(checkAccessToken(token(), expected)).toEqual({ scope: 'openid fullname?oid=1000299681' })
    expect(refusal({ 'urn:esia:sbj_id': '1000299681' })).toBe('accepted')
  })

  it('tolerates a small clock skew either way, and no more', () => {
    expect(refusal({ exp: now - 59 })).toBe('accepted')
    expect(refusal({ exp: now - 60 })).toBe('token_expired')
    expect(refusal({ nbf: now + 60, iat: now + 60 })).toBe('accepted')
    expect(refusal({ nbf: now + 61 })).toBe('token_not_yet_valid')
    expect(refusal({ iat: now + 61 })).toBe('token_not_yet_valid')
  })

  it('refuses a token without an expiry, or with times that are not numbers', () => {
    expect(refusal({ exp: undefined })).toBe('token_expired')
    expect(refusal({ exp: String(now + 3600) })).toBe('token_expired')
    expect(refusal({ nbf: 'now' })).toBe('token_not_yet_valid')
  })

  it('refuses a token issued to another system, or with no client_id at all', () => {
    expect(refusal({ client_id: 'ANOTHER01' })).toBe('token_audience_mismatch')
    expect(refusal({ client_id: undefined, aud: 'SCHOOL01' })).toBe('token_audience_mismatch')
  })

  it('refuses a token for another person, or naming nobody', () => {
    expect(refusal({ 'urn:esia:sbj_id': 1000999999 })).toBe('token_subject_mismatch')
    expect(refusal({ 'urn:esia:sbj_id': undefined })).toBe('token_subject_mismatch')
  })

  it('refuses a token of another issuer, and a payload that is not a JSON object', () => {
    expect(refusal({ iss: 'http://esia.attacker.example/' })).toBe('token_issuer_mismatch')
    expect(() => checkAccessToken(new TextEncoder().encode('[1]'), expected)).toThrow(expect.objectContaining({ code: 'token_malformed' }))
  })
})
