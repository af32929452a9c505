import { withTransaction, type Pool, type PoolClient } from '../db/pool.js'
import { ApiError } from '../http/errors.js'
import { reportLinkMoved } from '../events/link-events.js'
import { writeAudit } from '../linking/audit.js'
import { LinkConflictError, removeLink, saveLink, type Link, type SaveLinkResult } from '../linking/links.js'
import { MATCH_FIELDS, type MatchField } from '../matching/types.js'
import { isOverridableReason } from './attempts.js'
import { actorOf, inScope, notVisible, requireWriter, scopeOf, type SupportCaller } from './caller.js'

/**
 * What support changes about links: unlink, link a failed attempt despite the mismatch, move a link
 * between two cards. Each runs in one transaction with its audit events (written by saveLink /
 * removeLink from src/linking/links.ts) and re-checks the caller's scope on rows it has locked, so
 * a card moved to another organisation meanwhile is not changed by the wrong school.
 */
export const MAX_REASON_LENGTH = 1000

export function requireReason(reason: string | undefined): string {
  const text = (reason ?? '').normalize('NFC').replace(/\s+/g, ' ').trim()
  if (!text) throw new ApiError(400, 'reason_required', 'Give the reason for this change (reason)')
  if (text.length > MAX_REASON_LENGTH) throw new ApiError(400, 'reason_too_long', `The reason must fit in ${MAX_REASON_LENGTH} characters`)
  return text
}

/** Locks the card and checks it is in the caller's scope; returns its organisation. */
async function lockCardInScope(tx: PoolClient, caller: SupportCaller, journalUserId: string): Promise<string> {
  const { rows } = await tx.query<{ organization_id: string }>(
    `SELECT organization_id FROM journal_users WHERE id = $1 AND ${inScope('organization_id', 2)} FOR UPDATE`,
    [journalUserId, scopeOf(caller)],
  )
  if (!rows[0]) throw notVisible(caller, 'journal user')
  return rows[0].organization_id
}

const notLinked = () => new ApiError(409, 'not_linked', 'This journal user has no link')

function linkConflict(err: unknown): never {
  if (err instanceof LinkConflictError) {
    throw new ApiError(409, err.code, err.message, err.otherJournalUserId ? { journal_user_id: err.otherJournalUserId } : undefined)
  }
  throw err
}

/**
 * Categories of personal data a removed link destroys, recorded with `link.removed` for the
 * destruction log of Приказ РКН № 179 (docs/security.md, «Personal data»).
 */
const LINK_DATA_CATEGORIES = ['upstream_subject', 'link_evidence']

export async function unlinkUser(pool: Pool, caller: SupportCaller, journalUserId: string, reasonInput: string | undefined): Promise<Link> {
  requireWriter(caller)
  const reason = requireReason(reasonInput)
  return withTransaction(pool, async (tx) => {
    await lockCardInScope(tx, caller, journalUserId)
    const removed = await removeLink(tx, { journalUserId, actor: actorOf(caller), reason, details: { destroyed: LINK_DATA_CATEGORIES } })
    if (!removed) throw notLinked()
    return removed
  })
}

/**
 * Moves a link from one card to another (duplicate cards, a link made on the wrong card). The
 * target must have no link of its own: replacing it silently would unlink another person. The
 * journals hear one link-moved event, and the old card's sessions end.
 */
export async function moveLink(pool: Pool, caller: SupportCaller, fromId: string, toId: string, reasonInput: string | undefined): Promise<{ removed: Link; link: Link }> {
  requireWriter(caller)
  const reason = requireReason(reasonInput)
  if (!toId) throw new ApiError(400, 'journal_user_required', 'Name the journal user to move the link to (to_journal_user_id)')
  if (fromId === toId) throw new ApiError(400, 'same_user', 'The link is already on this journal user')
  return withTransaction(pool, async (tx) => {
    // Lock in id order so two opposite moves cannot deadlock.
    for (const id of [fromId, toId].sort()) await lockCardInScope(tx, caller, id)
    const target = await tx.query('SELECT 1 FROM links WHERE journal_user_id = $1', [toId])
    if (target.rowCount) throw new ApiError(409, 'target_linked', 'The target journal user has a link already; unlink it first')
    const removed = await removeLink(tx, { journalUserId: fromId, actor: actorOf(caller), reason, details: { moved_to: toId }, partOfMove: true })
    if (!removed) throw notLinked()
    const saved = await saveLink(tx, {
      journalUserId: toId,
      upstreamSubject: removed.upstreamSubject,
      method: 'support_move',
      evidence: [],
      trusted: removed.trusted,
      level: removed.level,
      actor: actorOf(caller),
      reason,
      details: { moved_from: fromId, previous_method: removed.method },
      partOfMove: true,
    }).catch(linkConflict)
    await reportLinkMoved(tx, fromId, toId)
    return { removed, link: saved.link }
  })
}

interface AttemptLockRow {
  id: number
  journal_user_id: string | null
  organization_id: string | null
  upstream_subject: string | null
  reasons: string[]
  trusted: boolean | null
  level: string | null
  details: Record<string, unknown>
  resolved_at: Date | null
}

/** Locks an attempt visible to the caller (its card's organisation, else its own). */
async function lockAttemptInScope(tx: PoolClient, caller: SupportCaller, attemptId: number): Promise<AttemptLockRow> {
  const { rows } = await tx.query<AttemptLockRow>(
    `SELECT a.id, a.journal_user_id, COALESCE(u.organization_id, a.organization_id) AS organization_id, a.upstream_subject,
       a.reasons, a.trusted, a.level, a.details, a.resolved_at
     FROM failed_attempts a LEFT JOIN journal_users u ON u.id = a.journal_user_id
     WHERE a.id = $1 AND ${inScope('COALESCE(u.organization_id, a.organization_id)', 2)}
     FOR UPDATE OF a`,
    [attemptId, scopeOf(caller)],
  )
  if (!rows[0]) throw notVisible(caller, 'failed attempt')
  return rows[0]
}

const alreadyResolved = () => new ApiError(409, 'already_resolved', 'This attempt has been resolved already')

/**
 * «Связать вопреки расхождению»: support has checked the person (at school, with documents) and
 * links the ЕСИА subject of a failed attempt to the card despite the mismatch. The link is stored
 * with `method: support_override` and the attempt's reasons as `mismatches`; the attempt is marked
 * resolved in the same transaction. For an attempt without a card (a login that found nobody)
 * support names the card.
 */
export async function linkFromAttempt(
  pool: Pool,
  caller: SupportCaller,
  attemptId: number,
  input: { reason: string | undefined; journalUserId?: string | undefined },
): Promise<SaveLinkResult> {
  requireWriter(caller)
  const reason = requireReason(input.reason)
  return withTransaction(pool, async (tx) => {
    const attempt = await lockAttemptInScope(tx, caller, attemptId)
    if (attempt.resolved_at) throw alreadyResolved()
    if (!attempt.upstream_subject) throw new ApiError(409, 'no_subject', 'The attempt failed before ЕСИА named the person; nothing to link')
    if (attempt.trusted !== true || !attempt.reasons.every(isOverridableReason)) {
      throw new ApiError(409, 'not_overridable', 'Only data mismatches can be overridden; an unconfirmed account, missing consent or an ЕСИА error must be fixed by the person')
    }
    const journalUserId = attempt.journal_user_id ?? input.journalUserId
    if (!journalUserId) throw new ApiError(400, 'journal_user_required', 'Name the journal user to link (journal_user_id)')
    if (attempt.journal_user_id && input.journalUserId && input.journalUserId !== attempt.journal_user_id) {
      throw new ApiError(400, 'journal_user_mismatch', 'This attempt was made for another journal user')
    }
    await lockCardInScope(tx, caller, journalUserId)
    const recordedEvidence = Array.isArray(attempt.details.evidence) ? attempt.details.evidence : []
    const evidence = recordedEvidence.filter((f): f is MatchField => (MATCH_FIELDS as readonly unknown[]).includes(f))
    const result = await saveLink(tx, {
      journalUserId,
      upstreamSubject: attempt.upstream_subject,
      method: 'support_override',
      evidence,
      mismatches: attempt.reasons,
      trusted: attempt.trusted,
      level: attempt.level,
      actor: actorOf(caller),
      reason,
      details: { failed_attempt_id: attempt.id },
    }).catch(linkConflict)
    await tx.query('UPDATE failed_attempts SET resolved_at = now(), resolved_by = $2 WHERE id = $1', [attempt.id, caller.id])
    return result
  })
}

/** Marks an attempt dealt with (the card was corrected, the person will try again) without linking. */
export async function resolveAttempt(pool: Pool, caller: SupportCaller, attemptId: number, reasonInput: string | undefined): Promise<void> {
  requireWriter(caller)
  const reason = requireReason(reasonInput)
  await withTransaction(pool, async (tx) => {
    const attempt = await lockAttemptInScope(tx, caller, attemptId)
    if (attempt.resolved_at) throw alreadyResolved()
    await tx.query('UPDATE failed_attempts SET resolved_at = now(), resolved_by = $2 WHERE id = $1', [attempt.id, caller.id])
    await writeAudit(tx, {
      type: 'support.failed_attempt_resolved',
      actor: actorOf(caller),
      journalUserId: attempt.journal_user_id,
      organizationId: attempt.organization_id,
      upstreamSubject: attempt.upstream_subject,
      reason,
      details: { failed_attempt_id: attempt.id, reasons: attempt.reasons },
    })
  })
}
