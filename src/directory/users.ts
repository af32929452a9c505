import type { PoolClient, Queryable } from '../db/pool.js'
import { writeAudit, type AuditActor } from '../linking/audit.js'
import { removeLink } from '../linking/links.js'
import { cardProblems, upsertCard, type CardProblem, type CardRow } from './cards.js'
import { DirectoryError, isForeignKeyViolation, isLinkSlotViolation } from './errors.js'
import type { WriteResult } from './organizations.js'

/**
 * Single-card writes of the journal (`PUT/DELETE /api/v1/directory/users/{id}`), each in the
 * caller's transaction with its audit event.
 */
export interface PutUserResult {
  result: WriteResult
  problems: CardProblem[]
  /** The parent's children after the write (only when `childIds` was given). */
  childIds: string[] | undefined
}

export const CARD_DELETED_REASON = 'card deleted from the journal directory'

/**
 * Creates or updates a card. `childIds` (a parent's children) replaces the card's relations when
 * given and leaves them alone when not.
 */
export async function putUser(tx: PoolClient, row: CardRow, childIds: string[] | undefined, actor: AuditActor): Promise<PutUserResult> {
  let result: WriteResult
  try {
    result = await upsertCard(tx, row)
  } catch (err) {
    // The transaction is lost either way; say why in the journal's terms.
    if (isForeignKeyViolation(err, 'journal_users_organization_id_fkey')) {
      throw new DirectoryError('unknown_organization', 'The organisation is not registered; PUT /api/v1/directory/organizations/{id} first')
    }
    if (isLinkSlotViolation(err)) {
      throw new DirectoryError(
        'link_conflict',
        'The card is linked to a Госуслуги account that already holds this organisation and role through another card; unlink one of them first',
      )
    }
    throw err
  }

  const relationsChanged = childIds === undefined ? false : await setChildren(tx, row, childIds)
  const problems = cardProblems(row)
  if (row.snilsHmac && (await sharesSnils(tx, row))) problems.push('shared_snils')

  if (result !== 'unchanged' || relationsChanged) {
    await writeAudit(tx, {
      type: 'directory.user_upserted',
      actor,
      journalUserId: row.id,
      organizationId: row.organizationId,
      details: { result, role: row.role, snils_present: row.snilsPresent, snils_valid: row.snilsValid, ...(relationsChanged ? { children: childIds!.length } : {}) },
    })
  }
  return { result, problems, childIds: childIds === undefined ? undefined : [...new Set(childIds)].sort() }
}

/** Replaces a parent's children; true when anything changed. */
async function setChildren(tx: PoolClient, row: CardRow, childIds: string[]): Promise<boolean> {
  const ids = [...new Set(childIds)]
  if (ids.length > 0 && row.role !== 'parent') throw new DirectoryError('invalid_child', 'child_ids can only be set on a parent card')
  if (ids.includes(row.id)) throw new DirectoryError('invalid_child', 'A card cannot be its own child')
  if (ids.length > 0) {
    const { rows } = await tx.query<{ id: string; role: string }>('SELECT id, role FROM journal_users WHERE id = ANY($1)', [ids])
    const found = new Map(rows.map((r) => [r.id, r.role]))
    const missing = ids.filter((id) => !found.has(id))
    if (missing.length > 0) throw new DirectoryError('unknown_child', 'Some child_ids are not cards of the directory', { child_ids: missing })
    const notStudents = ids.filter((id) => found.get(id) !== 'student')
    if (notStudents.length > 0) throw new DirectoryError('invalid_child', 'A child must be a student card', { child_ids: notStudents })
  }
  const removed = await tx.query('DELETE FROM journal_user_relations WHERE parent_id = $1 AND NOT (child_id = ANY($2))', [row.id, ids])
  const added = await tx
    .query(`INSERT INTO journal_user_relations (parent_id, child_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [row.id, ids])
    .catch((err: unknown) => {
      // A child deleted by another request between the check above and this insert.
      if (isForeignKeyViolation(err, 'journal_user_relations_child_id_fkey')) throw new DirectoryError('unknown_child', 'Some child_ids are not cards of the directory', { child_ids: ids })
      throw err
    })
  return (removed.rowCount ?? 0) + (added.rowCount ?? 0) > 0
}

/** Another card of the same organisation and role carries the same SNILS (matching cannot tell them apart). */
async function sharesSnils(db: Queryable, row: CardRow): Promise<boolean> {
  const { rows } = await db.query<{ shared: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM journal_users WHERE snils_hmac = $1 AND organization_id = $2 AND role = $3 AND id <> $4) AS shared`,
    [row.snilsHmac, row.organizationId, row.role, row.id],
  )
  return rows[0]!.shared
}

/**
 * Deletes a card. Its link goes first, with its own `link.removed` event naming the reason, in the
 * same transaction; relations to parents and children go with the card.
 */
export async function deleteUser(tx: PoolClient, id: string, actor: AuditActor): Promise<{ linkRemoved: boolean }> {
  const { rows } = await tx.query<{ organization_id: string }>('SELECT organization_id FROM journal_users WHERE id = $1 FOR UPDATE', [id])
  const card = rows[0]
  if (!card) throw new DirectoryError('journal_user_not_found', 'No such journal user')
  const link = await removeLink(tx, { journalUserId: id, actor, reason: CARD_DELETED_REASON, cardDeleted: true })
  try {
    await tx.query('DELETE FROM journal_users WHERE id = $1', [id])
  } catch (err) {
    // Rolled back with the transaction, the link too.
    if (isForeignKeyViolation(err)) throw new DirectoryError('journal_user_referenced', 'The card is still referenced (for example by a sign-in in progress); try again later')
    throw err
  }
  await writeAudit(tx, { type: 'directory.user_deleted', actor, journalUserId: id, organizationId: card.organization_id, details: { link_removed: link !== undefined } })
  return { linkRemoved: link !== undefined }
}
