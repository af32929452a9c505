import type { Queryable } from '../db/pool.js'
import { CARD_PROBLEMS, type CardProblem, type Role } from '../directory/cards.js'
import { completenessReport, problemCards, type CompletenessRow, type ProblemCardsPage } from '../directory/completeness.js'
import { checkOrganizationFilter, scopeOf, type SupportCaller } from './caller.js'
import type { Cell } from './csv.js'

/**
 * «Контроль заполнения данных» (seed 003) for support: the directory's report and problem cards
 * (src/directory/completeness.ts), limited to the caller's organisations, plus their CSV rows.
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
  filter: ReportFilter & { problem?: CardProblem | undefined; after?: string | undefined; limit: number },
): Promise<ProblemCardsPage> {
  return problemCards(db, { ...scoped(caller, filter), problem: filter.problem, after: filter.after, limit: filter.limit })
}

/** Column names of the report, in the words of the journal's «Контроль заполнения данных». */
export const PROBLEM_COLUMNS: Record<CardProblem, string> = {
  without_snils: 'Без СНИЛС',
  invalid_snils: 'СНИЛС с ошибкой',
  without_birth_date: 'Без даты рождения',
  without_middle_name: 'Без отчества',
  shared_snils: 'СНИЛС как у другой карточки',
}

export const COMPLETENESS_CSV_HEADER = ['Организация', 'Идентификатор организации', 'Роль', 'Карточек', ...CARD_PROBLEMS.map((p) => PROBLEM_COLUMNS[p]), 'Карточек с проблемами']

export async function* completenessCsvRows(db: Queryable, caller: SupportCaller, filter: ReportFilter, roleName: (r: string) => string): AsyncGenerator<Cell[]> {
  for (const r of await completenessInScope(db, caller, filter)) {
    yield [r.organization_name, r.organization_id, roleName(r.role), r.total, ...CARD_PROBLEMS.map((p) => r[p]), r.with_problems]
  }
}

export const PROBLEM_CARDS_CSV_HEADER = ['Идентификатор', 'Организация', 'Роль', 'Фамилия', 'Имя', 'Отчество', ...CARD_PROBLEMS.map((p) => PROBLEM_COLUMNS[p])]

/** Every problem card in scope, read a page of 1000 at a time; the problem columns say «да» or are empty. */
export async function* problemCardsCsvRows(
  db: Queryable,
  caller: SupportCaller,
  filter: ReportFilter & { problem?: CardProblem | undefined },
  roleName: (r: string) => string,
): AsyncGenerator<Cell[]> {
  let after: string | undefined
  for (;;) {
    const page = await problemCardsInScope(db, caller, { ...filter, after, limit: 1000 })
    for (const c of page.items) {
      yield [c.id, c.organization_id, roleName(c.role), c.last_name, c.first_name, c.middle_name, ...CARD_PROBLEMS.map((p) => (c.problems.includes(p) ? 'да' : ''))]
    }
    if (!page.next_after) return
    after = page.next_after
  }
}
