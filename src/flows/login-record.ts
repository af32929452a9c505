import type { PoolClient, Queryable } from '../db/pool.js'
import { childrenClaimsSql } from '../guardians/checks.js'
import { writeAudit } from '../linking/audit.js'
import { recordFailedAttempt } from '../linking/failed-attempts.js'
import type { GroupRejection } from '../matching/candidates.js'
import type { ReasonCode } from '../matching/types.js'
import { CODE_TTL_S, hashToken, newOpaqueToken, type LoginClaims } from '../oidc-provider/codes.js'
import type { VerifiedPerson } from '../upstream/types.js'
import { newSessionId } from '../events/sessions.js'
import type { BrowserHash } from './browser.js'
import type { LinkedCard } from './login-cards.js'
import type { AnsweredRequest, LoginAuth } from './login-pending.js'

/**
 * What a login leaves behind: on success the authorization code, the link's last login time and
 * the `login.succeeded` audit event; on failure the `login.failed` events and the failed attempts
 * support reads (src/linking/failed-attempts.ts).
 */

/** DESIGN.md §2: `amr` names the method the bridge relied on — Госуслуги. */
const AMR = ['esia']

/** ID token claims of a login as this card (DESIGN.md §2): organisation, role, names as on the card. */
export function loginClaims(card: LinkedCard, auth: LoginAuth): LoginClaims {
  return {
    auth_time: auth.auth_time,
    amr: AMR,
    acr: auth.acr,
    org_id: card.organizationId,
    role: card.role,
    family_name: card.lastName,
    given_name: card.firstName,
    ...(card.middleName ? { middle_name: card.middleName } : {}),
  }
}

export interface SuccessfulLogin {
  request: AnsweredRequest
  card: LinkedCard
  subject: string
  auth: LoginAuth
  /** Audit details: method (link | auto), client, whether the chooser was used… never names. */
  details: Record<string, unknown>
}

/**
 * Issues the code the browser takes back to the journal, in one statement (one round trip on the
 * login path, DESIGN.md §Service levels): the link's `last_login_at`, the code and the audit event
 * are written together, and only while the card is still linked to this subject — a link support
 * removed a second ago yields no code (undefined) rather than a login through a link that is gone.
 *
 * The login's session id (`sid`, OpenID Connect Back-Channel Logout 1.0) rides in the code's claims
 * into the ID token. For a client with a backchannel_logout_uri the same statement also records the
 * session (`session`: the browser it came from), so a later logout or unlink can end it; other
 * clients' logins run the statement without that part.
 *
 * The columns are those of createAuthorizationCode (src/oidc-provider/codes.ts), writeAudit
 * (src/linking/audit.ts) and login_sessions (src/events/sessions.ts); they are written here as one
 * statement instead of three or four calls.
 * A journal that asked for scope `children` gets a parent's confirmed children in the payload from
 * the same statement (src/guardians/checks.ts); no other login reads them.
 */
const ISSUE_CODE = `WITH seen AS (
             UPDATE links SET last_login_at = now() WHERE journal_user_id = $1 AND upstream_subject = $2 RETURNING organization_id
           ), code AS (
             INSERT INTO authorization_codes (code_hash, kind, client_id, redirect_uri, journal_user_id, code_challenge, nonce, payload, expires_at)
             SELECT $3, 'login', $4, $5, $1, $6, $7, $8::jsonb || CASE WHEN $11 THEN ${childrenClaimsSql('$1', '$2')} ELSE '{}'::jsonb END,
                    now() + make_interval(secs => $9) FROM seen
           )`
const RECORD_AUDIT = `
           INSERT INTO audit_events (type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, details)
           SELECT 'login.succeeded', 'person', $2, $1, organization_id, $2, $10 FROM seen`
const RECORD_SESSION = `, session AS (
             INSERT INTO login_sessions (sid, client_id, journal_user_id, browser_hash) SELECT $12, $4, $1, $13 FROM seen
           )`

export async function issueLoginCode(db: Queryable, login: SuccessfulLogin, session?: { browser: BrowserHash | undefined }): Promise<string | undefined> {
  const code = newOpaqueToken()
  const sid = newSessionId()
  const { request, card, subject } = login
  const values: unknown[] = [
    card.journalUserId,
    subject,
    hashToken(code),
    request.clientId,
    request.redirectUri,
    request.codeChallenge,
    request.nonce,
    JSON.stringify({ ...loginClaims(card, login.auth), sid }),
    CODE_TTL_S,
    JSON.stringify({ ...login.details, client_id: request.clientId, acr: login.auth.acr }),
    // Scope `children` on a parent card: the children Госуслуги confirmed (src/guardians/checks.ts).
    request.children && card.role === 'parent',
  ]
  const { rowCount } = await db.query(
    session
      ? { name: 'login.issue-code-session', text: ISSUE_CODE + RECORD_SESSION + RECORD_AUDIT, values: [...values, sid, session.browser ?? null] }
      : { name: 'login.issue-code', text: ISSUE_CODE + RECORD_AUDIT, values },
  )
  return rowCount === 1 ? code : undefined
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
 * A child's data without the parent's consent is not ours to keep (seed 003): the failed attempt
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
