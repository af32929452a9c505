import type { CardInput } from '../cards.js'
import { CsvTokenizer, type CsvRecord } from './csv.js'
import { ImportFileError } from './errors.js'

/**
 * Records of a directory file as card inputs, with their line numbers. CSV: the Russian header row
 * of docs/directory.md, «Batch import» (API field names are accepted as well), columns in any order, the
 * optional «Дети», unknown columns ignored and reported. NDJSON: one JSON object per line with the
 * API field names, `child_ids` included.
 */
export type ImportFormat = 'csv' | 'ndjson'

/**
 * A row as read from the file: a card input, or why the row cannot even be read as one. `id` is the
 * row's id field when it can be told: never for a row that does not fit the header, whose column
 * «Идентификатор» may hold a surname or a SNILS shifted there, which the report would then echo.
 * `children` (a parent's children, column «Дети» or NDJSON `child_ids`) is undefined when the file
 * does not say, an empty list when it says «none».
 */
export type SourceRow =
  | { line: number; input: CardInput; children?: string[] | undefined }
  | { line: number; problem: 'wrong_column_count'; id: null }
  | { line: number; problem: 'invalid_field'; id: string | null }

type CardField = keyof CardInput

const COLUMNS: Record<CardField, string> = {
  last_name: 'Фамилия',
  first_name: 'Имя',
  middle_name: 'Отчество',
  birth_date: 'Дата рождения',
  snils: 'СНИЛС',
  role: 'Роль',
  organization_id: 'Организация',
  id: 'Идентификатор',
}
export const CSV_HEADER = Object.values(COLUMNS).join(';')
/**
 * The one optional column: a parent's children, their card ids separated by `,` (the API's
 * `child_ids`). When the column is there, a parent row's cell is the whole list (empty: none).
 */
export const CHILDREN_COLUMN = 'Дети'

const headerKey = (name: string) => name.replace(/^\uFEFF/, '').trim().replace(/\s+/g, ' ').toLowerCase().replaceAll('ё', 'е')
const HEADER_NAMES = new Map<string, CardField>()
for (const [field, russian] of Object.entries(COLUMNS) as [CardField, string][]) {
  HEADER_NAMES.set(headerKey(russian), field)
  HEADER_NAMES.set(field, field)
}
const CHILDREN_NAMES = new Set([headerKey(CHILDREN_COLUMN), 'child_ids'])

export interface CsvLayout {
  /** Column index of each card field. */
  index: Record<CardField, number>
  /** Column «Дети», when the file has it. */
  children: number | undefined
  width: number
  ignored: string[]
}

/**
 * Every one of the eight columns is required: a file without, say, «СНИЛС» would otherwise erase
 * the SNILS of every card it updates.
 */
export function csvLayout(header: CsvRecord): CsvLayout {
  const index = {} as Record<CardField, number>
  let children: number | undefined
  const ignored: string[] = []
  header.fields.forEach((name, i) => {
    if (CHILDREN_NAMES.has(headerKey(name))) {
      if (children !== undefined) throw new ImportFileError('bad_header', `Column «${CHILDREN_COLUMN}» appears twice in the header`, header.line)
      children = i
      return
    }
    const field = HEADER_NAMES.get(headerKey(name))
    if (!field) {
      if (name.trim() !== '') ignored.push(name.trim().slice(0, 100))
      return
    }
    if (index[field] !== undefined) throw new ImportFileError('bad_header', `Column «${COLUMNS[field]}» appears twice in the header`, header.line)
    index[field] = i
  })
  const missing = (Object.keys(COLUMNS) as CardField[]).filter((f) => index[f] === undefined)
  if (missing.length > 0) {
    throw new ImportFileError(
      'bad_header',
      `The first line must be the header «${CSV_HEADER}»; missing: ${missing.map((f) => `«${COLUMNS[f]}»`).join(', ')}`,
      header.line,
    )
  }
  return { index, children, width: header.fields.length, ignored }
}

/** «u2001, u2002» → the ids; blanks between commas are no ids. */
const childList = (cell: string): string[] => cell.split(',').map((id) => id.trim()).filter((id) => id !== '')

function csvRow(record: CsvRecord, layout: CsvLayout): SourceRow {
  const f = record.fields
  const { index } = layout
  if (f.length < layout.width || (f.length > layout.width && f.slice(layout.width).some((x) => x.trim() !== ''))) {
    return { line: record.line, problem: 'wrong_column_count', id: null }
  }
  return {
    line: record.line,
    input: {
      id: f[index.id]!,
      organization_id: f[index.organization_id]!,
      role: f[index.role]!,
      last_name: f[index.last_name]!,
      first_name: f[index.first_name]!,
      middle_name: f[index.middle_name]!,
      birth_date: f[index.birth_date]!,
      snils: f[index.snils]!,
    },
    children: layout.children === undefined ? undefined : childList(f[layout.children]!),
  }
}

/** Decoded CSV text → batches of rows (one batch per text chunk). `onLayout` hears the header first. */
export async function* csvRows(text: AsyncIterable<string>, onLayout: (layout: CsvLayout) => void): AsyncGenerator<SourceRow[]> {
  const tokenizer = new CsvTokenizer(';')
  let layout: CsvLayout | undefined
  const records: CsvRecord[] = []
  const take = (): SourceRow[] => {
    let start = 0
    if (!layout && records.length > 0) {
      layout = csvLayout(records[0]!)
      onLayout(layout)
      start = 1
    }
    const rows: SourceRow[] = []
    for (let i = start; i < records.length; i++) rows.push(csvRow(records[i]!, layout!))
    records.length = 0
    return rows
  }
  for await (const chunk of text) {
    tokenizer.push(chunk, records)
    if (records.length > 0) yield take()
  }
  tokenizer.end(records)
  if (records.length > 0) yield take()
  if (!layout) throw new ImportFileError('empty_file', `The file has no header row; the first line must be «${CSV_HEADER}»`)
}

const STRING_FIELDS: CardField[] = ['role', 'last_name', 'first_name', 'middle_name', 'birth_date', 'snils']

function ndjsonRow(text: string, line: number): SourceRow {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ImportFileError('malformed_ndjson', `Line ${line} is not JSON; every line must be one JSON object`, line)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ImportFileError('malformed_ndjson', `Line ${line} is not a JSON object`, line)
  }
  const o = value as Record<string, unknown>
  // Journals often keep numeric ids; their string form is the id.
  const idOf = (v: unknown): string | null | undefined => (typeof v === 'number' && Number.isFinite(v) ? String(v) : (v as string | null | undefined))
  const id = idOf(o.id)
  const organizationId = idOf(o.organization_id)
  const bad = (v: unknown) => v !== undefined && v !== null && typeof v !== 'string'
  // `child_ids` as in PUT /users/{id}: left out, the card's children stay as they are.
  const childIds = o.child_ids === undefined ? undefined : Array.isArray(o.child_ids) ? o.child_ids.map(idOf) : null
  if (bad(id) || bad(organizationId) || STRING_FIELDS.some((f) => bad(o[f])) || childIds === null || childIds?.some((c) => typeof c !== 'string')) {
    return { line, problem: 'invalid_field', id: typeof id === 'string' ? id : null }
  }
  return {
    line,
    input: {
      id: id ?? '',
      organization_id: organizationId ?? '',
      role: (o.role as string | null | undefined) ?? '',
      last_name: (o.last_name as string | null | undefined) ?? '',
      first_name: (o.first_name as string | null | undefined) ?? '',
      middle_name: o.middle_name as string | null | undefined,
      birth_date: o.birth_date as string | null | undefined,
      snils: o.snils as string | null | undefined,
    },
    children: childIds as string[] | undefined,
  }
}

/**
 * Replace mode deletes the organisation's cards the file does not name, so every row must name its
 * card: a row that does not fit the header stops the whole file instead of costing a card its life.
 */
export async function* everyRowNamed(rows: AsyncIterable<SourceRow[]>): AsyncGenerator<SourceRow[]> {
  for await (const group of rows) {
    const unreadable = group.find((row) => 'problem' in row && row.problem === 'wrong_column_count')
    if (unreadable) {
      throw new ImportFileError(
        'unreadable_row',
        `Line ${unreadable.line} has a different number of columns than the header; replace mode needs every row to name its card, so nothing was changed`,
        unreadable.line,
      )
    }
    yield group
  }
}

/** Decoded NDJSON text → batches of rows. Blank lines are skipped; a line that is not an object breaks the file. */
export async function* ndjsonRows(text: AsyncIterable<string>): AsyncGenerator<SourceRow[]> {
  let rest = ''
  let line = 1
  const rowsOf = (lines: string[]): SourceRow[] => {
    const rows: SourceRow[] = []
    for (const l of lines) {
      if (l.trim() !== '') rows.push(ndjsonRow(l, line))
      line++
    }
    return rows
  }
  for await (const chunk of text) {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()!
    yield rowsOf(lines)
  }
  yield rowsOf([rest])
}
