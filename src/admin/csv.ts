import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'

/**
 * CSV exports for people who open them in Excel with Russian regional settings: `;` as the
 * separator (the list separator of ru-RU, and the separator of the journal's own imports), UTF-8
 * with a BOM (without it Excel reads Cyrillic as cp1251 mojibake), CRLF, RFC 4180 quoting.
 *
 * Written here rather than taking csv-stringify: quoting is four lines, and the part that matters
 * most for an export of typed-in text — neutralising cells Excel would run as formulas (OWASP «CSV
 * injection»: a reason typed as `=HYPERLINK(…)`) — is not a default of that library either.
 */
export const BOM = '\uFEFF'
const SEPARATOR = ';'

export type Cell = string | number | boolean | null | undefined

function cell(value: Cell): string {
  if (value === null || value === undefined) return ''
  let s = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[";\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

export const csvLine = (cells: readonly Cell[]): string => cells.map(cell).join(SEPARATOR) + '\r\n'

/**
 * Sends rows from an async source as a CSV download, row by row: memory stays flat however large the
 * export. `fileName` is ASCII; the header row comes first.
 */
export function sendCsv(reply: FastifyReply, fileName: string, header: readonly string[], rows: Iterable<readonly Cell[]> | AsyncIterable<readonly Cell[]>): FastifyReply {
  async function* lines() {
    yield BOM + csvLine(header)
    for await (const row of rows) yield csvLine(row)
  }
  reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .header('cache-control', 'no-store')
  return reply.send(Readable.from(lines()))
}
