import { withTransaction, type Pool } from '../db/pool.js'
import { recordDestruction } from './destruction.js'
import { writeAudit } from '../linking/audit.js'
import { pseudonymiseAuditRows, type AuditRowToPseudonymise } from './pseudonym.js'

/**
 * AUDIT_RETENTION_DAYS (3 years by default): an audit row older than that keeps who acted and what
 * was done, and the person it named becomes a pseudonym (src/subjects/pseudonym.ts) — the same
 * pseudonym an erasure gives them, so the trail of one person still reads as one. Runs with the
 * other purges (src/ops/housekeeping.ts) in batches, each its own short transaction, rows locked
 * with SKIP LOCKED so instances running it together share the work; at most MAX_BATCHES a run, the
 * next run goes on. Each batch that changed rows writes its destruction record and a `data.destroyed`
 * audit event in its own transaction, as the other purges do in their statement.
 */
const BATCH = 1000
const MAX_BATCHES = 50

export async function pseudonymiseExpiredAudit(pool: Pool, key: Buffer, retentionDays: number, batchSize = BATCH): Promise<number> {
  let changed = 0
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const { done, named } = await withTransaction(pool, async (tx) => {
      const { rows } = await tx.query<AuditRowToPseudonymise>(
        `SELECT id, actor_kind, actor_id, journal_user_id, upstream_subject, details FROM audit_events
         WHERE pseudonymised_at IS NULL AND at < now() - make_interval(days => $1)
         ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [retentionDays, batchSize],
      )
      // Counted: rows that named someone. An account's login or an export names nobody; it is only marked.
      const named = await pseudonymiseAuditRows(tx, key, rows)
      // Recorded with the batch, in its transaction: a run stopped half-way still accounts for every
      // batch it committed, and a rolled-back batch records nothing (docs/personal-data.md).
      if (named > 0) {
        await writeAudit(tx, {
          type: 'data.destroyed',
          actor: { kind: 'system', id: 'housekeeping' },
          reason: REASON,
          details: { table: 'audit_events', action: 'pseudonymised', count: named, retention_days: retentionDays },
        })
        await recordDestruction(tx, {
          basis: 'retention',
          actor: { kind: 'system', id: 'housekeeping' },
          reason: REASON,
          categories: [{ category: 'audit_events', action: 'pseudonymised', count: named }],
        })
      }
      return { done: rows.length < batchSize, named }
    })
    changed += named
    if (done) break
  }
  return changed
}

const REASON = 'audit retention period ended'
