import { randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'
import type { LoginRequest } from '../oidc-provider/authorize.js'
import type { BrowserHash } from './browser.js'
import { FLOW_STATE_TTL_S } from './flow-state.js'

/**
 * A login that waits for the person after the callback (0005_login.sql): the chooser
 * «Выберите организацию», or a failure page. Bound to the browser, used once, as short-lived as
 * the trip to Госуслуги. The journal users on offer are kept here, so a choice posted from the
 * page is honoured only if it is one of them (never a journal user id from the form alone).
 */
export const PENDING_LOGIN_TTL_S = FLOW_STATE_TTL_S

/** How the person authenticated, carried to the ID token of whichever card they pick. */
export interface LoginAuth {
  auth_time: number
  acr: string
  /** How the card was reached: an existing link, or one this login created (audit only). */
  method: 'link' | 'auto'
}

/** The journal's request as the code will answer it (the prompt was already honoured). */
export type AnsweredRequest = Omit<LoginRequest, 'selectAccount'>

export type NewPendingLogin =
  | { kind: 'choose'; request: AnsweredRequest; subject: string; auth: LoginAuth; candidates: string[] }
  | { kind: 'failed'; request: Pick<LoginRequest, 'clientId' | 'redirectUri' | 'state'>; reasons: string[] }
export type PendingLogin = NewPendingLogin & { id: string }

interface Row {
  id: string
  kind: 'choose' | 'failed'
  client_id: string
  redirect_uri: string
  client_state: string
  nonce: string | null
  code_challenge: string | null
  upstream_subject: string | null
  auth: LoginAuth | null
  candidates: string[]
  reasons: string[]
  children: boolean
}
const COLUMNS = 'id, kind, client_id, redirect_uri, client_state, nonce, code_challenge, upstream_subject, auth, candidates, reasons, children'

function toPending(r: Row): PendingLogin {
  const request = { clientId: r.client_id, redirectUri: r.redirect_uri, state: r.client_state }
  if (r.kind === 'failed') return { id: r.id, kind: 'failed', request, reasons: r.reasons }
  return {
    id: r.id,
    kind: 'choose',
    request: { ...request, nonce: r.nonce!, codeChallenge: r.code_challenge!, children: r.children },
    subject: r.upstream_subject!,
    auth: r.auth!,
    candidates: r.candidates,
  }
}

export async function savePendingLogin(db: Queryable, browser: BrowserHash, pending: NewPendingLogin): Promise<string> {
  const id = randomBytes(32).toString('base64url')
  const choose = pending.kind === 'choose' ? pending : undefined
  await db.query(
    `INSERT INTO pending_logins (id, browser_hash, kind, client_id, redirect_uri, client_state, nonce, code_challenge, upstream_subject, auth, candidates, reasons, expires_at, children)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now() + make_interval(secs => $13), $14)`,
    [
      id,
      browser,
      pending.kind,
      pending.request.clientId,
      pending.request.redirectUri,
      pending.request.state,
      choose?.request.nonce ?? null,
      choose?.request.codeChallenge ?? null,
      choose?.subject ?? null,
      choose ? JSON.stringify(choose.auth) : null,
      choose?.candidates ?? [],
      pending.kind === 'failed' ? pending.reasons : [],
      PENDING_LOGIN_TTL_S,
      choose?.request.children ?? false,
    ],
  )
  return id
}

/** What this browser may do with `/login/{id}`: each answer gets its own page. */
export type PendingView = { state: 'unknown' } | { state: 'other_browser' } | { state: 'gone' } | { state: 'ready'; pending: PendingLogin }

export async function viewPendingLogin(db: Queryable, id: string, browser: BrowserHash | undefined): Promise<PendingView> {
  const { rows } = await db.query<Row & { ours: boolean; live: boolean }>(
    `SELECT ${COLUMNS}, browser_hash = $2 AS ours, consumed_at IS NULL AND expires_at > now() AS live FROM pending_logins WHERE id = $1`,
    [id, browser ?? Buffer.alloc(32)],
  )
  const row = rows[0]
  if (!row) return { state: 'unknown' }
  if (!row.ours) return { state: 'other_browser' }
  return row.live ? { state: 'ready', pending: toPending(row) } : { state: 'gone' }
}

/**
 * Takes a pending login for this browser, once (of two tabs posting at once, one wins). With
 * `choice`, only a chooser whose candidates include it: a forged or stale value takes nothing.
 */
export async function takePendingLogin(db: Queryable, id: string, browser: BrowserHash | undefined, choice?: string): Promise<PendingLogin | undefined> {
  if (!browser) return undefined
  const { rows } = await db.query<Row>(
    `UPDATE pending_logins SET consumed_at = now()
     WHERE id = $1 AND browser_hash = $2 AND consumed_at IS NULL AND expires_at > now()
       AND ($3::text IS NULL OR (kind = 'choose' AND $3 = ANY (candidates)))
     RETURNING ${COLUMNS}`,
    [id, browser, choice ?? null],
  )
  return rows[0] && toPending(rows[0])
}

/** Logout: whatever this browser still had pending is dropped. */
export async function forgetPendingLogins(db: Queryable, browser: BrowserHash): Promise<void> {
  await db.query('DELETE FROM pending_logins WHERE browser_hash = $1', [browser])
}

export async function purgePendingLogins(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM pending_logins WHERE expires_at < now()')
  return rowCount ?? 0
}
