import type { Queryable } from '../db/pool.js'
import { parentsWithUnconfirmedChildren, relationsPage, type ParentSummary } from '../guardians/checks.js'
import { relationLabel } from '../matching/children.js'
import { checkOrganizationFilter, scopeOf, type SupportCaller } from './caller.js'
import type { Cell } from './csv.js'

/**
 * Parents and children for support (src/guardians/checks.ts), inside the caller's organisations:
 * the list «родители с неподтверждёнными детьми» and the relations as CSV for a school.
 */
export interface GuardianFilter {
  organizationId?: string | undefined
}

export function unconfirmedParentsInScope(db: Queryable, caller: SupportCaller, filter: GuardianFilter & { limit: number; offset: number }): Promise<{ parents: ParentSummary[]; more: boolean }> {
  checkOrganizationFilter(caller, filter.organizationId)
  return parentsWithUnconfirmedChildren(db, { organizationIds: scopeOf(caller), organizationId: filter.organizationId, limit: filter.limit, offset: filter.offset })
}

export const RELATIONS_CSV_HEADER = [
  'Организация', 'Родитель', 'Фамилия родителя', 'Имя родителя', 'Отчество родителя', 'Родитель связан с Госуслугами',
  'Ребёнок', 'Фамилия ребёнка', 'Имя ребёнка', 'Отчество ребёнка', 'Состояние', 'Подробно', 'Проверено',
]

/**
 * Every relation of the organisations' parent cards (or, `unconfirmedOnly`, those of linked parents
 * that Госуслуги did not confirm), a thousand at a time: the state as a code (`mismatch:first_name`)
 * for filters in Excel, and in words.
 */
export async function* relationsCsvRows(
  db: Queryable,
  caller: SupportCaller,
  filter: GuardianFilter & { unconfirmedOnly: boolean },
  words: { state: (state: string, reasons: readonly string[]) => string; time: (d: Date) => string },
): AsyncGenerator<Cell[]> {
  checkOrganizationFilter(caller, filter.organizationId)
  let after: { parentId: string; childId: string } | null = null
  for (;;) {
    const page = await relationsPage(db, { organizationIds: scopeOf(caller), organizationId: filter.organizationId, unconfirmedOnly: filter.unconfirmedOnly }, after, 1000)
    for (const r of page) {
      yield [
        r.organizationId, r.parentId, r.parent.lastName, r.parent.firstName, r.parent.middleName, r.linked ? 'да' : 'нет',
        r.childId, r.child.lastName, r.child.firstName, r.child.middleName, relationLabel(r.state, r.reasons), words.state(r.state, r.reasons),
        r.checkedAt ? words.time(r.checkedAt) : '',
      ]
    }
    if (page.length < 1000) return
    after = { parentId: page.at(-1)!.parentId, childId: page.at(-1)!.childId }
  }
}
