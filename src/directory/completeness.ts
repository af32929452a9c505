import type { Queryable } from '../db/pool.js'
import { CARD_PROBLEMS, type CardProblem, type Role } from './cards.js'

/**
 * «Контроль заполнения данных: Сотрудники / Обучающиеся / Родители»: before a school moves to
 * sign-in through Госуслуги, every card needs what ЕСИА matching compares — SNILS, birth date,
 * patronymic (unless the journal says the person has none) — and no SNILS may sit on two cards
 * that matching would then confuse. Per organisation and role, how many cards miss what; and the
 * cards themselves, paged, to fix them.
 *
 * "Shared SNILS" means another card of the same organisation and role carries the same SNILS: that
 * is what makes matching ambiguous. The same SNILS on a parent's cards in two schools, or on a
 * teacher's staff and parent cards, is one person in two capacities and is not flagged.
 *
 * Guardianship (docs/matching.md «Children»): a parent card with no child in the journal, and a
 * pupil's card no parent lists, cannot have the relation confirmed by Госуслуги. Those two are
 * counted and listed on their own — many journals send no relations at all — and do not count as
 * «проблемы заполнения».
 *
 * The counts are kept by the database as cards and relations change (migration
 * 0020_completeness_counts.sql): `completeness_counts` per organisation and role, and
 * `shared_snils_groups` for the SNILS held by more than one card. The summary reads those rows, not
 * the cards, so it costs the same right after a two-million-card import as on a quiet day. The
 * problem lists read the cards of their scope once, joined to the (small) shared groups — never a
 * lookup of other cards per card, which the planner may turn into a scan of the organisation per
 * card. Run these on a report connection (src/db/report-query.ts).
 */
export interface CompletenessFilter {
  /** Organisations the caller may see (support staff); omitted: all. */
  organizationIds?: string[] | undefined
  organizationId?: string | undefined
  role?: Role | undefined
}

/** Guardianship categories of the report (apart from the card problems above). */
export type RelationProblem = 'parents_without_children' | 'children_without_parents'
export const RELATION_PROBLEMS: readonly RelationProblem[] = ['parents_without_children', 'children_without_parents']
export type ReportProblem = CardProblem | RelationProblem
export const REPORT_PROBLEMS: readonly ReportProblem[] = [...CARD_PROBLEMS, ...RELATION_PROBLEMS]

export interface CompletenessRow {
  organization_id: string
  organization_name: string
  role: Role
  total: number
  without_snils: number
  invalid_snils: number
  without_birth_date: number
  without_middle_name: number
  shared_snils: number
  /** Cards with at least one of the problems above. */
  with_problems: number
  /** Cards where the journal says the person has no patronymic («-», «нет»): not a problem. */
  no_middle_name: number
  /** Parent cards (role parent) with no child in the journal; 0 on other roles. */
  parents_without_children: number
  /** Pupils' cards (role student) no parent card lists; 0 on other roles. */
  children_without_parents: number
}

/**
 * Each card problem as a condition on a card `u` joined to its shared-SNILS group `s`. The same
 * definitions, in SQL, keep the counts (migration 0020_completeness_counts.sql: `card_has_own_problem`,
 * `card_lacks_middle_name`); test/directory/completeness-counts.test.ts holds the two together.
 */
const PROBLEM_SQL: Record<CardProblem, string> = {
  without_snils: 'NOT u.snils_present',
  invalid_snils: '(u.snils_present AND NOT u.snils_valid)',
  without_birth_date: 'u.birth_date IS NULL',
  without_middle_name: '(u.norm_middle_name IS NULL AND NOT u.no_middle_name)',
  shared_snils: '(s.snils_hmac IS NOT NULL)',
}
const RELATION_SQL: Record<RelationProblem, string> = {
  parents_without_children: `(u.role = 'parent' AND NOT EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.parent_id = u.id))`,
  children_without_parents: `(u.role = 'student' AND NOT EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.child_id = u.id))`,
}

// Staff, students, parents: the order of the three reports in the journal; admins last.
const roleOrder = (alias: string) => `array_position(ARRAY['staff', 'student', 'parent', 'admin'], ${alias}.role)`

const scope = (f: CompletenessFilter, params: unknown[], alias = 'u'): string => {
  const where: string[] = []
  if (f.organizationIds) where.push(`${alias}.organization_id = ANY($${params.push(f.organizationIds)})`)
  if (f.organizationId) where.push(`${alias}.organization_id = $${params.push(f.organizationId)}`)
  if (f.role) where.push(`${alias}.role = $${params.push(f.role)}`)
  return where.length > 0 ? where.join(' AND ') : 'true'
}

/**
 * The summary, from the kept counts: one row per organisation and role that has cards. A card
 * whose only problem is a shared SNILS counts in `with_problems` through its group's `with_own`.
 */
export async function completenessReport(db: Queryable, filter: CompletenessFilter = {}): Promise<CompletenessRow[]> {
  const params: unknown[] = []
  const counted = scope(filter, params, 'c')
  // The same parameters, numbered the same: the groups are filtered like the counts.
  const grouped = scope(filter, [], 'g')
  const { rows } = await db.query<CompletenessRow>(
    `SELECT c.organization_id, o.name AS organization_name, c.role, c.total,
       c.without_snils, c.invalid_snils, c.without_birth_date, c.without_middle_name,
       coalesce(s.cards, 0)::int AS shared_snils,
       (c.own_problems + coalesce(s.only_shared, 0))::int AS with_problems,
       c.no_middle_name,
       CASE WHEN c.role = 'parent' THEN c.total - c.with_children ELSE 0 END AS parents_without_children,
       CASE WHEN c.role = 'student' THEN c.total - c.with_parents ELSE 0 END AS children_without_parents
     FROM completeness_counts c
     JOIN organizations o ON o.id = c.organization_id
     LEFT JOIN (
       SELECT g.organization_id, g.role, sum(g.holders) AS cards, sum(g.holders - g.with_own) AS only_shared
       FROM shared_snils_groups g WHERE ${grouped}
       GROUP BY g.organization_id, g.role
     ) s ON s.organization_id = c.organization_id AND s.role = c.role
     WHERE c.total > 0 AND ${counted}
     ORDER BY c.organization_id, ${roleOrder('c')}`,
    params,
  )
  return rows
}

export interface ProblemCard {
  id: string
  organization_id: string
  role: Role
  last_name: string
  first_name: string
  middle_name: string | null
  problems: ReportProblem[]
}

export interface ProblemCardsPage {
  items: ProblemCard[]
  /** Pass as `after` for the next page; null on the last one. */
  next_after: string | null
}

export type ProblemFilter = CompletenessFilter & {
  /** One problem; omitted: any card problem (the guardianship categories are asked for by name). */
  problem?: ReportProblem | undefined
}

type ProblemRow = Omit<ProblemCard, 'problems'> & Record<CardProblem, boolean> & { relation: boolean }

/**
 * The problem cards in id order (after the id `after`), with each card's problems; a shared SNILS
 * is one found in `shared_snils_groups` (kept with the counts).
 */
function problemCardsSql(filter: ProblemFilter & { after?: string | undefined }, params: unknown[]): string {
  if (filter.problem !== undefined && !REPORT_PROBLEMS.includes(filter.problem)) throw new TypeError(`Unknown card problem ${filter.problem}`)
  const where = scope(filter, params)
  const relation = filter.problem !== undefined && (RELATION_PROBLEMS as readonly string[]).includes(filter.problem) ? RELATION_SQL[filter.problem as RelationProblem] : undefined
  const wanted = relation ?? (filter.problem ? PROBLEM_SQL[filter.problem as CardProblem] : CARD_PROBLEMS.map((p) => PROBLEM_SQL[p]).join(' OR '))
  const after = filter.after !== undefined ? ` AND u.id > $${params.push(filter.after)}` : ''
  return `SELECT u.id, u.organization_id, u.role, u.last_name, u.first_name, u.middle_name,
       ${CARD_PROBLEMS.map((p) => `${PROBLEM_SQL[p]} AS ${p}`).join(', ')}, ${relation ? 'true' : 'false'} AS relation
     FROM journal_users u
     LEFT JOIN shared_snils_groups s ON s.snils_hmac = u.snils_hmac AND s.organization_id = u.organization_id AND s.role = u.role
     WHERE ${where}${after} AND (${wanted})
     ORDER BY u.id`
}

function toProblemCard(r: ProblemRow, problem: ReportProblem | undefined): ProblemCard {
  const problems: ReportProblem[] = CARD_PROBLEMS.filter((p) => r[p])
  // A guardianship category shows on the cards listed for it (asked for by name).
  if (r.relation && problem) problems.push(problem)
  return { id: r.id, organization_id: r.organization_id, role: r.role, last_name: r.last_name, first_name: r.first_name, middle_name: r.middle_name, problems }
}

/** Problem cards (or those with the one `problem`), in id order, `limit` at a time after the id `after`. */
export async function problemCards(db: Queryable, filter: ProblemFilter & { after?: string | undefined; limit: number }): Promise<ProblemCardsPage> {
  const params: unknown[] = []
  const sql = problemCardsSql(filter, params)
  const { rows } = await db.query<ProblemRow>(`${sql} LIMIT $${params.push(filter.limit + 1)}`, params)
  const items = rows.slice(0, filter.limit).map((r) => toProblemCard(r, filter.problem))
  return { items, next_after: rows.length > filter.limit ? items[items.length - 1]!.id : null }
}

/**
 * Every problem card of the filter, read through one cursor: one query for the whole export, not
 * one per page. `db` must be in a transaction (a report connection). The first
 * rows are fetched before this returns, so a report that cannot run fails before a download starts.
 */
export async function problemCardsCursor(db: Queryable, filter: ProblemFilter, fetchSize = 2000): Promise<AsyncGenerator<ProblemCard[]>> {
  const params: unknown[] = []
  await db.query(`DECLARE problem_cards NO SCROLL CURSOR FOR ${problemCardsSql(filter, params)}`, params)
  const fetch = async () => (await db.query<ProblemRow>(`FETCH ${fetchSize} FROM problem_cards`)).rows.map((r) => toProblemCard(r, filter.problem))
  const first = await fetch()
  async function* pages(): AsyncGenerator<ProblemCard[]> {
    let page = first
    while (page.length > 0) {
      yield page
      if (page.length < fetchSize) return
      page = await fetch()
    }
  }
  return pages()
}
