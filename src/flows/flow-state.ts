import type { Queryable } from '../db/pool.js'
import type { UpstreamTransaction } from '../upstream/types.js'
import type { BrowserHash } from './browser.js'

/**
 * Our transaction with the upstream IdP while the person is away at Госуслуги: state, nonce, PKCE
 * verifier, and what the flow was doing (a link intent, or a journal's authorize request). Bound to
 * the browser, consumed once (docs/security.md, «Controls, by area»). Two carriers: a link flow's is
 * a `flow_states` row, taken by the callback; a login's travels in a sealed cookie
 * (src/flows/login-state.ts), and the callback's first statement records its state as used.
 */
export type FlowKind = 'link' | 'login'

/** Long enough for an SMS code or a lost password at Госуслуги; short enough to be useless later. */
export const FLOW_STATE_TTL_S = 600

export interface FlowState {
  kind: FlowKind
  transaction: UpstreamTransaction
  /** Set for `link`. */
  linkIntentId: string | null
  /** The login flow's saved authorize request. */
  authorizeRequest: Record<string, unknown> | null
}

export async function saveFlowState(db: Queryable, browser: BrowserHash, flow: FlowState): Promise<void> {
  // Named statements: these two run on every login, and a prepared plan spares the parse each time.
  await db.query({
    name: 'flow.save-state',
    text: `INSERT INTO flow_states (kind, browser_hash, upstream_state, nonce, code_verifier, link_intent_id, authorize_request, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
    values: [flow.kind, browser, flow.transaction.state, flow.transaction.nonce, flow.transaction.codeVerifier, flow.linkIntentId, flow.authorizeRequest && JSON.stringify(flow.authorizeRequest), FLOW_STATE_TTL_S],
  })
}

/** Why a callback's state did not lead anywhere; each gets its own page. */
export type FlowStateRefusal = 'unknown' | 'other_browser' | 'expired'

export type TakenFlow = { ok: true; flow: FlowState; browser: BrowserHash } | { ok: false; refusal: FlowStateRefusal; kind?: FlowKind }

interface FlowRow {
  kind: FlowKind
  upstream_state: string
  nonce: string
  code_verifier: string | null
  link_intent_id: string | null
  authorize_request: Record<string, unknown> | null
  expired: boolean
}

/**
 * Takes the flow state for a callback, once: `DELETE … RETURNING` with the browser binding in the
 * WHERE, so of two concurrent callbacks only one gets it, and a state carried to another browser
 * deletes nothing. Unknown covers replayed and forged states alike.
 */
export async function consumeFlowState(
  db: Queryable,
  upstreamState: string,
  browser: BrowserHash | undefined,
): Promise<TakenFlow> {
  if (browser) {
    const { rows } = await db.query<FlowRow>({
      name: 'flow.take-state',
      text: `DELETE FROM flow_states WHERE upstream_state = $1 AND browser_hash = $2
             RETURNING kind, upstream_state, nonce, code_verifier, link_intent_id, authorize_request, expires_at <= now() AS expired`,
      values: [upstreamState, browser],
    })
    const row = rows[0]
    if (row) {
      if (row.expired) return { ok: false, refusal: 'expired', kind: row.kind }
      return {
        ok: true,
        browser,
        flow: {
          kind: row.kind,
          transaction: { state: row.upstream_state, nonce: row.nonce, codeVerifier: row.code_verifier },
          linkIntentId: row.link_intent_id,
          authorizeRequest: row.authorize_request,
        },
      }
    }
  }
  const { rows } = await db.query<{ kind: FlowKind }>('SELECT kind FROM flow_states WHERE upstream_state = $1 AND expires_at > now()', [upstreamState])
  return rows[0] ? { ok: false, refusal: 'other_browser', kind: rows[0].kind } : { ok: false, refusal: 'unknown' }
}

export async function purgeExpiredFlowStates(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM flow_states WHERE expires_at < now()')
  return rowCount ?? 0
}
