import type { Queryable } from '../db/pool.js'
import type { AuditActor } from '../linking/audit.js'
import type { Link } from '../linking/links.js'
import { LINK_CREATED, LINK_MOVED, LINK_REMOVED, type LinkEvent, type LinkRemovedBy, type LinkRemovedReason } from './event-types.js'
import { queueLinkEvents } from './outbox.js'
import { endSessionsOfUser } from './sessions.js'

/**
 * What a link change tells the journals, called from the few places where links change
 * (src/linking/links.ts saveLink and removeLink, the support move in src/admin/link-actions.ts, the
 * import's replace mode), on their transaction, so every present and future caller reports:
 *
 *   a new link                      → link-created
 *   a link replaced by another one  → link-removed (by: replaced), link-created; the card's sessions end
 *   a link removed                  → link-removed (by: who); by support: the card's sessions end
 *   a link moved by support         → link-moved; the old card's sessions end
 *
 * "Sessions end": each of the card's login sessions at a client with back-channel logout gets a
 * logout token (sessions.ts). Support acts because the link was wrong, so whoever logged in through
 * it must not stay in; a person or the journal that unlinks is in front of the journal already.
 */

const created = (link: Link): LinkEvent => ({
  type: LINK_CREATED,
  subject: link.journalUserId,
  data: { journal_user_id: link.journalUserId, organization_id: link.organizationId, role: link.role, method: link.method, trusted: link.trusted === true },
})

const removed = (link: Link, by: LinkRemovedBy, reasonCode: LinkRemovedReason): LinkEvent => ({
  type: LINK_REMOVED,
  subject: link.journalUserId,
  data: { journal_user_id: link.journalUserId, organization_id: link.organizationId, by, reason_code: reasonCode },
})

/**
 * A link was saved; `replaced` is the card's previous link to another account, if any. (The same
 * account linked again is no change — saveLink records `link.confirmed` and reports nothing.)
 */
export async function reportLinkSaved(tx: Queryable, link: Link, replaced: Link | undefined): Promise<void> {
  if (!replaced) return queueLinkEvents(tx, [created(link)])
  await queueLinkEvents(tx, [removed(replaced, 'replaced', 'replaced'), created(link)])
  await endSessionsOfUser(tx, link.journalUserId)
}

/**
 * `by` follows from who acted: a person, support, the journal, or the system (a job); a card that
 * leaves the directory takes its link along as `directory`, whoever deleted it.
 */
export function removedBy(actor: AuditActor, cardDeleted: boolean): LinkRemovedBy {
  if (cardDeleted || actor.kind === 'system') return 'directory'
  return actor.kind
}

export async function reportLinkRemoved(tx: Queryable, link: Link, by: LinkRemovedBy): Promise<void> {
  await queueLinkEvents(tx, [removed(link, by, by === 'directory' ? 'card_deleted' : 'unlinked')])
  if (by === 'support') await endSessionsOfUser(tx, link.journalUserId)
}

/** Cards that left the directory in one statement (the import's replace mode), set-based like it. */
export async function reportLinksRemovedWithCards(tx: Queryable, links: readonly Pick<Link, 'journalUserId' | 'organizationId'>[]): Promise<void> {
  await queueLinkEvents(
    tx,
    links.map((l) => ({ type: LINK_REMOVED, subject: l.journalUserId, data: { journal_user_id: l.journalUserId, organization_id: l.organizationId, by: 'directory', reason_code: 'card_deleted' } })),
  )
}

/**
 * Support moved a link between two cards: one event, not a removal and a creation. It concerns both
 * cards, so it keeps its place among the events of each: a later unlink of the target card is not
 * delivered before the move, even while the move is being retried.
 */
export async function reportLinkMoved(tx: Queryable, from: string, to: string): Promise<void> {
  await queueLinkEvents(tx, [{ type: LINK_MOVED, subject: from, orderedWith: [to], data: { from_journal_user_id: from, to_journal_user_id: to } }])
  await endSessionsOfUser(tx, from)
}
