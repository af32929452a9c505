import type { Queryable } from '../db/pool.js'
import { writeAudit } from '../linking/audit.js'
import { actorOf, inScope, scopeOf, type SupportCaller } from './caller.js'
import type { Cell } from './csv.js'
import { DISPLAY_TIME_ZONE } from './time.js'

/**
 * Reading the audit trail (152-ФЗ ст. 19 ч. 2 п. 8) inside the caller's organisations. Events with
 * no organisation (account management, bootstrap actions) are visible only to callers who see every
 * organisation. Pages go backwards by id (keyset), so a page costs the same deep in the log as at
 * its top.
 */
export interface AuditEntry {
  id: number
  at: Date
  type: string
  actorKind: string
  actorId: string | null
  /** The support account's login, for a support actor. */
  actorLogin: string | null
  journalUserId: string | null
  organizationId: string | null
  upstreamSubject: string | null
  reason: string | null
  details: Record<string, unknown>
}

export interface AuditRow {
  id: number
  at: Date
  type: string
  actor_kind: string
  actor_id: string | null
  actor_login: string | null
  journal_user_id: string | null
  organization_id: string | null
  upstream_subject: string | null
  reason: string | null
  details: Record<string, unknown>
}

/** Columns of `audit_events e`, with the login of a support actor (ids alone mean little to a reader). */
export const AUDIT_COLUMNS = `e.id, e.at, e.type, e.actor_kind, e.actor_id,
  (SELECT a.login FROM support_accounts a WHERE e.actor_kind = 'support' AND a.id = e.actor_id) AS actor_login,
  e.journal_user_id, e.organization_id, e.upstream_subject, e.reason, e.details`

export const toAuditEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: r.at,
  type: r.type,
  actorKind: r.actor_kind,
  actorId: r.actor_id,
  actorLogin: r.actor_login,
  journalUserId: r.journal_user_id,
  organizationId: r.organization_id,
  upstreamSubject: r.upstream_subject,
  reason: r.reason,
  details: r.details,
})

export interface AuditFilter {
  /** An exact type (`link.removed`) or a family ending in `.` or `.*` (`link.*`). */
  type?: string | undefined
  actorId?: string | undefined
  organizationId?: string | undefined
  journalUserId?: string | undefined
  /** Days `YYYY-MM-DD`, inclusive, in DISPLAY_TIME_ZONE (what the console shows). */
  from?: string | undefined
  to?: string | undefined
  beforeId?: number | undefined
}

/** Names of the filters in use, for the record of an export (values may be ids, never data). */
export function auditFilterNames(filter: AuditFilter): string[] {
  const names: Record<keyof AuditFilter, string> = { type: 'type', actorId: 'actor', organizationId: 'organization_id', journalUserId: 'journal_user_id', from: 'from', to: 'to', beforeId: 'before_id' }
  return (Object.keys(names) as (keyof AuditFilter)[]).filter((k) => filter[k] !== undefined).map((k) => names[k])
}

function whereClause(caller: SupportCaller, filter: AuditFilter, column: (c: string) => string): { sql: string; params: unknown[] } {
  const params: unknown[] = [scopeOf(caller)]
  const where = [inScope(column('organization_id'), 1)]
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value)
    where.push(sql(params.length))
  }
  if (filter.type) {
    const family = /\.\*?$/.test(filter.type)
    if (family) add((n) => `starts_with(${column('type')}, $${n})`, filter.type.replace(/\*$/, ''))
    else add((n) => `${column('type')} = $${n}`, filter.type)
  }
  // An actor is named by id, or by a support account's login (what people remember).
  if (filter.actorId) add((n) => `(${column('actor_id')} = $${n} OR ${column('actor_id')} = (SELECT id FROM support_accounts WHERE login = lower($${n})))`, filter.actorId)
  if (filter.organizationId) add((n) => `${column('organization_id')} = $${n}`, filter.organizationId)
  if (filter.journalUserId) add((n) => `${column('journal_user_id')} = $${n}`, filter.journalUserId)
  if (filter.from) add((n) => `${column('at')} >= ($${n}::date::timestamp AT TIME ZONE '${DISPLAY_TIME_ZONE}')`, filter.from)
  if (filter.to) add((n) => `${column('at')} < (($${n}::date + 1)::timestamp AT TIME ZONE '${DISPLAY_TIME_ZONE}')`, filter.to)
  if (filter.beforeId) add((n) => `${column('id')} < $${n}`, filter.beforeId)
  return { sql: where.join(' AND '), params }
}

export async function queryAuditLog(db: Queryable, caller: SupportCaller, filter: AuditFilter, limit: number): Promise<{ events: AuditEntry[]; nextBeforeId: number | null }> {
  const { sql, params } = whereClause(caller, filter, (c) => `e.${c}`)
  const { rows } = await db.query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events e WHERE ${sql} ORDER BY e.id DESC LIMIT $${params.length + 1}`,
    [...params, limit + 1],
  )
  const events = rows.slice(0, limit).map(toAuditEntry)
  return { events, nextBeforeId: rows.length > limit ? events[events.length - 1]!.id : null }
}

export const AUDIT_CSV_HEADER = [
  'Номер', 'Дата и время', 'Событие', 'Кто (вид)', 'Кто (идентификатор)', 'Кто (логин поддержки)', 'Пользователь журнала',
  'ФИО по справочнику', 'Организация', 'Субъект ЕСИА', 'Причина', 'Подробности', 'Информационная система',
]

const PAGE = 1000

/**
 * Rows of the audit CSV export, read in pages of 1000 by keyset. The full name is looked up in the
 * directory at export time (the audit table itself holds no names): Приказ РКН № 179 asks a log
 * export proving destruction of personal data to name the subject (docs/security.md, «Personal data»).
 */
export async function* auditCsvRows(db: Queryable, caller: SupportCaller, filter: AuditFilter, formatTime: (d: Date) => string, systemName: string): AsyncGenerator<Cell[]> {
  let beforeId = filter.beforeId
  for (;;) {
    const { sql, params } = whereClause(caller, { ...filter, beforeId }, (c) => `e.${c}`)
    const { rows } = await db.query<AuditRow & { full_name: string | null }>(
      `SELECT ${AUDIT_COLUMNS},
         CASE WHEN ${inScope('u.organization_id', 1)} THEN concat_ws(' ', u.last_name, u.first_name, u.middle_name) END AS full_name
       FROM audit_events e LEFT JOIN journal_users u ON u.id = e.journal_user_id
       WHERE ${sql} ORDER BY e.id DESC LIMIT ${PAGE}`,
      params,
    )
    for (const r of rows) {
      yield [r.id, formatTime(r.at), r.type, r.actor_kind, r.actor_id, r.actor_login, r.journal_user_id, r.full_name, r.organization_id,
        r.upstream_subject, r.reason, JSON.stringify(r.details), systemName]
    }
    if (rows.length < PAGE) return
    beforeId = rows[rows.length - 1]!.id
  }
}

/**
 * Records a support read of personal data (a card, a search, a list of failed attempts, an
 * export): 152-ФЗ ст. 19 ч. 2 п. 8 asks for every action, reads included. Details name filters and
 * counts, never the search terms: a SNILS or a name typed into a search must not land in the log.
 */
export async function auditSupportRead(
  db: Queryable,
  caller: SupportCaller,
  type: string,
  event: { journalUserId?: string | null; organizationId?: string | null; details?: Record<string, unknown> } = {},
): Promise<void> {
  await writeAudit(db, { type, actor: actorOf(caller), journalUserId: event.journalUserId ?? null, organizationId: event.organizationId ?? null, details: event.details ?? {} })
}

/** How long a repeated view of the same card by the same person counts as the one view. */
export const VIEW_WINDOW_SECONDS = 60

/**
 * A console page view of a card or an attempt: one event per person and page within
 * VIEW_WINDOW_SECONDS. The page is shown again after every action on it (unlink, relink, a notice
 * after the redirect) and on reloads; each of those wrote its own «Просмотр карточки», three for
 * one unlink, burying the reads that matter in the log. The first view in the window is the record.
 */
export async function auditSupportView(
  db: Queryable,
  caller: SupportCaller,
  type: string,
  event: { journalUserId: string | null; organizationId: string | null; details?: Record<string, unknown> },
): Promise<void> {
  const actor = actorOf(caller)
  await db.query(
    `INSERT INTO audit_events (type, actor_kind, actor_id, journal_user_id, organization_id, details)
     SELECT $1, $2, $3, $4, $5, $6::jsonb
     WHERE NOT EXISTS (
       SELECT 1 FROM audit_events
       WHERE type = $1 AND actor_kind = $2 AND actor_id IS NOT DISTINCT FROM $3 AND journal_user_id IS NOT DISTINCT FROM $4
         AND details = $6::jsonb AND at > now() - make_interval(secs => $7))`,
    [type, actor.kind, actor.id ?? null, event.journalUserId, event.organizationId, JSON.stringify(event.details ?? {}), VIEW_WINDOW_SECONDS],
  )
}
