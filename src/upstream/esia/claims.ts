import type { AccountLevel } from '../types.js'
import { UpstreamError } from '../types.js'
import { isObject } from '../http.js'
import { oidString } from './protocol.js'

/**
 * The checks an ЕСИА ID token must pass after its signature (docs/esia.md, «Token shapes and the checks made»), each named:
 * issuer in the `http://…/` form, audience = our client_id, time window with a small skew, the
 * nonce only if ЕСИА sent one back (it stopped in 2022, AISGorod 1.5.0), subject = oid.
 */
export interface IdTokenFacts {
  oid: string
  trusted: boolean
  level: AccountLevel | undefined
  authMethods: string[]
  authTime: number | null
}

const invalid = (code: string, message: string) => new UpstreamError('invalid_response', code, message)

export function checkIdToken(
  payload: Uint8Array,
  expected: { issuers: ReadonlySet<string>; clientId: string; nonce: string; skewSeconds: number; now?: number },
): IdTokenFacts {
  const claims = payloadClaims(payload, 'ID token')
  const now = expected.now ?? Math.floor(Date.now() / 1000)
  const skew = expected.skewSeconds

  if (typeof claims.iss !== 'string' || !expected.issuers.has(claims.iss)) throw invalid('token_issuer_mismatch', 'the ID token was issued by someone else')
  const aud = claims.aud
  if (!(aud === expected.clientId || (Array.isArray(aud) && aud.includes(expected.clientId)))) throw invalid('token_audience_mismatch', 'the ID token was issued for another client')
  checkTimeWindow(claims, 'ID token', now, skew)
  if (claims.nonce !== undefined && claims.nonce !== expected.nonce) throw invalid('nonce_mismatch', 'the ID token nonce is not the one we sent')

  const oid = oidString(claims.sub)
  if (!oid) throw invalid('token_subject_invalid', 'the ID token has no usable sub (oid)')
  const sbj = isObject(claims['urn:esia:sbj']) ? claims['urn:esia:sbj'] : {}
  if (sbj['urn:esia:sbj:oid'] !== undefined && oidString(sbj['urn:esia:sbj:oid']) !== oid) {
    throw invalid('token_subject_mismatch', 'urn:esia:sbj:oid differs from sub')
  }
  const lvl = sbj['urn:esia:sbj:lvl']
  const amr = claims.amr ?? claims['urn:esia:amd']
  return {
    oid,
    // «Параметр отсутствует, если УЗ не подтверждена»: only an explicit true counts
    // (docs/esia.md, «Token shapes and the checks made»).
    trusted: sbj['urn:esia:sbj:is_tru'] === true,
    level: lvl === 'PR' || lvl === 'P' || lvl === 'KD' ? lvl : undefined,
    authMethods: (Array.isArray(amr) ? amr : [amr]).filter((m): m is string => typeof m === 'string'),
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : null,
  }
}

/** `exp` required and `nbf` / `iat` when present, each with the skew (ЕСИА's clock is not ours). */
function checkTimeWindow(claims: Record<string, unknown>, token: string, now: number, skew: number): void {
  if (typeof claims.exp !== 'number' || claims.exp + skew <= now) throw invalid('token_expired', `the ${token} has expired`)
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf - skew > now)) throw invalid('token_not_yet_valid', `the ${token} is not valid yet`)
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat - skew > now)) throw invalid('token_not_yet_valid', `the ${token} was issued in the future`)
}

function payloadClaims(payload: Uint8Array, token: string): Record<string, unknown> {
  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(payload).toString('utf8'))
  } catch {
    throw invalid('token_malformed', `the ${token} payload is not JSON`)
  }
  if (!isObject(claims)) throw invalid('token_malformed', `the ${token} payload is not an object`)
  return claims
}

/**
 * The checks ЕСИА's guide asks of a system for the access token, after its signature (verified with
 * the same token keys and the same function as the ID token): issuer, `client_id` = ours (ЕСИА puts
 * no `aud` in it), time window with the same skew, and `urn:esia:sbj_id` = the ID token's subject.
 * The token is the bearer the bridge shows ЕСИА's REST API; one that is expired, issued to another
 * system or for another person means a mixed-up or forged token response, and the login stops.
 * Returns the granted scopes.
 */
export function checkAccessToken(
  payload: Uint8Array,
  expected: { issuers: ReadonlySet<string>; clientId: string; oid: string; skewSeconds: number; now?: number },
): { scope: unknown } {
  const claims = payloadClaims(payload, 'access token')
  if (typeof claims.iss !== 'string' || !expected.issuers.has(claims.iss)) throw invalid('token_issuer_mismatch', 'the access token was issued by someone else')
  if (claims.client_id !== expected.clientId) throw invalid('token_audience_mismatch', 'the access token was issued for another client')
  checkTimeWindow(claims, 'access token', expected.now ?? Math.floor(Date.now() / 1000), expected.skewSeconds)
  if (oidString(claims['urn:esia:sbj_id']) !== expected.oid) throw invalid('token_subject_mismatch', 'the access token names another subject than the ID token')
  return { scope: claims.scope }
}
