import type { PoolClient } from '../db/pool.js'
import { writeAudit, type AuditActor } from '../linking/audit.js'
import { upsertOrganization, type OrganizationKind } from './cards.js'
import { DirectoryError, isForeignKeyViolation } from './errors.js'

/** Organisations of the directory as the journal registers them (`PUT/DELETE …/organizations/{id}`). */
export interface Organization {
  id: string
  name: string
  kind: OrganizationKind
  municipality: string | null
}

export type WriteResult = 'inserted' | 'updated' | 'unchanged'

/** Creates or updates an organisation, with a `directory.organization_upserted` event when it changed. */
export async function putOrganization(tx: PoolClient, org: Organization, actor: AuditActor): Promise<WriteResult> {
  const result = await upsertOrganization(tx, org)
  if (result !== 'unchanged') {
    await writeAudit(tx, { type: 'directory.organization_upserted', actor, organizationId: org.id, details: { result, kind: org.kind } })
  }
  return result
}

/**
 * Deletes an organisation that has no cards left. One that still has cards is refused rather than
 * emptied: deleting cards is a decision about people (their links go with them), made card by card
 * or by a replace-mode import.
 */
export async function deleteOrganization(tx: PoolClient, id: string, actor: AuditActor): Promise<void> {
  const { rows } = await tx.query<{ exists: boolean; cards: number }>(
    `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1) AS exists,
            (SELECT count(*)::int FROM journal_users WHERE organization_id = $1) AS cards`,
    [id],
  )
  const { exists, cards } = rows[0]!
  if (!exists) throw new DirectoryError('organization_not_found', 'No such organisation')
  if (cards > 0) {
    throw new DirectoryError('organization_has_users', `The organisation still has ${cards} journal user card(s); delete or move them first`, { journal_users: cards })
  }
  try {
    await tx.query('DELETE FROM organizations WHERE id = $1', [id])
  } catch (err) {
    // A card added by a concurrent request between the count and the delete.
    if (isForeignKeyViolation(err)) throw new DirectoryError('organization_has_users', 'The organisation still has journal user cards')
    throw err
  }
  await writeAudit(tx, { type: 'directory.organization_deleted', actor, organizationId: id })
}
