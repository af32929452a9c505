import type { Queryable } from '../db/pool.js'
import { CARD_PROBLEMS, type CardProblem, type Role } from './cards.js'

/**
 * «Контроль заполнения данных: Сотрудники / Обучающиеся / Родители» (seed 003): before a school
 * moves to sign-in through Госуслуги, every card needs what ЕСИА matching compares — SNILS, birth
 * date, patronymic — and no SNILS may sit on two cards that matching would then confuse. Per
 * organisation and role, how many cards miss what; and the cards themselves, paged, to fix them.
 *
 * "Shared SNILS" means another card of the same organisation and role carries the same SNILS: that
 * is what makes matching ambiguous. The same SNILS on a parent's cards in two schools, or on a
 * teacher's staff and parent cards, is one person in two capacities and is not flagged.
 */
export interface CompletenessFilter {
  /** Organisations the caller may see (support staff); omitted: all. */
  organizationIds?: string[] | undefined
  organizationId?: string | undefined
  role?: Role | undefined
}

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
}

/** Each problem as a condition on a card `u` (and `shared`, its shared-SNILS flag). */
const PROBLEM_SQL: Record<CardProblem, string> = {
  without_snils: 'NOT u.snils_present',
  invalid_snils: '(u.snils_present AND NOT u.snils_valid)',
  without_birth_date: 'u.birth_date IS NULL',
  without_middle_name: 'u.norm_middle_name IS NULL',
  shared_snils: 'shared',
}

// Staff, students, parents: the order of the three reports in the seed; admins last.
const ROLE_ORDER = `array_position(ARRAY['staff', 'student', 'parent', 'admin'], u.role)`

const scope = (f: CompletenessFilter, params: unknown[]): string => {
  const where: string[] = []
  if (f.organizationIds) where.push(`u.organization_id = ANY($${params.push(f.organizationIds)})`)
  if (f.organizationId) where.push(`u.organization_id = $${params.push(f.organizationId)}`)
  if (f.role) where.push(`u.role = $${params.push(f.role)}`)
  return where.length > 0 ? where.join(' AND ') : 'true'
}

/** A problem other than a shared SNILS (those need the other cards, see below). */
const OWN_PROBLEM = CARD_PROBLEMS.filter((p) => p !== 'shared_snils').map((p) => PROBLEM_SQL[p]).join(' OR ')

/**
 * One pass over the cards for the counts of each card's own problems, and shared SNILS found from
 * the few SNILS that occur more than once at all — read in order from the SNILS index, without
 * grouping two million cards by organisation, role and SNILS in memory (DESIGN.md §Service levels:
 * ≤ 1 s on a two-million-card directory).
 */
export async function completenessReport(db: Queryable, filter: CompletenessFilter = {}): Promise<CompletenessRow[]> {
  const params: unknown[] = []
  const where = scope(filter, params)
  const { rows } = await db.query<CompletenessRow>(
    `WITH repeated AS (
       SELECT u.snils_hmac FROM journal_users u
       WHERE u.snils_hmac IS NOT NULL AND ${where}
       GROUP BY u.snils_hmac HAVING count(*) > 1
     ), shared AS (
       SELECT organization_id, role, count(*)::int AS cards, count(*) FILTER (WHERE NOT own_problem)::int AS only_shared
       FROM (
         SELECT u.organization_id, u.role, (${OWN_PROBLEM}) AS own_problem,
                count(*) OVER (PARTITION BY u.organization_id, u.role, u.snils_hmac) AS holders
         FROM journal_users u JOIN repeated r ON r.snils_hmac = u.snils_hmac
         WHERE ${where}
       ) s
       WHERE holders > 1
       GROUP BY organization_id, role
     ), own AS (
       SELECT u.organization_id, u.role, count(*)::int AS total,
         ${CARD_PROBLEMS.filter((p) => p !== 'shared_snils').map((p) => `count(*) FILTER (WHERE ${PROBLEM_SQL[p]})::int AS ${p}`).join(',\n         ')},
         count(*) FILTER (WHERE ${OWN_PROBLEM})::int AS own_problems
       FROM journal_users u WHERE ${where}
       GROUP BY u.organization_id, u.role
     )
     SELECT u.organization_id, o.name AS organization_name, u.role, u.total,
       ${CARD_PROBLEMS.filter((p) => p !== 'shared_snils').map((p) => `u.${p}`).join(', ')},
       coalesce(s.cards, 0) AS shared_snils,
       u.own_problems + coalesce(s.only_shared, 0) AS with_problems
     FROM own u
     JOIN organizations o ON o.id = u.organization_id
     LEFT JOIN shared s ON s.organization_id = u.organization_id AND s.role = u.role
     ORDER BY u.organization_id, ${ROLE_ORDER}`,
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
  problems: CardProblem[]
}

export interface ProblemCardsPage {
  items: ProblemCard[]
  /** Pass as `after` for the next page; null on the last one. */
  next_after: string | null
}

/** Cards with problems (or with the one `problem`), in id order, `limit` at a time after the id `after`. */
export async function problemCards(
  db: Queryable,
  filter: CompletenessFilter & { problem?: CardProblem | undefined; after?: string | undefined; limit: number },
): Promise<ProblemCardsPage> {
  if (filter.problem !== undefined && !CARD_PROBLEMS.includes(filter.problem)) throw new TypeError(`Unknown card problem ${filter.problem}`)
  const params: unknown[] = []
  const where = [scope(filter, params)]
  if (filter.after !== undefined) where.push(`u.id > $${params.push(filter.after)}`)
  const limit = params.push(filter.limit + 1)
  const { rows } = await db.query<Omit<ProblemCard, 'problems'> & Record<CardProblem, boolean>>(
    `SELECT * FROM (
       SELECT u.id, u.organization_id, u.role, u.last_name, u.first_name, u.middle_name,
         ${CARD_PROBLEMS.map((p) => `${PROBLEM_SQL[p]} AS ${p}`).join(', ')}
       FROM (
         SELECT u.*, (u.snils_hmac IS NOT NULL AND EXISTS (
           SELECT 1 FROM journal_users o
           WHERE o.snils_hmac = u.snils_hmac AND o.organization_id = u.organization_id AND o.role = u.role AND o.id <> u.id)) AS shared
         FROM journal_users u WHERE ${where.join(' AND ')}
       ) u
     ) c
     WHERE ${filter.problem ?? CARD_PROBLEMS.join(' OR ')}
     ORDER BY c.id LIMIT $${limit}`,
    params,
  )
  const items = rows.slice(0, filter.limit).map((r) => ({
    id: r.id,
    organization_id: r.organization_id,
    role: r.role,
    last_name: r.last_name,
    first_name: r.first_name,
    middle_name: r.middle_name,
    problems: CARD_PROBLEMS.filter((p) => r[p]),
  }))
  return { items, next_after: rows.length > filter.limit ? items[items.length - 1]!.id : null }
}
