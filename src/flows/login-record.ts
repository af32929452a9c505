import type { PoolClient, Queryable } from '../db/pool.js'
import { checkDueSql, childrenClaimsSql } from '../guardians/checks.js'
import { writeAudit } from '../linking/audit.js'
import { recordFailedAttempt } from '../linking/failed-attempts.js'
import type { GroupRejection } from '../matching/candidates.js'
import type { ReasonCode } from '../matching/types.js'
import { CODE_TTL_S, hashToken, newOpaqueToken } from '../oidc-provider/codes.js'
import type { VerifiedPerson } from '../upstream/types.js'
import { newSessionId } from '../events/sessions.js'
import type { BrowserHash } from './browser.js'
import { CHOOSER_ORDER, LINKED_CARDS_SQL, toCard, type CardRow, type LinkedCard } from './login-cards.js'
import type { AnsweredRequest, LoginAuth } from './login-pending.js'

/**
 * What a login leaves behind: on success the authorization code, the link's last login time and
 * the `login.succeeded` audit event; on failure the `login.failed` events and the failed attempts
 * support reads (src/linking/failed-attempts.ts).
 */

/** docs/architecture.md, «How a login travels»: `amr` names the method the bridge relied on — Госуслуги. */
const AMR = ['esia']

/** A login about to be answered with a code: whose, for which request, how they authenticated. */
export interface SuccessfulLogin {
  request: AnsweredRequest
  subject: string
  auth: LoginAuth
  /** Audit details: method (link | auto), client, whether the chooser was used… never names. */
  details: Record<string, unknown>
}

export interface IssueOptions {
  /** The card to log in as; null: the person's only card, when they have exactly one. */
  asCard: string | null
  /** The browser the login came from: the `sid` is tagged with it (src/events/sessions.ts, newSessionId). */
  browser?: BrowserHash | undefined
  /** Back-Channel Logout 1.0: the session is recorded, with its browser, for a client that will want to hear its end. */
  recordSession?: boolean | undefined
  /**
   * Госуслуги gave the children (kid_* scopes granted): a parent's card whose children are due a
   * new comparison (src/guardians/checks.ts, with these re-check hours) gets no code here; the
   * caller compares them first, then asks again for that card.
   */
  childrenRecheck?: { confirmed: number; other: number } | undefined
}

export interface IssuedLogin {
  /** The code for the journal; undefined when no card was to be logged in as. */
  code: string | undefined
  /** Every card linked to the subject, in the chooser's order (read in the same statement). */
  cards: LinkedCard[]
  /** The card to log in as is a parent whose children are due a comparison (no code yet). */
  childrenDue: boolean
}

/**
 * The login's one statement (each round trip costs the login path:
 * docs/performance.md, «Benchmarks»): it reads
 * the cards linked to the subject and, for the card to log in as, writes the link's
 * `last_login_at`, the code and the `login.succeeded` audit event together. The card is
 * `asCard` (the one chosen on the chooser, or just linked), or with `asCard` null the person's only
 * card — so a returning person's callback needs no second statement, and someone with no card or
 * several gets the cards back and no code. The write happens only while the card is still linked to
 * this subject: a link support removed a second ago yields no code rather than a login through a
 * link that is gone.
 *
 * The code's payload is the ID token's claims (docs/integration.md, «Login with openid-client»): the authentication event
 * and the session id from JavaScript, then organisation, role and the names as the school typed
 * them (a patronymic only when there is one). The session id (`sid`, OpenID Connect Back-Channel
 * Logout 1.0) rides in every login's claims; for a client with a backchannel_logout_uri the same
 * statement also records the session, so a later logout or unlink can end it. A journal that asked
 * for scope `children` gets a parent's confirmed children in the payload from the same statement.
 * The columns are those of createAuthorizationCode (src/oidc-provider/codes.ts), writeAudit
 * (src/linking/audit.ts) and login_sessions (src/events/sessions.ts), written here in one statement
 * instead of five calls.
 */
const ISSUE_CODE = `WITH cards AS (
             ${LINKED_CARDS_SQL}
           ), card AS (
             SELECT cards.*, ($12::int IS NOT NULL AND cards.role = 'parent' AND ${checkDueSql('ARRAY[cards.id]', '$1', '$12', '$13')}) AS children_due
             FROM cards WHERE cards.id = $2 OR ($2::text IS NULL AND (SELECT count(*) FROM cards) = 1)
           ), seen AS (
             UPDATE links SET last_login_at = now() FROM card
             WHERE links.journal_user_id = card.id AND links.upstream_subject = $1 AND NOT card.children_due
             RETURNING card.*, links.organization_id AS link_organization_id
           ), issued AS (
             INSERT INTO authorization_codes (code_hash, kind, client_id, redirect_uri, journal_user_id, code_challenge, nonce, payload, expires_at)
             SELECT $3, 'login', $4, $5, seen.id, $6, $7,
                    $8::jsonb || jsonb_build_object('org_id', seen.organization_id, 'role', seen.role, 'family_name', seen.last_name, 'given_name', seen.first_name)
                      || CASE WHEN seen.middle_name <> '' THEN jsonb_build_object('middle_name', seen.middle_name) ELSE '{}'::jsonb END
                      || CASE WHEN $11 AND seen.role = 'parent' THEN ${childrenClaimsSql('seen.id', '$1')} ELSE '{}'::jsonb END,
                    now() + make_interval(secs => $9)
             FROM seen
           ), session AS (
             INSERT INTO login_sessions (sid, client_id, journal_user_id, browser_hash) SELECT $14, $4, seen.id, $16 FROM seen WHERE $15
           ), audit AS (
             INSERT INTO audit_events (type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, details)
             SELECT 'login.succeeded', 'person', $1, seen.id, seen.link_organization_id, $1, $10 FROM seen
           )
           SELECT cards.*, cards.id IN (SELECT id FROM seen) AS logged_in, coalesce((SELECT children_due FROM card), false) AS children_due
           FROM cards ${CHOOSER_ORDER}`

export async function issueLoginCode(db: Queryable, login: SuccessfulLogin, opts: IssueOptions): Promise<IssuedLogin> {
  const code = newOpaqueToken()
  const sid = newSessionId(opts.browser)
  const { request, subject, auth } = login
  const { rows } = await db.query<CardRow & { logged_in: boolean; children_due: boolean }>({
    name: 'login.issue-code',
    text: ISSUE_CODE,
    values: [
      subject,
      opts.asCard,
      hashToken(code),
      request.clientId,
      request.redirectUri,
      request.codeChallenge,
      request.nonce,
      JSON.stringify({ auth_time: auth.auth_time, amr: AMR, acr: auth.acr, sid }),
      CODE_TTL_S,
      JSON.stringify({ ...login.details, client_id: request.clientId, acr: auth.acr }),
      // Scope `children` on a parent card: the children Госуслуги confirmed (src/guardians/checks.ts).
      request.children,
      opts.childrenRecheck?.confirmed ?? null,
      opts.childrenRecheck?.other ?? null,
      sid,
      opts.recordSession ?? false,
      opts.browser ?? null,
    ],
  })
  return { code: rows.some((r) => r.logged_in) ? code : undefined, cards: rows.map(toCard), childrenDue: rows[0]?.children_due ?? false }
}

/**
 * Records a sealed-cookie login's state as used — the callback's first step, before ЕСИА's code is
 * redeemed. False: it was used before (a reload while the first callback was still at Госуслуги, or
 * a copied cookie), and nothing more happens.
 */
export async function consumeLoginState(db: Queryable, state: string, expiresAt: number): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'login.consume-state',
    text: 'INSERT INTO consumed_login_states (state, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING',
    values: [state, expiresAt],
  })
  return rowCount === 1
}

export async function purgeConsumedLoginStates(db: Queryable): Promise<number> {
  // A row outlives its state by ten minutes: the callback judges expiry by the bridge's clock, the
  // purge by the database's, and the two may disagree by a little.
  const { rowCount } = await db.query(`DELETE FROM consumed_login_states WHERE expires_at < now() - interval '10 minutes'`)
  return rowCount ?? 0
}

export interface FailedLogin {
  clientId: string
  /** Null when the upstream failed before anyone was known. */
  person: VerifiedPerson | null
  reasons: ReasonCode[]
  /** Organisations whose cards were found but could not be used: each school's support sees its own. */
  rejections: GroupRejection[]
  details?: Record<string, unknown>
}

/**
 * A child's data without the parent's consent is not ours to keep (docs/sources.md: Камчатка slides): the failed attempt
 * holds the account, not the names, whatever an adapter handed over.
 */
function keptPerson(person: VerifiedPerson | null, reasons: readonly ReasonCode[]): VerifiedPerson | null {
  if (!person || !reasons.includes('child_consent_required')) return person
  return { ...person, lastName: '', firstName: '', middleName: null, birthDate: null, snils: null, kids: [] }
}

/**
 * Records a failed login on the caller's transaction: per organisation whose cards were found (or
 * once, without an organisation, when none was), a failed attempt for support and a `login.failed`
 * audit event, each naming the other.
 */
export async function recordLoginFailure(tx: PoolClient, snilsKey: string, failure: FailedLogin): Promise<void> {
  const person = keptPerson(failure.person, failure.reasons)
  const groups = failure.rejections.length > 0 ? failure.rejections : [undefined]
  for (const group of groups) {
    const reasons = group?.reasons ?? failure.reasons
    const journalUserId = group?.journalUserIds.length === 1 ? group.journalUserIds[0]! : null
    const organizationId = group?.organizationId ?? null
    const details = {
      client_id: failure.clientId,
      ...(group ? { role: group.role, journal_user_ids: group.journalUserIds, ...(group.missing.length ? { missing: group.missing } : {}) } : {}),
      ...failure.details,
    }
    const attemptId = await recordFailedAttempt(tx, snilsKey, { flow: 'login', reasons, journalUserId, organizationId, person, details })
    await writeAudit(tx, {
      type: 'login.failed',
      actor: { kind: 'person', id: person?.subject ?? null },
      journalUserId,
      organizationId,
      upstreamSubject: person?.subject ?? null,
      reason: reasons.join(' '),
      details: { reasons, failed_attempt_id: attemptId, ...details },
    })
  }
}
