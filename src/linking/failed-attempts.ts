import type { Queryable } from '../db/pool.js'
import { snilsHmac } from '../matching/snils.js'
import type { ReasonCode } from '../matching/types.js'
import type { VerifiedPerson } from '../upstream/types.js'
import { retentionRecordCte } from '../subjects/retention-record.js'

/**
 * Failed link and login attempts, kept for support to see why and fix the card: reasons, and the
 * ЕСИА-side names and birth date (SNILS only as HMAC). Purged after FAILED_ATTEMPT_RETENTION_DAYS.
 */
export interface FailedAttemptInput {
  flow: 'link' | 'login'
  reasons: ReasonCode[]
  journalUserId?: string | null
  organizationId?: string | null
  /** Null when the upstream itself failed before a person was known. */
  person: VerifiedPerson | null
  upstreamSubject?: string | null
  details?: Record<string, unknown>
}

export async function recordFailedAttempt(db: Queryable, snilsKey: string, input: FailedAttemptInput): Promise<number> {
  const p = input.person
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO failed_attempts (flow, journal_user_id, organization_id, upstream_subject, reasons, trusted, level,
       person_last_name, person_first_name, person_middle_name, person_birth_date, person_snils_hmac, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
    [
      input.flow,
      input.journalUserId ?? null,
      input.organizationId ?? null,
      p?.subject ?? input.upstreamSubject ?? null,
      input.reasons,
      p?.trusted ?? null,
      p?.level ?? null,
      p?.lastName ?? null,
      p?.firstName ?? null,
      p?.middleName ?? null,
      p?.birthDate ?? null,
      p?.snils ? snilsHmac(snilsKey, p.snils) : null,
      JSON.stringify(input.details ?? {}),
    ],
  )
  return rows[0]!.id
}

/**
 * Deletes attempts older than the retention period and records the destruction (Приказ РКН № 179:
 * what categories were destroyed, why, when) in the same statement — a `data.destroyed` audit event
 * and a destruction record (src/subjects/destruction.ts); returns how many went.
 */
export async function purgeFailedAttempts(db: Queryable, retentionDays: number): Promise<number> {
  const { rows } = await db.query<{ removed: number }>(
    `WITH gone AS (DELETE FROM failed_attempts WHERE at < now() - make_interval(days => $1) RETURNING 1),
          counted AS (SELECT count(*)::int AS removed FROM gone),
          logged AS (
            INSERT INTO audit_events (type, actor_kind, actor_id, reason, details)
            SELECT 'data.destroyed', 'system', 'housekeeping', 'failed-attempt retention period ended',
                   jsonb_build_object('table', 'failed_attempts', 'count', removed, 'retention_days', $1::int,
                                      'categories', jsonb_build_array('фамилия', 'имя', 'отчество', 'дата рождения', 'СНИЛС (HMAC)'))
            FROM counted WHERE removed > 0),
          ${retentionRecordCte({ from: 'counted', count: 'removed', category: 'failed_attempts', reason: 'failed-attempt retention period ended' })}
     SELECT removed FROM counted`,
    [retentionDays],
  )
  return rows[0]?.removed ?? 0
}
