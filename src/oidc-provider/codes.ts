import { createHash, randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import type { MatchField, ReasonCode } from '../matching/types.js'

/**
 * One-time authorization codes the bridge hands to journals, for both flows: `link` (the code
 * redeems a link token) and `login` (an ID token and an access token). Only the SHA-256 of a code is
 * stored; a code is bound to its client and redirect_uri, lives 60 seconds and redeems once.
 */
export const CODE_TTL_S = 60
export const ACCESS_TOKEN_TTL_S = 600

export type LinkResult = 'linked' | 'failed' | 'cancelled'

/** What a link token tells the journal (docs/architecture.md, «How a link travels»). */
export interface LinkOutcome {
  result: LinkResult
  reasons: ReasonCode[]
  evidence: MatchField[]
  replaced: boolean
  /** A linked parent card with children in the journal: what Госуслуги said of them (src/flows/guardians.ts). */
  children?: LinkedChildren
}

/** A linked parent's children after the link's check; the link token carries `confirmed` and `checkedAt`. */
export interface LinkedChildren {
  /** Journal ids of the children Госуслуги confirmed. */
  confirmed: string[]
  /** Seconds; null when Госуслуги gave no children to compare. */
  checkedAt: number | null
  /** The rest, for the result page: state and reasons, never a name. */
  unconfirmed: { childId: string; state: 'mismatch' | 'not_in_esia' | 'unchecked'; reasons: string[] }[]
  /** The person did not grant the kid scopes (the page says how to). */
  withheld: boolean
}

/**
 * Claims of a login, filled by the login flow (docs/architecture.md, «How a login travels»): they
 * go into the ID token as they are, and — without the authentication-event claims — to /oauth2/userinfo.
 */
export interface LoginClaims {
  auth_time: number
  amr: string[]
  acr?: string
  org_id: string
  role: string
  family_name?: string
  given_name?: string
  middle_name?: string
  /** The login's session id (OpenID Connect Back-Channel Logout 1.0 §2.1), ID token only. */
  sid?: string
  /** Scope `children`, a parent card: journal ids of the children Госуслуги confirmed. */
  children?: string[]
  /** Scope `children`: when they were last compared with Госуслуги (seconds). */
  children_checked_at?: number
}
/**
 * `acr` values of our ID tokens (docs/architecture.md, «How a login travels»; listed in discovery): what the Госуслуги account
 * was at this login. `esia:confirmed` only for a confirmed («подтверждённая») account; a child
 * account logs in only with the parent's consent; an unconfirmed (упрощённая or стандартная)
 * account only through a link made while it was confirmed.
 */
export const ACR = { confirmed: 'esia:confirmed', child: 'esia:child', unconfirmed: 'esia:unconfirmed' } as const

/** Claims that describe the authentication event: ID token only, never userinfo. */
export const ID_TOKEN_ONLY_CLAIMS = ['auth_time', 'amr', 'acr', 'sid'] as const

interface CodeBase {
  clientId: string
  /** Exactly as the journal will send it to the token endpoint. */
  redirectUri: string
  /** `sub` of the tokens the code redeems. */
  journalUserId: string
}
export type NewAuthorizationCode =
  | (CodeBase & { kind: 'link'; outcome: LinkOutcome })
  | (CodeBase & { kind: 'login'; codeChallenge: string; nonce: string | null; claims: LoginClaims })

export const hashToken = (value: string): Buffer => createHash('sha256').update(value).digest()
export const newOpaqueToken = (): string => randomBytes(32).toString('base64url')

/** Stores a new code (on the caller's transaction when given one) and returns it; the only copy. */
export async function createAuthorizationCode(db: Queryable, input: NewAuthorizationCode): Promise<string> {
  const code = newOpaqueToken()
  const login = input.kind === 'login' ? input : undefined
  await db.query(
    `INSERT INTO authorization_codes (code_hash, kind, client_id, redirect_uri, journal_user_id, code_challenge, nonce, payload, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
    [
      hashToken(code),
      input.kind,
      input.clientId,
      input.redirectUri,
      input.journalUserId,
      login?.codeChallenge ?? null,
      login?.nonce ?? null,
      JSON.stringify(input.kind === 'link' ? input.outcome : input.claims),
      CODE_TTL_S,
    ],
  )
  return code
}

export type RedeemedCode =
  | { kind: 'link'; journalUserId: string; outcome: LinkOutcome }
  | { kind: 'login'; journalUserId: string; nonce: string | null; claims: LoginClaims; accessToken: string }

/** Why a code did not redeem; each maps to `invalid_grant` with its own description. */
export type RedeemFailure = 'unknown' | 'reused' | 'expired' | 'wrong_client' | 'wrong_redirect_uri' | 'pkce_mismatch'

export interface RedeemRequest {
  code: string
  clientId: string
  redirectUri: string
  /** S256 of the presented code_verifier, or null when none was sent. */
  codeChallenge: string | null
}

/**
 * Redeems a code in one statement: marks it used only if every binding holds (client,
 * redirect_uri, PKCE, lifetime), and for a login code stores the access token in the same breath.
 * A failed attempt changes nothing, except that presenting a used code revokes the access tokens
 * the first redemption issued (RFC 6749 §4.1.2).
 */
export async function redeemAuthorizationCode(db: Queryable, req: RedeemRequest): Promise<{ ok: true; code: RedeemedCode } | { ok: false; failure: RedeemFailure }> {
  const codeHash = hashToken(req.code)
  const accessToken = newOpaqueToken()
  // A named statement: parsed and planned once per connection, since every login redeems a code.
  const { rows } = await db.query<{ kind: 'link' | 'login'; journal_user_id: string; nonce: string | null; payload: LinkOutcome | LoginClaims }>({
    name: 'oidc.redeem-code',
    text: `WITH redeemed AS (
       UPDATE authorization_codes SET used_at = now()
       WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() AND client_id = $2 AND redirect_uri = $3
         AND (code_challenge = $4 OR (code_challenge IS NULL AND $4::text IS NULL))
       RETURNING kind, client_id, journal_user_id, nonce, payload
     ), token AS (
       INSERT INTO access_tokens (token_hash, client_id, journal_user_id, claims, code_hash, expires_at)
       SELECT $5, client_id, journal_user_id, payload - $6::text[], $1, now() + make_interval(secs => $7)
       FROM redeemed WHERE kind = 'login'
     )
     SELECT kind, journal_user_id, nonce, payload FROM redeemed`,
    values: [codeHash, req.clientId, req.redirectUri, req.codeChallenge, hashToken(accessToken), ID_TOKEN_ONLY_CLAIMS, ACCESS_TOKEN_TTL_S],
  })
  const row = rows[0]
  if (row) {
    return row.kind === 'link'
      ? { ok: true, code: { kind: 'link', journalUserId: row.journal_user_id, outcome: row.payload as LinkOutcome } }
      : { ok: true, code: { kind: 'login', journalUserId: row.journal_user_id, nonce: row.nonce, claims: row.payload as LoginClaims, accessToken } }
  }
  return { ok: false, failure: await explainRedeemFailure(db, codeHash, req) }
}

/** The slow path: find out which binding failed, and revoke on reuse. */
async function explainRedeemFailure(db: Queryable, codeHash: Buffer, req: RedeemRequest): Promise<RedeemFailure> {
  const { rows } = await db.query<{ client_id: string; redirect_uri: string; code_challenge: string | null; used: boolean; expired: boolean }>(
    `SELECT client_id, redirect_uri, code_challenge, used_at IS NOT NULL AS used, expires_at <= now() AS expired
     FROM authorization_codes WHERE code_hash = $1`,
    [codeHash],
  )
  const row = rows[0]
  if (!row) return 'unknown'
  if (row.used) {
    await db.query('DELETE FROM access_tokens WHERE code_hash = $1', [codeHash])
    return 'reused'
  }
  if (row.expired) return 'expired'
  if (row.client_id !== req.clientId) return 'wrong_client'
  if (row.redirect_uri !== req.redirectUri) return 'wrong_redirect_uri'
  return 'pkce_mismatch'
}

/** Claims an access token unlocks at /oauth2/userinfo; undefined when unknown or expired. */
export async function findAccessToken(db: Queryable, token: string): Promise<{ journalUserId: string; claims: Record<string, unknown> } | undefined> {
  const { rows } = await db.query<{ journal_user_id: string; claims: Record<string, unknown> }>(
    'SELECT journal_user_id, claims FROM access_tokens WHERE token_hash = $1 AND expires_at > now()',
    [hashToken(token)],
  )
  return rows[0] && { journalUserId: rows[0].journal_user_id, claims: rows[0].claims }
}

/** Housekeeping: codes are kept until the tokens they issued expired, for reuse detection. */
export async function purgeExpiredCodesAndTokens(db: Queryable): Promise<number> {
  const codes = await db.query('DELETE FROM authorization_codes WHERE expires_at < now() - make_interval(secs => $1)', [ACCESS_TOKEN_TTL_S])
  const tokens = await db.query('DELETE FROM access_tokens WHERE expires_at < now()')
  return (codes.rowCount ?? 0) + (tokens.rowCount ?? 0)
}
