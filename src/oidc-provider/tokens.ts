import { KeyObject, randomUUID, sign } from 'node:crypto'
import type { CryptoKey } from 'jose'
import type { LinkOutcome, LoginClaims } from './codes.js'
import { ALG, type SigningKeys } from './keys.js'

/**
 * The JWTs the bridge signs: link tokens and ID tokens here, Security Event Tokens and logout tokens
 * (src/events/tokens.ts) through `signTypedJwt`. Each is one ES256 signature with the current key's
 * `kid`; times come from the key store's clock so a rotation test can move both together.
 */
export const LINK_TOKEN_TTL_S = 300
export const ID_TOKEN_TTL_S = 600
/** Dedicated `typ` so a link token can never pass for an ID token (ASVS 5.0 V9.2: check token type). */
export const LINK_TOKEN_TYP = 'link+jwt'

export interface LinkTokenInput {
  issuer: string
  clientId: string
  journalUserId: string
  outcome: LinkOutcome
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const keyObjects = new WeakMap<CryptoKey, KeyObject>()

/**
 * A compact JWS (RFC 7515) signed ES256 with node:crypto's one-shot sign. Written out here, not
 * with jose's SignJWT, because every login signs one: WebCrypto costs ≈ 150 µs of CPU per token
 * here against ≈ 65 µs one-shot (measured on this machine), a tenth of the login's CPU budget
 * (docs/performance.md, «Service levels»). The format is tiny — header and claims as base64url JSON, the
 * signature as r‖s (IEEE P1363, RFC 7518 §3.4) — and every test verifies the result with jose and
 * openid-client, as journals do.
 */
function signJws(key: CryptoKey, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  let keyObject = keyObjects.get(key)
  if (!keyObject) keyObjects.set(key, (keyObject = KeyObject.from(key)))
  const input = `${b64url(header)}.${b64url(claims)}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

/**
 * docs/architecture.md, «How a link travels»: `iss`, `aud`=client_id, `sub`=journal_user_id, result, reasons, evidence, replaced, `iat`, `exp` ≤ 5 min, `jti`;
 * for a linked parent card with children in the journal, the evidence of guardianship too: `children`
 * (the ones Госуслуги confirmed) and, when anything was compared, `children_checked_at`.
 */
export async function signLinkToken(keys: SigningKeys, input: LinkTokenInput): Promise<string> {
  const { kid, key } = await keys.current()
  const iat = Math.floor(keys.now().getTime() / 1000)
  const { result, reasons, evidence, replaced, children } = input.outcome
  const guardianship = result === 'linked' && children
    ? { children: children.confirmed, ...(children.checkedAt !== null ? { children_checked_at: children.checkedAt } : {}) }
    : {}
  return signJws(key, { alg: ALG, kid, typ: LINK_TOKEN_TYP }, {
    result, reasons, evidence, replaced, ...guardianship,
    iss: input.issuer, aud: input.clientId, sub: input.journalUserId, iat, exp: iat + LINK_TOKEN_TTL_S, jti: randomUUID(),
  })
}

export interface IdTokenInput {
  issuer: string
  clientId: string
  journalUserId: string
  nonce: string | null
  claims: LoginClaims
}

/** OIDC Core §2 ID token: the login's claims plus `iss`, `aud`, `sub`, `nonce`, `iat`, `exp`. */
export async function signIdToken(keys: SigningKeys, input: IdTokenInput): Promise<string> {
  const { kid, key } = await keys.current()
  const iat = Math.floor(keys.now().getTime() / 1000)
  return signJws(key, { alg: ALG, kid, typ: 'JWT' }, {
    ...input.claims,
    ...(input.nonce ? { nonce: input.nonce } : {}),
    iss: input.issuer, aud: input.clientId, sub: input.journalUserId, iat, exp: iat + ID_TOKEN_TTL_S,
  })
}

/** Any other JWT we sign, under its own explicit `typ` (RFC 8725 §3.11) so it passes for no other kind. */
export async function signTypedJwt(keys: SigningKeys, typ: string, claims: Record<string, unknown>): Promise<string> {
  const { kid, key } = await keys.current()
  return signJws(key, { alg: ALG, kid, typ }, claims)
}
