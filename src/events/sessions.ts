import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import { BACKCHANNEL_LOGOUT } from './event-types.js'
import { NOTIFY_CHANNEL } from './outbox.js'
import { retentionRecordCte } from '../subjects/retention-record.js'

/**
 * The bridge's login sessions for OpenID Connect Back-Channel Logout 1.0 (`login_sessions`). The
 * bridge keeps no session of its own in a browser (every login goes to Госуслуги), so a session is
 * one login: its `sid` goes into the ID token, and the row remembers the client, the journal user
 * and the browser it came from. The login writes the row in its own statement
 * (src/flows/login-record.ts), and only for clients with a backchannel_logout_uri.
 *
 * Ending sessions deletes their rows and queues a logout token for each in the outbox, in the same
 * statement; the sender (sender.ts) delivers them with the same retries as SETs.
 */
/**
 * A login's `sid`: random, and — when the login came from a browser we know — tagged with that
 * browser, so that /oauth2/logout can tell whether an ID token offered as `id_token_hint` came from a
 * login in the very browser now asking to log out (sidMadeIn). The tag is SHA-256 over the random
 * part and the browser's hash (itself a hash of a 256-bit secret cookie): it reveals nothing and
 * only the browser holding the cookie matches it. Any ID token's signature alone proves nothing
 * about whose browser this is — anyone can log in and get one of their own.
 */
export function newSessionId(browser?: Buffer): string {
  const random = randomBytes(18).toString('base64url')
  return browser ? `${random}.${browserTag(random, browser)}` : random
}

const browserTag = (random: string, browser: Buffer): string => createHash('sha256').update(random).update(browser).digest().subarray(0, 16).toString('base64url')

/** Whether the login `sid` names was made from the browser whose hash is `browser`. */
export function sidMadeIn(sid: string, browser: Buffer): boolean {
  const [random, tag, extra] = sid.split('.')
  if (!random || !tag || extra !== undefined) return false
  const expected = Buffer.from(browserTag(random, browser))
  const given = Buffer.from(tag)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** Session records of logins nobody ended are dropped after this many days; a journal session that outlives it is not told of a later unlink. */
export const LOGIN_SESSION_KEEP_DAYS = 30

const QUEUE_LOGOUTS = `
  queued AS (
    INSERT INTO event_outbox (client_id, kind, delivery, journal_user_id, event_type, data)
    SELECT e.client_id, 'logout', 'push', e.journal_user_id, '${BACKCHANNEL_LOGOUT}', jsonb_build_object('sid', e.sid)
    FROM ended e JOIN event_recipients r ON r.client_id = e.client_id AND r.backchannel_logout
    ORDER BY e.created_at, e.sid
    RETURNING client_id
  )
  SELECT pg_notify($2, client_id) FROM (SELECT DISTINCT client_id FROM queued) q`

/** Every session of a journal user ends (its link was removed by support, moved or replaced). */
export async function endSessionsOfUser(tx: Queryable, journalUserId: string): Promise<void> {
  await tx.query(
    `WITH ended AS (DELETE FROM login_sessions WHERE journal_user_id = $1 RETURNING sid, client_id, journal_user_id, created_at), ${QUEUE_LOGOUTS}`,
    [journalUserId, NOTIFY_CHANNEL],
  )
}

/**
 * Logout at the bridge (/oauth2/logout): the sessions started from this browser, and the one the
 * journal named by its `id_token_hint`, end.
 */
export async function endBrowserSessions(db: Queryable, who: { browser: Buffer | undefined; sid: string | undefined }): Promise<void> {
  if (!who.browser && !who.sid) return
  await db.query(
    `WITH ended AS (
       DELETE FROM login_sessions WHERE browser_hash = $1 OR sid = $3 RETURNING sid, client_id, journal_user_id, created_at
     ), ${QUEUE_LOGOUTS}`,
    [who.browser ?? null, NOTIFY_CHANNEL, who.sid ?? null],
  )
}

/** Session records past LOGIN_SESSION_KEEP_DAYS go, with a destruction record (src/subjects/destruction.ts) in the same statement. */
export async function purgeLoginSessions(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH gone AS (DELETE FROM login_sessions WHERE created_at < now() - make_interval(days => $1) RETURNING 1),
          counted AS (SELECT count(*)::int AS n FROM gone),
          ${retentionRecordCte({ from: 'counted', count: 'n', category: 'login_sessions', reason: 'login session records kept long enough' })}
     SELECT n FROM counted`,
    [LOGIN_SESSION_KEEP_DAYS],
  )
  return rows[0]?.n ?? 0
}
