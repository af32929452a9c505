import type { Queryable } from '../db/pool.js'
import { cardProblems, type CardProblem } from '../directory/cards.js'
import { ApiError } from '../http/errors.js'
import { relationsOfCard, type Relation } from '../guardians/checks.js'
import { findLink, type Link } from '../linking/links.js'
import { normalizeMiddleName, normalizeName } from '../matching/normalize.js'
import { snilsDigits, snilsHmac } from '../matching/snils.js'
import { AUDIT_COLUMNS, toAuditEntry, type AuditEntry, type AuditRow } from './audit-log.js'
import { inScope, notVisible, scopeOf, type SupportCaller } from './caller.js'

/**
 * Finding journal users and reading one card, always inside the caller's organisations.
 *
 * Names are compared in their normalised form (src/matching/normalize.ts: case, ё/е, dashes, Latin
 * look-alikes): the first word must equal the last name, further words are prefixes of the first
 * name and patronymic. Equality on the last name uses the existing (norm_last_name, …) index at any
 * database collation. A SNILS is compared only as HMAC under SNILS_HMAC_KEY.
 */
export type LinkState = 'linked' | 'unlinked'

export interface UserSearch {
  name?: string | undefined
  snils?: string | undefined
  organizationId?: string | undefined
  role?: string | undefined
  linkState?: LinkState | undefined
  limit: number
  offset: number
}

export interface UserSummary {
  id: string
  organizationId: string
  organizationName: string
  role: string
  lastName: string
  firstName: string
  middleName: string | null
  birthDate: string | null
  snilsPresent: boolean
  snilsValid: boolean
  linked: boolean
  linkMethod: string | null
}

interface SummaryRow {
  id: string
  organization_id: string
  organization_name: string
  role: string
  last_name: string
  first_name: string
  middle_name: string | null
  birth_date: string | null
  snils_present: boolean
  snils_valid: boolean
  link_method: string | null
}

const SUMMARY_COLUMNS = `u.id, u.organization_id, o.name AS organization_name, u.role, u.last_name, u.first_name, u.middle_name,
  u.birth_date, u.snils_present, u.snils_valid, l.method AS link_method`

const toSummary = (r: SummaryRow): UserSummary => ({
  id: r.id,
  organizationId: r.organization_id,
  organizationName: r.organization_name,
  role: r.role,
  lastName: r.last_name,
  firstName: r.first_name,
  middleName: r.middle_name,
  birthDate: r.birth_date,
  snilsPresent: r.snils_present,
  snilsValid: r.snils_valid,
  linked: r.link_method !== null,
  linkMethod: r.link_method,
})

export const invalidSnilsQuery = () => new ApiError(400, 'invalid_snils', 'snils must have 11 digits')

/** Which filters a search used, by name only: what `support.search` records (never the terms). */
export function searchFilterNames(search: UserSearch): string[] {
  return (['name', 'snils', 'organizationId', 'role', 'linkState'] as const)
    .filter((k) => search[k] !== undefined && search[k] !== '')
    .map((k) => ({ name: 'name', snils: 'snils', organizationId: 'organization_id', role: 'role', linkState: 'link_state' })[k])
}

export async function searchUsers(db: Queryable, snilsKey: string, caller: SupportCaller, search: UserSearch): Promise<{ users: UserSummary[]; more: boolean }> {
  const where: string[] = [inScope('u.organization_id', 1)]
  const params: unknown[] = [scopeOf(caller)]
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value)
    where.push(sql(params.length))
  }
  if (search.snils) {
    const digits = snilsDigits(search.snils)
    if (!digits) throw invalidSnilsQuery()
    add((n) => `u.snils_hmac = $${n}`, snilsHmac(snilsKey, digits))
  }
  if (search.name?.trim()) {
    const [last, first, middle] = search.name.trim().split(/\s+/)
    add((n) => `u.norm_last_name = $${n}`, normalizeName(last))
    if (first) add((n) => `starts_with(u.norm_first_name, $${n})`, normalizeName(first))
    if (middle) add((n) => `starts_with(u.norm_middle_name, $${n})`, normalizeMiddleName(middle) ?? '')
  }
  if (search.organizationId) add((n) => `u.organization_id = $${n}`, search.organizationId)
  if (search.role) add((n) => `u.role = $${n}`, search.role)
  if (search.linkState === 'linked') where.push('l.journal_user_id IS NOT NULL')
  if (search.linkState === 'unlinked') where.push('l.journal_user_id IS NULL')
  params.push(search.limit + 1, search.offset)
  const { rows } = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS}
     FROM journal_users u JOIN organizations o ON o.id = u.organization_id LEFT JOIN links l ON l.journal_user_id = u.id
     WHERE ${where.join(' AND ')}
     ORDER BY u.norm_last_name, u.norm_first_name, u.norm_middle_name NULLS FIRST, u.id
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  )
  return { users: rows.slice(0, search.limit).map(toSummary), more: rows.length > search.limit }
}

/** One card's summary if the caller may see it; otherwise the out-of-scope error (see caller.ts). */
export async function userInScope(db: Queryable, caller: SupportCaller, id: string): Promise<UserSummary> {
  const { rows } = await db.query<SummaryRow>(
    `SELECT ${SUMMARY_COLUMNS}
     FROM journal_users u JOIN organizations o ON o.id = u.organization_id LEFT JOIN links l ON l.journal_user_id = u.id
     WHERE u.id = $1 AND ${inScope('u.organization_id', 2)}`,
    [id, scopeOf(caller)],
  )
  if (!rows[0]) throw notVisible(caller, 'journal user')
  return toSummary(rows[0])
}


export interface RelatedCard {
  id: string
  relation: 'parent' | 'child'
  lastName: string
  firstName: string
  middleName: string | null
  role: string
  /** What Госуслуги said of this parent → child relation (src/guardians/checks.ts). */
  guardian: Relation | undefined
}

export interface UserCard {
  user: UserSummary
  problems: CardProblem[]
  /** The journal wrote that the person has no patronymic («-», «нет»): shown, not flagged. */
  noMiddleName: boolean
  /** Completeness problems, by the rules of the «Контроль заполнения данных» report (src/directory/completeness.ts). */
  sharedSnilsWith: string[]
  related: RelatedCard[]
  link: Link | undefined
  history: AuditEntry[]
}

export async function readUserCard(db: Queryable, caller: SupportCaller, id: string): Promise<UserCard> {
  const user = await userInScope(db, caller, id)
  const scope = scopeOf(caller)
  const [card, shared, related, link, history, relations] = await Promise.all([
    db.query<{ norm_middle_name: string | null; no_middle_name: boolean }>('SELECT norm_middle_name, no_middle_name FROM journal_users WHERE id = $1', [id]),
    // «Shared» as the completeness report counts it: another card of the same organisation and role
    // (the same SNILS on a teacher's staff and parent cards is one person in two capacities).
    db.query<{ id: string }>(
      `SELECT other.id FROM journal_users me JOIN journal_users other
         ON other.snils_hmac = me.snils_hmac AND other.organization_id = me.organization_id AND other.role = me.role AND other.id <> me.id
       WHERE me.id = $1 AND me.snils_hmac IS NOT NULL ORDER BY other.id LIMIT 50`,
      [id],
    ),
    db.query<{ id: string; relation: 'parent' | 'child'; last_name: string; first_name: string; middle_name: string | null; role: string }>(
      `SELECT u.id, r.relation, u.last_name, u.first_name, u.middle_name, u.role FROM (
         SELECT parent_id AS other, 'parent' AS relation FROM journal_user_relations WHERE child_id = $1
         UNION ALL SELECT child_id, 'child' FROM journal_user_relations WHERE parent_id = $1
       ) r JOIN journal_users u ON u.id = r.other WHERE ${inScope('u.organization_id', 2)} ORDER BY r.relation, u.norm_last_name, u.id`,
      [id, scope],
    ),
    findLink(db, id),
    db.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events e WHERE e.journal_user_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT 100`, [id]),
    relationsOfCard(db, id, scope),
  ])
  const guardianOf = (other: string, relation: 'parent' | 'child') =>
    relations.find((r) => (relation === 'child' ? r.parentId === id && r.childId === other : r.childId === id && r.parentId === other))
  const problems = cardProblems({ snilsPresent: user.snilsPresent, snilsValid: user.snilsValid, birthDate: user.birthDate, normMiddleName: card.rows[0]?.norm_middle_name ?? null, noMiddleName: card.rows[0]?.no_middle_name ?? false })
  if (shared.rows.length > 0) problems.push('shared_snils')
  return {
    user,
    problems,
    noMiddleName: card.rows[0]?.no_middle_name ?? false,
    sharedSnilsWith: shared.rows.map((r) => r.id),
    related: related.rows.map((r) => ({ id: r.id, relation: r.relation, lastName: r.last_name, firstName: r.first_name, middleName: r.middle_name, role: r.role, guardian: guardianOf(r.id, r.relation) })),
    link,
    history: history.rows.map(toAuditEntry),
  }
}
