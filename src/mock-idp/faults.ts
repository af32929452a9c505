/**
 * Switches that make the mock misbehave the way real providers do, for reliability and
 * negative tests. Set in-process (`mock.setFaults`) or over HTTP (`PUT /mock/faults`).
 */
export const TOKEN_TAMPERS = [
  /** A byte of the ID token's signature flipped. */
  'bad-signature',
  /** ID token `iss` of another provider. */
  'wrong-issuer',
  /** ID token `aud` of another client. */
  'wrong-audience',
  /** ID token expired an hour ago. */
  'expired',
  /** Unsecured ID token (`alg: none`, no signature). */
  'alg-none',
  /** ID token HMAC-signed with the provider's public key as the secret (key-confusion attack). */
  'hs256-public-key',
  /** ID token signed by a key the provider never published, with a `kid` nobody knows. */
  'unknown-kid',
  /** ЕСИА: the token response echoes another `state` than the token request sent. */
  'state-mismatch',
  /** ЕСИА: the access token names another subject (`urn:esia:sbj_id`) than the ID token. */
  'subject-mismatch',
  /** ЕСИА: the access token was issued to another ИС (`client_id`). */
  'wrong-client-id',
  /** ЕСИА: the access token expired an hour ago (the ID token is fresh). */
  'access-token-expired',
  /** ЕСИА: a byte of the access token's signature flipped (the ID token is sound). */
  'access-token-bad-signature',
  /** ID token `nonce` differs from the one sent (and is echoed even where ЕСИА would not). */
  'nonce-mismatch',
  /** OIDC: userinfo answers for another `sub`. */
  'userinfo-subject-mismatch',
] as const
export type TokenTamper = (typeof TOKEN_TAMPERS)[number]

export interface MockFaults {
  /** Delay, in ms, before every back-channel answer (token endpoints, /rs, userinfo, keys). */
  latencyMs: number
  /** Token endpoints answer 503 with ESIA-007008 (overload / maintenance). */
  tokenUnavailable: boolean
  /** Answer 200 with a body that is not JSON: at the token endpoints, on /rs/prns and userinfo, or on /rs/prns/{oid}/kids only. */
  malformedJson: 'none' | 'token' | 'person' | 'kids'
  tamper: TokenTamper | 'none'
  /** Dialect quirks seen in the field (docs/esia.md, «Token request (v3/te)»): `expires_in` as a string… */
  expiresInAsString: boolean
  /** …oids as strings instead of numbers… */
  oidAsString: boolean
  /** …and `nonce` echoed in the ID token, which ЕСИА stopped doing in 2022 (AISGorod 1.5.0). */
  echoNonce: boolean
}

export const defaultFaults = (): MockFaults => ({
  latencyMs: 0,
  tokenUnavailable: false,
  malformedJson: 'none',
  tamper: 'none',
  expiresInAsString: false,
  oidAsString: false,
  echoNonce: false,
})
