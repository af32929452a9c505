import type { Queryable } from '../db/pool.js'
import { LOGIN_SESSION_KEEP_DAYS } from '../events/sessions.js'
import { inScope, outOfScope, scopeOf, type SupportCaller } from '../admin/caller.js'
import type { CategoryCode } from './categories.js'
import type { DataSubject } from './person.js'

/**
 * «Что вы храните обо мне?» (152-ФЗ ст. 14): every row that names the person, table by table, each
 * category with when it will be deleted. Read inside the caller's organisations like every admin
 * query: an admin sees everything; support of a school sees the person's rows of that school, and a
 * person with no card there is a 403 (src/admin/caller.ts: another school's ids are not probed).
 *
 * Values are plain strings, numbers and booleans (instants as ISO 8601, days as YYYY-MM-DD), the
 * same for the API and the console page. A SNILS is never shown, only whether one is held.
 */
export type ItemValue = string | number | boolean | null | string[]
export type ReportItem = Record<string, ItemValue>

export interface ReportCategory {
  code: CategoryCode
  /** All rows of the category; `items` may show fewer (the newest AUDIT_ITEMS of the audit trail). */
  count: number
  items: ReportItem[]
  /** When the last of these rows goes under the retention rules; null: no date (see the category's retention text). */
  plannedDeletion: string | null
}

export interface SubjectReport {
  generatedAt: string
  lookup: DataSubject['lookup']
  journalUserIds: string[]
  subjects: string[]
  categories: ReportCategory[]
}

export interface RetentionDays {
  failedAttemptRetentionDays: number
  auditRetentionDays: number
  eventsRetentionDays: number
}

/** A person who logs in every school day has hundreds of audit rows; the page shows the newest. */
export const AUDIT_ITEMS = 200

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null)
const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * 86_400_000)
const latest = (dates: (Date | null)[]): string | null => {
  const known = dates.filter((d): d is Date => d !== null)
  return known.length ? iso(new Date(Math.max(...known.map((d) => d.getTime())))) : null
}

export async function buildSubjectReport(db: Queryable, caller: SupportCaller, person: DataSubject, retention: RetentionDays): Promise<SubjectReport> {
  const scope = scopeOf(caller)
  const { journalUserIds: ids, subjects, snilsHmacs } = person

  const cards = await db.query<{
    id: string; organization_id: string; organization_name: string; role: string; last_name: string; first_name: string; middle_name: string | null
    birth_date: string | null; snils_present: boolean; created_at: Date; updated_at: Date
  }>(
    `SELECT u.id, u.organization_id, o.name AS organization_name, u.role, u.last_name, u.first_name, u.middle_name, u.birth_date, u.snils_present,
       u.created_at, u.updated_at
     FROM journal_users u JOIN organizations o ON o.id = u.organization_id
     WHERE u.id = ANY($1) AND ${inScope('u.organization_id', 2)} ORDER BY u.id`,
    [ids, scope],
  )
  if (scope !== null && cards.rows.length === 0) throw outOfScope()
  // A limited caller reads rows about the person's cards in its organisations only.
  const visibleIds = scope === null ? ids : cards.rows.map((c) => c.id)

  const links = await db.query<{ journal_user_id: string; upstream_subject: string; organization_id: string; role: string; method: string; evidence: string[]; mismatches: string[]; trusted: boolean | null; level: string | null; created_at: Date; last_login_at: Date | null }>(
    `SELECT journal_user_id, upstream_subject, organization_id, role, method, evidence, mismatches, trusted, level, created_at, last_login_at
     FROM links WHERE (journal_user_id = ANY($1) OR upstream_subject = ANY($2)) AND ${inScope('organization_id', 3)} ORDER BY journal_user_id`,
    [ids, subjects, scope],
  )

  const attempts = await db.query<{ id: number; at: Date; flow: string; journal_user_id: string | null; organization_id: string | null; upstream_subject: string | null; reasons: string[]; person_last_name: string | null; person_first_name: string | null; person_middle_name: string | null; person_birth_date: string | null; snils: boolean; resolved_at: Date | null }>(
    `SELECT a.id, a.at, a.flow, a.journal_user_id, COALESCE(u.organization_id, a.organization_id) AS organization_id, a.upstream_subject, a.reasons,
       a.person_last_name, a.person_first_name, a.person_middle_name, a.person_birth_date, a.person_snils_hmac IS NOT NULL AS snils, a.resolved_at
     FROM failed_attempts a LEFT JOIN journal_users u ON u.id = a.journal_user_id
     WHERE (a.journal_user_id = ANY($1) OR a.upstream_subject = ANY($2) OR a.person_snils_hmac = ANY($3))
       AND ${inScope('COALESCE(u.organization_id, a.organization_id)', 4)}
     ORDER BY a.at DESC, a.id DESC`,
    [ids, subjects, snilsHmacs, scope],
  )

  const guardians = await db.query<{ parent_id: string; child_id: string; state: string | null; reasons: string[] | null; esia_birth_date: string | null; esia_snils: boolean; checked_at: Date | null }>(
    // Each way a relation names the person through its own index, then the pairs joined once.
    `WITH pairs AS (
       SELECT parent_id, child_id FROM journal_user_relations WHERE parent_id = ANY($1)
       UNION SELECT parent_id, child_id FROM journal_user_relations WHERE child_id = ANY($1)
       UNION SELECT parent_id, child_id FROM guardian_checks WHERE upstream_subject = ANY($2)
       UNION SELECT parent_id, child_id FROM guardian_checks WHERE esia_snils_hmac = ANY($3)
     )
     SELECT r.parent_id, r.child_id, g.state, g.reasons, g.esia_birth_date, g.esia_snils_hmac IS NOT NULL AS esia_snils, g.checked_at
     FROM pairs r
     JOIN journal_users p ON p.id = r.parent_id JOIN journal_users c ON c.id = r.child_id
     LEFT JOIN guardian_checks g ON g.parent_id = r.parent_id AND g.child_id = r.child_id
     WHERE ${inScope('p.organization_id', 4)} OR ${inScope('c.organization_id', 4)}
     ORDER BY r.parent_id, r.child_id`,
    [ids, subjects, snilsHmacs, scope],
  )

  const auditWhere = `(journal_user_id = ANY($1) OR upstream_subject = ANY($2) OR details->>'moved_to' = ANY($1) OR details->>'moved_from' = ANY($1)
       OR details->>'previous_subject' = ANY($2)) AND ${inScope('organization_id', 3)}`
  const auditCount = await db.query<{ n: number; newest: Date | null }>(`SELECT count(*)::int AS n, max(at) AS newest FROM audit_events WHERE ${auditWhere}`, [ids, subjects, scope])
  const audit = await db.query<{ id: number; at: Date; type: string; actor_kind: string; actor_id: string | null; actor_login: string | null; journal_user_id: string | null; organization_id: string | null; reason: string | null }>(
    // Materialised first: with ORDER BY id LIMIT alone the planner walks the whole trail backwards
    // by its primary key, hoping to meet the person's rows early (bench/subjects.ts).
    `WITH named AS MATERIALIZED (SELECT * FROM audit_events WHERE ${auditWhere})
     SELECT e.id, e.at, e.type, e.actor_kind, CASE WHEN e.actor_kind = 'person' THEN NULL ELSE e.actor_id END AS actor_id,
       (SELECT a.login FROM support_accounts a WHERE e.actor_kind = 'support' AND a.id = e.actor_id) AS actor_login,
       e.journal_user_id, e.organization_id, e.reason
     FROM named e ORDER BY e.id DESC LIMIT ${AUDIT_ITEMS}`,
    [ids, subjects, scope],
  )

  const events = await db.query<{ id: number; created_at: Date; client_id: string; kind: string; event_type: string; status: string; delivery: string }>(
    `SELECT id, created_at, client_id, kind, event_type, status, delivery FROM event_outbox
     WHERE journal_user_id = ANY($1) OR ordered_with && $1::text[] ORDER BY id DESC`,
    [visibleIds],
  )

  const sessions = await db.query<{ client_id: string; created_at: Date }>(
    `SELECT client_id, created_at FROM login_sessions WHERE journal_user_id = ANY($1) ORDER BY created_at DESC`,
    [visibleIds],
  )

  const transient = await db.query<{ what: string; n: number; expires_at: Date | null }>(
    `SELECT 'link_intents' AS what, count(*)::int AS n, max(expires_at) AS expires_at FROM link_intents WHERE journal_user_id = ANY($1)
     UNION ALL SELECT 'authorization_codes', count(*)::int, max(expires_at) FROM authorization_codes WHERE journal_user_id = ANY($1)
     UNION ALL SELECT 'access_tokens', count(*)::int, max(expires_at) FROM access_tokens WHERE journal_user_id = ANY($1)
     UNION ALL SELECT 'pending_logins', count(*)::int, max(expires_at) FROM pending_logins WHERE candidates && $1::text[] OR ($2::text[] IS NULL AND upstream_subject = ANY($3))`,
    [visibleIds, scope, subjects],
  )

  const categories: ReportCategory[] = [
    {
      code: 'directory_cards',
      count: cards.rows.length,
      plannedDeletion: null,
      items: cards.rows.map((c) => ({
        journal_user_id: c.id, organization_id: c.organization_id, organization_name: c.organization_name, role: c.role,
        last_name: c.last_name, first_name: c.first_name, middle_name: c.middle_name, birth_date: c.birth_date, snils_held: c.snils_present,
        created_at: iso(c.created_at), updated_at: iso(c.updated_at),
      })),
    },
    {
      code: 'links',
      count: links.rows.length,
      plannedDeletion: null,
      items: links.rows.map((l) => ({
        journal_user_id: l.journal_user_id, upstream_subject: l.upstream_subject, organization_id: l.organization_id, role: l.role, method: l.method,
        evidence: l.evidence, mismatches: l.mismatches, trusted: l.trusted, level: l.level, created_at: iso(l.created_at), last_login_at: iso(l.last_login_at),
      })),
    },
    {
      code: 'failed_attempts',
      count: attempts.rows.length,
      plannedDeletion: latest(attempts.rows.map((a) => addDays(a.at, retention.failedAttemptRetentionDays))),
      items: attempts.rows.map((a) => ({
        id: a.id, at: iso(a.at), flow: a.flow, journal_user_id: a.journal_user_id, organization_id: a.organization_id, upstream_subject: a.upstream_subject,
        reasons: a.reasons, esia_last_name: a.person_last_name, esia_first_name: a.person_first_name, esia_middle_name: a.person_middle_name,
        esia_birth_date: a.person_birth_date, esia_snils_held: a.snils, resolved_at: iso(a.resolved_at),
        deletes_at: iso(addDays(a.at, retention.failedAttemptRetentionDays)),
      })),
    },
    {
      code: 'guardians',
      count: guardians.rows.length,
      plannedDeletion: latest(guardians.rows.map((g) => (g.checked_at && (g.esia_birth_date || g.esia_snils) ? addDays(g.checked_at, retention.failedAttemptRetentionDays) : null))),
      items: guardians.rows.map((g) => ({
        parent_id: g.parent_id, child_id: g.child_id, state: g.state ?? 'unchecked', reasons: g.reasons ?? [], esia_birth_date: g.esia_birth_date,
        esia_snils_held: g.esia_snils, checked_at: iso(g.checked_at),
        deletes_at: g.checked_at && (g.esia_birth_date || g.esia_snils) ? iso(addDays(g.checked_at, retention.failedAttemptRetentionDays)) : null,
      })),
    },
    {
      code: 'audit_events',
      count: auditCount.rows[0]!.n,
      plannedDeletion: auditCount.rows[0]!.newest ? iso(addDays(auditCount.rows[0]!.newest, retention.auditRetentionDays)) : null,
      items: audit.rows.map((e) => ({
        id: e.id, at: iso(e.at), type: e.type, actor_kind: e.actor_kind, actor_id: e.actor_id, actor_login: e.actor_login,
        journal_user_id: e.journal_user_id, organization_id: e.organization_id, reason: e.reason,
        pseudonymises_at: iso(addDays(e.at, retention.auditRetentionDays)),
      })),
    },
    {
      code: 'journal_events',
      count: events.rows.length,
      plannedDeletion: latest(events.rows.map((e) => addDays(e.created_at, retention.eventsRetentionDays))),
      items: events.rows.map((e) => ({
        id: e.id, created_at: iso(e.created_at), client_id: e.client_id, kind: e.kind, event_type: e.event_type, status: e.status,
        deletes_at: e.status === 'pending' && e.delivery === 'push' ? null : iso(addDays(e.created_at, retention.eventsRetentionDays)),
      })),
    },
    {
      code: 'login_sessions',
      count: sessions.rows.length,
      plannedDeletion: latest(sessions.rows.map((s) => addDays(s.created_at, LOGIN_SESSION_KEEP_DAYS))),
      items: sessions.rows.map((s) => ({ client_id: s.client_id, created_at: iso(s.created_at), deletes_at: iso(addDays(s.created_at, LOGIN_SESSION_KEEP_DAYS)) })),
    },
    {
      code: 'transient',
      count: transient.rows.reduce((n, r) => n + r.n, 0),
      plannedDeletion: latest(transient.rows.map((r) => r.expires_at)),
      items: transient.rows.filter((r) => r.n > 0).map((r) => ({ table: r.what, count: r.n, deletes_at: iso(r.expires_at) })),
    },
  ]
  const visibleSubjects = scope === null ? subjects : [...new Set(links.rows.map((l) => l.upstream_subject))].sort()
  return { generatedAt: new Date().toISOString(), lookup: person.lookup, journalUserIds: visibleIds, subjects: visibleSubjects, categories }
}
