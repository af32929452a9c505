import type { CardRejection } from '../cards.js'
import type { ImportFormat } from './rows.js'

/**
 * What an import did, as the API returns it (snake_case: this object is the response document).
 * Refused rows carry their line, the id when it could be read, and a reason code; never a name,
 * a birth date or a SNILS, so a report can be logged or mailed to a school without leaking them.
 */
export type RejectionReason =
  | CardRejection['code']
  | 'wrong_column_count'
  | 'invalid_field'
  | 'duplicate_id'
  | 'unknown_organization'
  | 'organization_out_of_scope'
  | 'organization_mismatch'
  | 'link_conflict'
  | 'unknown_child'
  | 'invalid_child'

/** Operator-facing explanations (English); people-facing pages map the codes to Russian themselves. */
export const REJECTION_MESSAGES: Record<RejectionReason, string> = {
  missing_id: 'Идентификатор (id) is empty',
  invalid_id: 'Идентификатор (id) is longer than 128 characters or contains control characters',
  invalid_characters: 'a field contains control characters',
  missing_organization: 'Организация (organization_id) is empty',
  unknown_role: 'Роль (role) must be parent, student, staff, admin or Родитель, Обучающийся/Ученик, Сотрудник/Учитель, Администратор',
  missing_last_name: 'Фамилия (last_name) is empty',
  missing_first_name: 'Имя (first_name) is empty',
  invalid_birth_date: 'Дата рождения (birth_date) must be a real day written ДД.ММ.ГГГГ or YYYY-MM-DD',
  invalid_snils: 'СНИЛС (snils) must have 11 digits',
  snils_checksum: 'СНИЛС check digits do not match the number; correct it, or import with invalid_snils=keep to keep the card with the SNILS flagged invalid',
  wrong_column_count: 'the row has a different number of columns than the header',
  invalid_field: 'a field has the wrong JSON type: text or null expected (numbers are accepted for id and organization_id)',
  duplicate_id: 'the same Идентификатор (id) appears earlier in the file; the first occurrence was used',
  unknown_organization: 'the organisation is not registered; PUT /api/v1/directory/organizations/{id} first',
  organization_out_of_scope: 'the card belongs, or would move, to an organisation outside the caller’s scope',
  organization_mismatch: 'in replace mode every row must belong to the organisation being replaced',
  link_conflict: 'the card is linked to a Госуслуги account that already holds this organisation and role through another card',
  unknown_child: 'Дети (child_ids) names an id that is no card of the directory or of this file; the row was not applied',
  invalid_child: 'Дети (child_ids) is only for a parent row, lists the row itself, names a card that is not a pupil (student), or more than 100 children; the row was not applied',
}

export interface RejectedRow {
  line: number
  id: string | null
  reason: RejectionReason
  message: string
  /** For `duplicate_id`: the line of the occurrence that was used. */
  duplicate_of_line?: number
}

export interface ImportReport {
  dry_run: boolean
  mode: 'merge' | 'replace'
  organization_id: string | null
  format: ImportFormat
  charset: string
  /** Data rows read (header and blank lines not counted). */
  rows: number
  inserted: number
  updated: number
  unchanged: number
  /** Replace mode: cards of the organisation absent from the file, deleted. */
  deleted: number
  rejected: number
  /** Links removed with the deleted cards (each has its `link.removed` audit row). */
  links_removed: number
  /** Parent → child relations the file's «Дети» added and removed. */
  relations_added: number
  relations_removed: number
  rejected_by_reason: Partial<Record<RejectionReason, number>>
  /** The first refused rows in file order, up to the limit; `rejected` counts them all. */
  rejected_rows: RejectedRow[]
  rejected_truncated: boolean
  /** CSV columns that are not part of the directory format and were ignored. */
  ignored_columns: string[]
  duration_ms: number
  /** Where the time went, for benchmarks and slow-import investigations. */
  timings: ImportTimings
}

export interface ImportTimings {
  /** Database idle, waiting for the next batch to be read, decoded and validated. */
  reading_ms: number
  copy_ms: number
  checks_ms: number
  merge_ms: number
  /** Replace-mode deletions, the report and the commit. */
  finish_ms: number
}

export function rejectedRow(r: { line: number; id: string | null; reason: string; dup_of: number | null }): RejectedRow {
  const reason = r.reason as RejectionReason
  const row: RejectedRow = { line: r.line, id: r.id, reason, message: REJECTION_MESSAGES[reason] ?? reason }
  if (reason === 'duplicate_id' && r.dup_of !== null) {
    row.duplicate_of_line = r.dup_of
    row.message = `duplicate of line ${r.dup_of}: ${REJECTION_MESSAGES.duplicate_id}`
  }
  return row
}
