import { randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import { sha256 } from '../oidc-provider/clients.js'

/**
 * Console sessions (OWASP ASVS 5.0 V7): a 256-bit random id in an HttpOnly cookie, only its SHA-256
 * in the database; a new id at every login (no session fixation); idle and absolute expiry checked
 * on the server; logout deletes the row.
 */
export const SESSION_IDLE_MINUTES = 30
export const SESSION_ABSOLUTE_HOURS = 8

export async function createSession(db: Queryable, accountId: string): Promise<string> {
  const id = randomBytes(32).toString('base64url')
  await db.query(
    `INSERT INTO support_sessions (id_sha256, account_id, expires_at) VALUES ($1, $2, now() + make_interval(hours => $3))`,
    [sha256(id), accountId, SESSION_ABSOLUTE_HOURS],
  )
  return id
}

/**
 * The account of a live session, or undefined. Refreshes the idle clock at most once a minute: one
 * write per minute of activity instead of one per page.
 */
export async function resolveSession(db: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ account_id: string }>(
    `WITH live AS (
       SELECT s.id_sha256, s.account_id, s.last_seen_at FROM support_sessions s JOIN support_accounts a ON a.id = s.account_id
       WHERE s.id_sha256 = $1 AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(mins => $2) AND NOT a.disabled
     ), touched AS (
       UPDATE support_sessions SET last_seen_at = now()
       WHERE id_sha256 IN (SELECT id_sha256 FROM live WHERE last_seen_at < now() - interval '1 minute')
     )
     SELECT account_id FROM live`,
    [sha256(id), SESSION_IDLE_MINUTES],
  )
  return rows[0]?.account_id
}

export async function deleteSession(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM support_sessions WHERE id_sha256 = $1', [sha256(id)])
}

export async function purgeExpiredSessions(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM support_sessions WHERE expires_at < now() OR last_seen_at < now() - make_interval(mins => $1)`,
    [SESSION_IDLE_MINUTES],
  )
  return rowCount ?? 0
}
