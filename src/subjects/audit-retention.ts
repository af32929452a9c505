import { withTransaction, type Pool } from '../db/pool.js'
import { recordDestruction } from './destruction.js'
import { pseudonymiseAuditRows, pseudonymised, type AuditRowToPseudonymise } from './pseudonym.js'

/**
 * AUDIT_RETENTION_DAYS (3 years by default): an audit row older than that keeps who acted and what
 * was done, and the person it named becomes a pseudonym (src/subjects/pseudonym.ts) — the same
 * pseudonym an erasure gives them, so the trail of one person still reads as one. Runs with the
 * other purges (src/ops/housekeeping.ts) in batches, each its own short transaction, rows locked
 * with SKIP LOCKED so instances running it together share the work; at most MAX_BATCHES a run, the
 * next run goes on. A run that changed rows writes one destruction record.
 */
const BATCH = 1000
const MAX_BATCHES = 50

export async function pseudonymiseExpiredAudit(pool: Pool, key: Buffer, retentionDays: number): Promise<number> {
  let changed = 0
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const { done, named } = await withTransaction(pool, async (tx) => {
      const { rows } = await tx.query<AuditRowToPseudonymise>(
        `SELECT id, actor_kind, actor_id, journal_user_id, upstream_subject, details FROM audit_events
         WHERE pseudonymised_at IS NULL AND at < now() - make_interval(days => $1)
         ORDER BY at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        [retentionDays],
      )
      await pseudonymiseAuditRows(tx, key, rows)
      // Counted: rows that named someone. An account's login or an export names nobody; it is only marked.
      const named = rows.filter((r) => JSON.stringify(pseudonymised(key, r)) !== JSON.stringify({ actorId: r.actor_id, journalUserId: r.journal_user_id, upstreamSubject: r.upstream_subject, details: r.details })).length
      return { done: rows.length < BATCH, named }
    })
    changed += named
    if (done) break
  }
  if (changed > 0) {
    await recordDestruction(pool, {
      basis: 'retention',
      actor: { kind: 'system', id: 'housekeeping' },
      reason: 'audit retention period ended',
      categories: [{ category: 'audit_events', action: 'pseudonymised', count: changed }],
    })
  }
  return changed
}
