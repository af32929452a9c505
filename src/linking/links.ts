import type { PoolClient, Queryable } from '../db/pool.js'
import { removedBy, reportLinkRemoved, reportLinkSaved } from '../events/link-events.js'
import type { MatchField } from '../matching/types.js'
import { writeAudit, type AuditActor } from './audit.js'

export type LinkMethod = 'link' | 'auto' | 'support_override' | 'support_move'

export interface Link {
  journalUserId: string
  upstreamSubject: string
  organizationId: string
  role: string
  method: LinkMethod
  evidence: MatchField[]
  mismatches: string[]
  trusted: boolean | null
  level: string | null
  createdAt: Date
  lastLoginAt: Date | null
}

const LINK_COLUMNS = `journal_user_id, upstream_subject, organization_id, role, method, evidence, mismatches, trusted, level, created_at, last_login_at`

interface LinkRow {
  journal_user_id: string
  upstream_subject: string
  organization_id: string
  role: string
  method: LinkMethod
  evidence: MatchField[]
  mismatches: string[]
  trusted: boolean | null
  level: string | null
  created_at: Date
  last_login_at: Date | null
}

const toLink = (r: LinkRow): Link => ({
  journalUserId: r.journal_user_id,
  upstreamSubject: r.upstream_subject,
  organizationId: r.organization_id,
  role: r.role,
  method: r.method,
  evidence: r.evidence,
  mismatches: r.mismatches,
  trusted: r.trusted,
  level: r.level,
  createdAt: r.created_at,
  lastLoginAt: r.last_login_at,
})

export async function findLink(db: Queryable, journalUserId: string): Promise<Link | undefined> {
  const { rows } = await db.query<LinkRow>(`SELECT ${LINK_COLUMNS} FROM links WHERE journal_user_id = $1`, [journalUserId])
  return rows[0] && toLink(rows[0])
}

/** The journal card is gone, or another card of this subject already holds its organisation and role. */
export class LinkConflictError extends Error {
  override name = 'LinkConflictError'
  constructor(
    readonly code: 'journal_user_not_found' | 'already_linked_elsewhere',
    message: string,
    readonly otherJournalUserId?: string,
  ) {
    super(message)
  }
}

export interface SaveLinkInput {
  journalUserId: string
  upstreamSubject: string
  method: LinkMethod
  evidence: MatchField[]
  mismatches?: string[]
  trusted: boolean | null
  level: string | null
  actor: AuditActor
  reason?: string | null
  /** Extra audit details (e.g. the failed attempt a support override came from). */
  details?: Record<string, unknown>
  /** Half of a support move: moveLink reports the move as one event (src/events/link-events.ts). */
  partOfMove?: boolean
}

export interface SaveLinkResult {
  link: Link
  /** The card had a link to another subject and it was replaced («существующая связь будет удалена»). */
  replaced: Link | undefined
  /** The card was linked to this very subject already: nothing changed but a `link.confirmed` event. */
  confirmed: boolean
}

/**
 * Links a journal card to an upstream subject, replacing the card's old link, and writes the audit
 * event — all on the caller's transaction client, so link and audit commit together or not at all.
 * The card row is locked first: concurrent attempts for one card run one after the other. Whoever
 * comes second with the subject the card already holds (the same person pressing twice, a second
 * tab) changes nothing; another subject replaces the link.
 */
export async function saveLink(tx: PoolClient, input: SaveLinkInput): Promise<SaveLinkResult> {
  const card = await tx.query<{ organization_id: string; role: string }>(
    'SELECT organization_id, role FROM journal_users WHERE id = $1 FOR UPDATE',
    [input.journalUserId],
  )
  const row = card.rows[0]
  if (!row) throw new LinkConflictError('journal_user_not_found', `Journal user ${input.journalUserId} does not exist`)

  const current = await findLink(tx, input.journalUserId)
  if (current?.upstreamSubject === input.upstreamSubject) return confirmLink(tx, current, input)

  const holder = await tx.query<{ journal_user_id: string }>(
    `SELECT journal_user_id FROM links WHERE upstream_subject = $1 AND organization_id = $2 AND role = $3 AND journal_user_id <> $4`,
    [input.upstreamSubject, row.organization_id, row.role, input.journalUserId],
  )
  if (holder.rows[0]) {
    throw new LinkConflictError(
      'already_linked_elsewhere',
      'The upstream subject already holds this role in this organisation through another journal user',
      holder.rows[0].journal_user_id,
    )
  }

  // The savepoint covers the delete too: a caller that catches the conflict and goes on must not
  // commit the old link's removal without its audit event.
  await tx.query('SAVEPOINT save_link')
  const previous = await tx.query<LinkRow>(`DELETE FROM links WHERE journal_user_id = $1 RETURNING ${LINK_COLUMNS}`, [input.journalUserId])
  const replaced = previous.rows[0] && toLink(previous.rows[0])

  let inserted
  try {
    inserted = await tx.query<LinkRow>(
      `INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method, evidence, mismatches, trusted, level)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${LINK_COLUMNS}`,
      [input.journalUserId, input.upstreamSubject, row.organization_id, row.role, input.method, input.evidence, input.mismatches ?? [], input.trusted, input.level],
    )
    await tx.query('RELEASE SAVEPOINT save_link')
  } catch (err) {
    // A concurrent link of the same subject to another card of this organisation and role won the race.
    if ((err as { code?: string }).code === '23505') {
      await tx.query('ROLLBACK TO SAVEPOINT save_link')
      throw new LinkConflictError('already_linked_elsewhere', 'The upstream subject already holds this role in this organisation through another journal user')
    }
    throw err
  }
  const link = toLink(inserted.rows[0]!)
  if (replaced) await endAccessTokens(tx, input.journalUserId)

  await writeAudit(tx, {
    type: replaced ? 'link.replaced' : 'link.created',
    actor: input.actor,
    journalUserId: input.journalUserId,
    organizationId: row.organization_id,
    upstreamSubject: input.upstreamSubject,
    reason: input.reason ?? null,
    details: {
      method: input.method,
      evidence: input.evidence,
      ...(input.mismatches?.length ? { mismatches: input.mismatches } : {}),
      ...(replaced ? { previous_subject: replaced.upstreamSubject, previous_method: replaced.method } : {}),
      ...input.details,
    },
  })
  if (!input.partOfMove) await reportLinkSaved(tx, link, replaced)
  return { link, replaced, confirmed: false }
}

/**
 * The card is already linked to this subject: the link stays as it is (its method, evidence and
 * date, and the access tokens issued through it), and the audit trail records that the person
 * confirmed it — not a replacement of the link by itself.
 */
async function confirmLink(tx: PoolClient, link: Link, input: SaveLinkInput): Promise<SaveLinkResult> {
  await writeAudit(tx, {
    type: 'link.confirmed',
    actor: input.actor,
    journalUserId: link.journalUserId,
    organizationId: link.organizationId,
    upstreamSubject: link.upstreamSubject,
    reason: input.reason ?? null,
    details: { method: input.method, evidence: input.evidence, link_method: link.method, ...input.details },
  })
  return { link, replaced: undefined, confirmed: true }
}

/** A link that ends takes the bridge's access tokens issued through it along (userinfo stops answering). */
async function endAccessTokens(tx: PoolClient, journalUserId: string): Promise<void> {
  await tx.query('DELETE FROM access_tokens WHERE journal_user_id = $1', [journalUserId])
}

/**
 * Removes a card's link with its audit event and the journals' link-removed event; undefined when
 * there was none.
 */
export async function removeLink(
  tx: PoolClient,
  input: {
    journalUserId: string
    actor: AuditActor
    reason: string
    details?: Record<string, unknown>
    /** The card itself is being deleted from the directory (the event says `by: directory`). */
    cardDeleted?: boolean
    /** Half of a support move: moveLink reports the move as one event. */
    partOfMove?: boolean
  },
): Promise<Link | undefined> {
  const { rows } = await tx.query<LinkRow>(`DELETE FROM links WHERE journal_user_id = $1 RETURNING ${LINK_COLUMNS}`, [input.journalUserId])
  const removed = rows[0] && toLink(rows[0])
  if (removed) {
    await endAccessTokens(tx, input.journalUserId)
    await writeAudit(tx, {
      type: 'link.removed',
      actor: input.actor,
      journalUserId: input.journalUserId,
      organizationId: removed.organizationId,
      upstreamSubject: removed.upstreamSubject,
      reason: input.reason,
      details: { method: removed.method, ...input.details },
    })
    if (!input.partOfMove) await reportLinkRemoved(tx, removed, removedBy(input.actor, input.cardDeleted ?? false))
  }
  return removed
}
