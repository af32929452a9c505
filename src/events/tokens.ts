import type { SigningKeys } from '../oidc-provider/keys.js'
import { signTypedJwt } from '../oidc-provider/tokens.js'
import { BACKCHANNEL_LOGOUT, LOGOUT_TOKEN_TTL_S, LOGOUT_TOKEN_TYP, SET_TYP } from './event-types.js'
import type { OutboxRow } from './outbox.js'

/**
 * The tokens an outbox row becomes, signed when sent with the key that signs then (verifiable at
 * /oauth2/jwks like every token of ours).
 *
 * A Security Event Token (RFC 8417 §2.2): `iss`, `aud` (the client), `iat` (when the change was
 * recorded: the same at every retry), `jti` (the row's: recipients deduplicate by it), `sub_id`
 * (RFC 9493 opaque subject identifier: the journal user id — never `sub`, which a SET must not use
 * for its subject) and `events` with one member. No `exp` and no `nonce`: a SET is not a login.
 *
 * A logout token (OpenID Connect Back-Channel Logout 1.0 §2.4): `iss`, `aud`, `iat`, `exp` two
 * minutes later, `jti`, `sub`, `sid`, `events` with the back-channel logout member, and never a
 * `nonce`, so it can never pass for an ID token. `iat` is the moment of sending: a token retried
 * an hour later must not arrive expired.
 */
export function securityEventClaims(issuer: string, row: OutboxRow): Record<string, unknown> {
  return {
    iss: issuer,
    aud: row.clientId,
    iat: Math.floor(row.createdAt.getTime() / 1000),
    jti: row.jti,
    sub_id: { format: 'opaque', id: row.journalUserId },
    events: { [row.eventType]: row.data },
  }
}

export function logoutTokenClaims(issuer: string, row: OutboxRow, now: Date): Record<string, unknown> {
  const iat = Math.floor(now.getTime() / 1000)
  return {
    iss: issuer,
    aud: row.clientId,
    iat,
    exp: iat + LOGOUT_TOKEN_TTL_S,
    jti: row.jti,
    sub: row.journalUserId,
    sid: row.data.sid,
    events: { [BACKCHANNEL_LOGOUT]: {} },
  }
}

export function signOutboxToken(keys: SigningKeys, issuer: string, row: OutboxRow): Promise<string> {
  return row.kind === 'set'
    ? signTypedJwt(keys, SET_TYP, securityEventClaims(issuer, row))
    : signTypedJwt(keys, LOGOUT_TOKEN_TYP, logoutTokenClaims(issuer, row, keys.now()))
}
