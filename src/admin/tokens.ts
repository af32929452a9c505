import { randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import { writeAudit, type AuditActor } from '../linking/audit.js'
import { sha256 } from '../oidc-provider/clients.js'

/**
 * API tokens of support accounts, for automation. The token is 256 random bits shown once at
 * creation; only its SHA-256 is stored. The `esb_` prefix lets secret scanners and people recognise
 * a leaked token.
 */
export interface ApiToken {
  id: string
  accountId: string
  name: string
  createdAt: Date
  lastUsedAt: Date | null
}

interface TokenRow {
  id: string
  account_id: string
  name: string
  created_at: Date
  last_used_at: Date | null
}

const toToken = (r: TokenRow): ApiToken => ({ id: r.id, accountId: r.account_id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at })
const COLUMNS = 'id, account_id, name, created_at, last_used_at'

export async function createApiToken(db: Queryable, accountId: string, name: string, actor: AuditActor): Promise<{ token: ApiToken; secret: string }> {
  const secret = `esb_${randomBytes(32).toString('base64url')}`
  const { rows } = await db.query<TokenRow>(
    `INSERT INTO support_api_tokens (account_id, name, token_sha256) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
    [accountId, name.trim(), sha256(secret)],
  )
  const token = toToken(rows[0]!)
  await writeAudit(db, { type: 'support.token_created', actor, details: { account_id: accountId, token_id: token.id, name: token.name } })
  return { token, secret }
}

export async function listApiTokens(db: Queryable, accountId: string): Promise<ApiToken[]> {
  const { rows } = await db.query<TokenRow>(`SELECT ${COLUMNS} FROM support_api_tokens WHERE account_id = $1 ORDER BY created_at DESC`, [accountId])
  return rows.map(toToken)
}

/** Deletes a token of this account; false when there is no such token (or it is someone else's). */
export async function revokeApiToken(db: Queryable, accountId: string, tokenId: string, actor: AuditActor): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM support_api_tokens WHERE id = $1 AND account_id = $2', [tokenId, accountId])
  if (!rowCount) return false
  await writeAudit(db, { type: 'support.token_revoked', actor, details: { account_id: accountId, token_id: tokenId } })
  return true
}

/**
 * The account behind a presented token, if the token exists and the account is enabled. Marks the
 * token used at most once a minute, so busy automation does not write on every request.
 */
export async function accountIdForToken(db: Queryable, presented: string): Promise<string | undefined> {
  const { rows } = await db.query<{ account_id: string }>(
    `WITH hit AS (
       SELECT t.id, t.account_id FROM support_api_tokens t JOIN support_accounts a ON a.id = t.account_id
       WHERE t.token_sha256 = $1 AND NOT a.disabled
     ), touched AS (
       UPDATE support_api_tokens SET last_used_at = now()
       WHERE id IN (SELECT id FROM hit) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
     )
     SELECT account_id FROM hit`,
    [sha256(presented)],
  )
  return rows[0]?.account_id
}
