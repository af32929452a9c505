import { randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import type { LinkOutcome } from '../oidc-provider/codes.js'
import type { BrowserHash } from './browser.js'

/**
 * A journal's request to link one of its users (docs/architecture.md, «How a link travels»). The journal vouches for who
 * the person is (they are logged in to the journal); we bind the intent to the first browser that
 * opens it, so a leaked link cannot be finished elsewhere (docs/security.md, «Controls, by area»).
 *
 * Life of an intent: created → opened (browser bound) → consumed with an outcome (the flow ended:
 * linked, failed or cancelled) → returned (the person went back to the journal with a code).
 */
export const LINK_INTENT_TTL_S = 600
/** After the flow ended, its result page stays readable this long before the row is purged. */
const RESULT_KEPT_S = 3600

export interface LinkIntent {
  id: string
  clientId: string
  journalUserId: string
  redirectUri: string
  clientState: string
  expiresAt: Date
  outcome: LinkOutcome | null
}

/** What the browser that opens `/link/{id}` may do with the intent. */
export type IntentView =
  | { state: 'unknown' }
  | { state: 'other_browser'; intent: LinkIntent }
  | { state: 'ready'; intent: LinkIntent }
  | { state: 'expired'; intent: LinkIntent }
  | { state: 'result'; intent: LinkIntent & { outcome: LinkOutcome } }
  | { state: 'done'; intent: LinkIntent }

interface IntentRow {
  id: string
  client_id: string
  journal_user_id: string
  redirect_uri: string
  client_state: string
  expires_at: Date
  outcome: LinkOutcome | null
}
const COLUMNS = 'id, client_id, journal_user_id, redirect_uri, client_state, expires_at, outcome'
const toIntent = (r: IntentRow): LinkIntent => ({
  id: r.id,
  clientId: r.client_id,
  journalUserId: r.journal_user_id,
  redirectUri: r.redirect_uri,
  clientState: r.client_state,
  expiresAt: r.expires_at,
  outcome: r.outcome,
})

export async function createLinkIntent(
  db: Queryable,
  input: { clientId: string; journalUserId: string; redirectUri: string; clientState: string },
): Promise<{ id: string; expiresAt: Date }> {
  // 256 bits: the id travels in a URL and is the only thing that names the intent.
  const id = randomBytes(32).toString('base64url')
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO link_intents (id, client_id, journal_user_id, redirect_uri, client_state, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
    [id, input.clientId, input.journalUserId, input.redirectUri, input.clientState, LINK_INTENT_TTL_S],
  )
  return { id, expiresAt: rows[0]!.expires_at }
}

/**
 * Opens an intent in this browser: the first browser to open it is bound to it (one statement, so
 * two browsers racing get one winner), and the answer says what this browser may do.
 */
export async function openLinkIntent(db: Queryable, id: string, browser: BrowserHash): Promise<IntentView> {
  const { rows } = await db.query<IntentRow & { ours: boolean; expired: boolean; consumed: boolean; returned: boolean }>(
    `UPDATE link_intents SET browser_hash = coalesce(browser_hash, $2) WHERE id = $1
     RETURNING ${COLUMNS}, browser_hash = $2 AS ours, expires_at <= now() AS expired,
       consumed_at IS NOT NULL AS consumed, returned_at IS NOT NULL AS returned`,
    [id, browser],
  )
  const row = rows[0]
  if (!row) return { state: 'unknown' }
  const intent = toIntent(row)
  if (!row.ours) return { state: 'other_browser', intent }
  if (row.returned) return { state: 'done', intent }
  if (row.consumed) return { state: 'result', intent: { ...intent, outcome: row.outcome! } }
  return row.expired ? { state: 'expired', intent } : { state: 'ready', intent }
}

/** The intent if this browser may start or cancel it now (opened here, not expired, not consumed). */
export async function readyLinkIntent(db: Queryable, id: string, browser: BrowserHash | undefined): Promise<LinkIntent | undefined> {
  if (!browser) return undefined
  const { rows } = await db.query<IntentRow>(
    `SELECT ${COLUMNS} FROM link_intents WHERE id = $1 AND browser_hash = $2 AND consumed_at IS NULL AND expires_at > now()`,
    [id, browser],
  )
  return rows[0] && toIntent(rows[0])
}

/** The intent a callback is about to end, locked until the transaction ends; undefined when already ended. */
export async function lockLinkIntent(tx: Queryable, id: string): Promise<LinkIntent | undefined> {
  const { rows } = await tx.query<IntentRow>(`SELECT ${COLUMNS} FROM link_intents WHERE id = $1 AND consumed_at IS NULL FOR UPDATE`, [id])
  return rows[0] && toIntent(rows[0])
}

/**
 * Ends the intent with its outcome, once: of two callbacks racing for one intent only one gets
 * it. `returned` when the person goes straight back to the journal (success, cancel); otherwise
 * the result page keeps the outcome until they press «Вернуться в журнал».
 * No expiry check here: the flow state's own lifetime governs a flow already under way.
 */
export async function consumeLinkIntent(db: Queryable, id: string, outcome: LinkOutcome, returned: boolean): Promise<LinkIntent | undefined> {
  const { rows } = await db.query<IntentRow>(
    `UPDATE link_intents SET consumed_at = now(), outcome = $2, returned_at = CASE WHEN $3 THEN now() END
     WHERE id = $1 AND consumed_at IS NULL RETURNING ${COLUMNS}`,
    [id, JSON.stringify(outcome), returned],
  )
  return rows[0] && toIntent(rows[0])
}

/** The ended intent whose outcome this browser is taking back to the journal, once. */
export async function returnLinkIntent(db: Queryable, id: string, browser: BrowserHash | undefined): Promise<(LinkIntent & { outcome: LinkOutcome }) | undefined> {
  if (!browser) return undefined
  const { rows } = await db.query<IntentRow>(
    `UPDATE link_intents SET returned_at = now()
     WHERE id = $1 AND browser_hash = $2 AND consumed_at IS NOT NULL AND returned_at IS NULL RETURNING ${COLUMNS}`,
    [id, browser],
  )
  const row = rows[0]
  return row && { ...toIntent(row), outcome: row.outcome! }
}

export async function purgeLinkIntents(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM link_intents WHERE expires_at < now() - make_interval(secs => $1)', [RESULT_KEPT_S])
  return rowCount ?? 0
}
