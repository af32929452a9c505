import type { Pool, Queryable } from '../db/pool.js'
import { openReport, type ReportOptions } from '../db/report-query.js'
import { CARD_PROBLEMS, type Role } from '../directory/cards.js'
import {
  completenessReport,
  problemCards,
  problemCardsCursor,
  REPORT_PROBLEMS,
  type CompletenessRow,
  type ProblemCardsPage,
  type ProblemFilter,
  type ReportProblem,
} from '../directory/completeness.js'
import { checkOrganizationFilter, scopeOf, type SupportCaller } from './caller.js'
import type { Cell } from './csv.js'

/**
 * «Контроль заполнения данных» for support: the directory's report and problem cards
 * (src/directory/completeness.ts), limited to the caller's organisations, plus their CSV rows.
 * Callers run them on a report connection (src/db/report-query.ts: statement timeout, cancelled
 * when the client goes away).
 */
export interface ReportFilter {
  organizationId?: string | undefined
  role?: Role | undefined
}

function scoped(caller: SupportCaller, filter: ReportFilter) {
  checkOrganizationFilter(caller, filter.organizationId)
  return { organizationIds: scopeOf(caller) ?? undefined, organizationId: filter.organizationId, role: filter.role }
}

export function completenessInScope(db: Queryable, caller: SupportCaller, filter: ReportFilter): Promise<CompletenessRow[]> {
  return completenessReport(db, scoped(caller, filter))
}

export function problemCardsInScope(
  db: Queryable,
  caller: SupportCaller,
  filter: ReportFilter & { problem?: ReportProblem | undefined; after?: string | undefined; limit: number },
): Promise<ProblemCardsPage> {
  return problemCards(db, { ...scoped(caller, filter), problem: filter.problem, after: filter.after, limit: filter.limit })
}

/** Column names of the report, in the words of the journal's «Контроль заполнения данных». */
export const PROBLEM_COLUMNS: Record<ReportProblem, string> = {
  without_snils: 'Без СНИЛС',
  invalid_snils: 'СНИЛС с ошибкой',
  without_birth_date: 'Без даты рождения',
  without_middle_name: 'Без отчества',
  shared_snils: 'СНИЛС как у другой карточки',
  parents_without_children: 'Родители без детей в журнале',
  children_without_parents: 'Дети без родителей в журнале',
}
export const NO_MIDDLE_NAME_COLUMN = 'Нет отчества (так указано)'

export const COMPLETENESS_CSV_HEADER = [
  'Организация', 'Идентификатор организации', 'Роль', 'Карточек', ...CARD_PROBLEMS.map((p) => PROBLEM_COLUMNS[p]), 'Карточек с проблемами',
  NO_MIDDLE_NAME_COLUMN, PROBLEM_COLUMNS.parents_without_children, PROBLEM_COLUMNS.children_without_parents,
]

export function* completenessCsvRows(rows: CompletenessRow[], roleName: (r: string) => string): Generator<Cell[]> {
  for (const r of rows) {
    yield [
      r.organization_name, r.organization_id, roleName(r.role), r.total, ...CARD_PROBLEMS.map((p) => r[p]), r.with_problems,
      r.no_middle_name, r.role === 'parent' ? r.parents_without_children : '', r.role === 'student' ? r.children_without_parents : '',
    ]
  }
}

export const PROBLEM_CARDS_CSV_HEADER = ['Идентификатор', 'Организация', 'Роль', 'Фамилия', 'Имя', 'Отчество', ...REPORT_PROBLEMS.map((p) => PROBLEM_COLUMNS[p])]

/**
 * Every problem card in scope through one cursor on its own report connection (one query for the
 * whole export); the problem columns say «да» or are empty. The first rows are
 * read before this returns, so a report that cannot run is a 503, not a broken download. The
 * connection is given back when the rows are done, or when the client goes away.
 */
export async function problemCardsCsvRows(
  pool: Pool,
  opts: ReportOptions,
  caller: SupportCaller,
  filter: ReportFilter & { problem?: ReportProblem | undefined },
  roleName: (r: string) => string,
): Promise<AsyncGenerator<Cell[]>> {
  return problemCardsCsv(pool, opts, { ...scoped(caller, filter), problem: filter.problem }, roleName)
}

/** `problemCardsCsvRows` for any filter (the directory API's journal sees the whole directory). */
export async function problemCardsCsv(pool: Pool, opts: ReportOptions, where: ProblemFilter, roleName: (r: string) => string): Promise<AsyncGenerator<Cell[]>> {
  const db = await openReport(pool, opts)
  opts.signal?.addEventListener('abort', () => void db.close(), { once: true })
  try {
    const pages = await problemCardsCursor(db, where)
    return (async function* () {
      try {
        for await (const page of pages) {
          for (const c of page) {
            yield [c.id, c.organization_id, roleName(c.role), c.last_name, c.first_name, c.middle_name, ...REPORT_PROBLEMS.map((p) => (c.problems.includes(p) ? 'да' : ''))]
          }
        }
      } finally {
        await db.close()
      }
    })()
  } catch (err) {
    await db.close()
    throw err
  }
}
