import type { Queryable } from '../db/pool.js'

/**
 * Audit trail (152-ФЗ ст. 19 ч. 2 п. 8: every action with personal data is registered). Written in
 * the same transaction as the change it describes. Never holds names, SNILS or birth dates:
 * `details` carries field names, reason codes and identifiers only.
 *
 * Types in use: link.created, link.replaced, link.confirmed, link.removed, link.failed, login.succeeded,
 * login.failed, directory.*, support.* (see the modules that write them).
 */
export type ActorKind = 'person' | 'support' | 'journal' | 'system'

export interface AuditActor {
  kind: ActorKind
  /** Upstream subject for a person, support account id, journal client id, or a job name. */
  id?: string | null
}

export interface AuditEvent {
  type: string
  actor: AuditActor
  journalUserId?: string | null
  organizationId?: string | null
  upstreamSubject?: string | null
  reason?: string | null
  details?: Record<string, unknown>
}

export async function writeAudit(db: Queryable, event: AuditEvent): Promise<void> {
  await db.query(
    `INSERT INTO audit_events (type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, reason, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      event.type,
      event.actor.kind,
      event.actor.id ?? null,
      event.journalUserId ?? null,
      event.organizationId ?? null,
      event.upstreamSubject ?? null,
      event.reason ?? null,
      JSON.stringify(event.details ?? {}),
    ],
  )
}
