import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { LinkOutcome, LoginClaims } from './codes.js'
import { ALG, type SigningKeys } from './keys.js'

/**
 * The two JWTs the bridge signs. Each is one ES256 signature with the current key's `kid`; times
 * come from the key store's clock so a rotation test can move both together.
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

/** DESIGN.md §1 step 4: `iss`, `aud`=client_id, `sub`=journal_user_id, result, reasons, evidence, replaced, `iat`, `exp` ≤ 5 min, `jti`. */
export async function signLinkToken(keys: SigningKeys, input: LinkTokenInput): Promise<string> {
  const { kid, key } = await keys.current()
  const iat = Math.floor(keys.now().getTime() / 1000)
  const { result, reasons, evidence, replaced } = input.outcome
  return new SignJWT({ result, reasons, evidence, replaced })
    .setProtectedHeader({ alg: ALG, kid, typ: LINK_TOKEN_TYP })
    .setIssuer(input.issuer)
    .setAudience(input.clientId)
    .setSubject(input.journalUserId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + LINK_TOKEN_TTL_S)
    .setJti(randomUUID())
    .sign(key)
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
  return new SignJWT({ ...input.claims, ...(input.nonce ? { nonce: input.nonce } : {}) })
    .setProtectedHeader({ alg: ALG, kid, typ: 'JWT' })
    .setIssuer(input.issuer)
    .setAudience(input.clientId)
    .setSubject(input.journalUserId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ID_TOKEN_TTL_S)
    .sign(key)
}
