import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CsvTokenizer, type CsvRecord } from '../../../src/directory/import/csv.js'
import { ImportFileError } from '../../../src/directory/import/errors.js'

/** Tokenizes `text` cut into the given chunk sizes, as a stream would deliver it. */
function tokenize(text: string, cuts: number[] = []): CsvRecord[] {
  const tokenizer = new CsvTokenizer(';')
  const out: CsvRecord[] = []
  let pos = 0
  for (const cut of cuts) {
    tokenizer.push(text.slice(pos, pos + cut), out)
    pos += cut
  }
  tokenizer.push(text.slice(pos), out)
  tokenizer.end(out)
  return out
}

// Fields as Excel writes them: plain text, or quoted when they hold ; " or a line break.
const field = fc.oneof(
  fc.stringMatching(/^[А-Яа-яЁёA-Za-z0-9 .\-]{0,12}$/),
  fc.string({ unit: fc.constantFrom('а', 'б', ';', '"', '\n', '\r\n', ' ', 'x'), maxLength: 10 }),
)
const quote = (f: string) => (/[;"\n\r]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f)

describe('CSV tokenizer', () => {
  it('reads what csv-parse reads, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 20 }),
        (rows, eol, cuts) => {
          const text = rows.map((r) => r.map(quote).join(';')).join(eol) + eol
          const expected = (parse(text, { delimiter: ';', relax_column_count: true, skip_empty_lines: false }) as string[][]).filter((r) => r.some((f) => f.trim() !== ''))
          expect(tokenize(text, cuts).map((r) => r.fields)).toEqual(expected)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('numbers records by the line they start on, skipping blank lines and rows of bare separators', () => {
    const text = 'a;b\n\n"c\nd";e\n;;\r\nf;g'
    expect(tokenize(text)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['c\nd', 'e'] },
      { line: 6, fields: ['f', 'g'] },
    ])
  })

  it('keeps a stray quote inside an unquoted field, as Excel users mean it', () => {
    expect(tokenize('ООО "Ромашка";1\n').map((r) => r.fields)).toEqual([['ООО "Ромашка"', '1']])
  })

  it('calls a quote left open at the end a broken file, naming its line', () => {
    expect(() => tokenize('a;b\n"c;d\ne;f\n')).toThrow(ImportFileError)
    expect(() => tokenize('a;b\n"c;d\ne;f\n')).toThrow(/line 2/)
  })
})
