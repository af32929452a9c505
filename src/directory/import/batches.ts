import { cardId, type CardInput, type CardRow, type CardValidation } from '../cards.js'
import { IdFilter } from './id-filter.js'
import type { SourceRow } from './rows.js'

/**
 * Rows of the file → batches in PostgreSQL's COPY text format, ready for the staging table. Each
 * row is validated here (the same `validateCard` rules as the API); a refused row is staged too,
 * with its reason, so that its id still counts for duplicate detection and the report comes out of
 * one table in line order. Only the SNILS HMAC is staged, never the number. A parent row's
 * children (column «Дети») go to a second table, one line per child.
 */
export const STAGING_COLUMNS = [
  'line', 'id', 'organization_id', 'role', 'last_name', 'first_name', 'middle_name', 'birth_date',
  'snils_hmac', 'snils_present', 'snils_valid', 'norm_last_name', 'norm_first_name', 'norm_middle_name',
  'no_middle_name', 'reject', 'dup_of', 'maybe_seen', 'holds_children',
] as const

export interface StagedBatch {
  /** COPY text, in pieces of a few hundred kilobytes. */
  pieces: string[]
  rows: number
  /** Rows whose id may have appeared in an earlier batch (to be confirmed in the database). */
  maybeSeen: number
  /** COPY text of `import_children` (line, child id; no child id: the row says «no children»). */
  children: string
}

/** The API's limit on `child_ids`, for the file's «Дети» too. */
export const MAX_CHILDREN = 100

/** A parent's children as the file states them, or why the row cannot be taken. */
function childIds(card: CardRow, children: string[]): { ok: true; ids: string[] } | { ok: false; reason: 'unknown_child' | 'invalid_child' } {
  const ids = [...new Set(children.map(cardId))]
  // An id that cannot be an id is no card of the directory.
  if (ids.some((id) => id === null)) return { ok: false, reason: 'unknown_child' }
  if (ids.length > 0 && (card.role !== 'parent' || ids.includes(card.id) || ids.length > MAX_CHILDREN)) return { ok: false, reason: 'invalid_child' }
  return { ok: true, ids: ids as string[] }
}

const NULL = '\\N'
const SPECIAL = /[\\\t\n\r]/
const SPECIAL_ALL = /[\\\t\n\r]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
/** A value in COPY text format (validated text has no controls left, but escaping stays total). */
const copyValue = (v: string | null): string => (v === null ? NULL : SPECIAL.test(v) ? v.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : v)

const PIECE_CHARS = 256 * 1024
const FIRST_BATCH = 10_000

export interface BatchOptions {
  validate: (input: CardInput) => CardValidation
  batchSize: number
}

/**
 * Groups rows into batches of `batchSize`. Within a batch, a repeated id is found with a map (the
 * first occurrence wins; later ones are refused as duplicates of its line); an id that may repeat
 * one of an earlier batch (`IdFilter`) is flagged, and the database confirms it against all ids
 * seen so far. Memory stays one batch and the filter, whatever the file.
 */
export async function* stagedBatches(rows: AsyncIterable<SourceRow[]>, opts: BatchOptions): AsyncGenerator<StagedBatch, void, undefined> {
  let pieces: string[] = []
  // Lines of the piece being built, joined once it is big enough: the small strings die young,
  // instead of living on in a rope of a hundred thousand parts until the batch is copied.
  let lines: string[] = []
  let chars = 0
  let count = 0
  let batches = 0
  let maybeSeen = 0
  let childLines: string[] = []
  let firstLineOf = new Map<string, number>()
  const seenBefore = new IdFilter()

  const stage = (line: string) => {
    lines.push(line)
    chars += line.length
    if (chars >= PIECE_CHARS) {
      pieces.push(lines.join(''))
      lines = []
      chars = 0
    }
  }
  const refuse = (line: number, id: string | null, reason: string, maybe: string, dupOf: number | null = null) =>
    stage(`${line}\t${copyValue(id)}\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t${reason}\t${dupOf ?? NULL}\t${maybe}\tf\n`)

  for await (const group of rows) {
    for (const row of group) {
      const id = cardId('problem' in row ? row.id : row.input.id)
      const first = id === null ? undefined : firstLineOf.get(id)
      if (first !== undefined) {
        refuse(row.line, id, 'duplicate_id', 'f', first)
      } else {
        let maybe = 'f'
        if (id !== null) {
          firstLineOf.set(id, row.line)
          if (seenBefore.addAndCheck(id)) {
            maybe = 't'
            maybeSeen++
          }
        }
        const checked = 'problem' in row ? row : opts.validate(row.input)
        if ('problem' in checked) {
          refuse(row.line, id, checked.problem, maybe)
        } else if (!checked.ok) {
          refuse(row.line, id, checked.rejection.code, maybe)
        } else {
          const r = checked.row
          const children = 'children' in row && row.children !== undefined ? childIds(r, row.children) : undefined
          if (children && !children.ok) {
            refuse(row.line, id, children.reason, maybe)
          } else {
            // Only a parent's list is kept: «none» on another card changes nothing.
            if (children && r.role === 'parent') {
              if (children.ids.length === 0) childLines.push(`${row.line}\t${NULL}\n`)
              for (const child of children.ids) childLines.push(`${row.line}\t${copyValue(child)}\n`)
            }
            stage(
              `${row.line}\t${copyValue(r.id)}\t${copyValue(r.organizationId)}\t${r.role}\t${copyValue(r.lastName)}\t${copyValue(r.firstName)}\t` +
                `${copyValue(r.middleName)}\t${r.birthDate ?? NULL}\t${r.snilsHmac ? `\\\\x${r.snilsHmac.toString('hex')}` : NULL}\t` +
                `${r.snilsPresent ? 't' : 'f'}\t${r.snilsValid ? 't' : 'f'}\t${copyValue(r.normLastName)}\t${copyValue(r.normFirstName)}\t` +
                `${copyValue(r.normMiddleName)}\t${r.noMiddleName ? 't' : 'f'}\t\\N\t\\N\t${maybe}\t${children?.ok && children.ids.length ? 't' : 'f'}\n`,
            )
          }
        }
      }
      // The first batch is small so that the database starts while the rest is still being read.
      if (++count >= (batches === 0 ? Math.min(opts.batchSize, FIRST_BATCH) : opts.batchSize)) yield flush()
    }
  }
  if (count > 0) yield flush()

  function flush(): StagedBatch {
    if (lines.length > 0) pieces.push(lines.join(''))
    const batch = { pieces, rows: count, maybeSeen, children: childLines.join('') }
    batches++
    childLines = []
    pieces = []
    lines = []
    chars = 0
    count = 0
    maybeSeen = 0
    firstLineOf = new Map()
    return batch
  }
}
