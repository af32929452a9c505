import iconv from 'iconv-lite'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { decodeText, sniffCharset } from '../../../src/directory/import/decode.js'
import { IdFilter } from '../../../src/directory/import/id-filter.js'

const HEADER = 'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор\n'

async function text(chunks: Buffer[], charset?: string) {
  const decoded = await decodeText(Readable.from(chunks), { charset })
  let out = ''
  for await (const c of decoded.chunks) out += c
  return { charset: decoded.charset, out }
}

describe('charset of an uploaded export', () => {
  it('tells Windows-1251 from UTF-8 by the bytes, even for a short Cyrillic sample', () => {
    expect(sniffCharset(iconv.encode(HEADER, 'win1251'))).toBe('windows-1251')
    expect(sniffCharset(iconv.encode('Фамилия;Имя\nЁлкин;Пётр\n', 'win1251'))).toBe('windows-1251')
    expect(sniffCharset(Buffer.from(HEADER, 'utf8'))).toBe('utf-8')
    // A sample cut in the middle of a two-byte letter is still UTF-8.
    expect(sniffCharset(Buffer.from(HEADER, 'utf8').subarray(0, 3))).toBe('utf-8')
  })

  it('decodes a UTF-8 letter split between two chunks, and drops the BOM', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(HEADER, 'utf8')])
    expect(await text([bytes.subarray(0, 4), bytes.subarray(4)])).toEqual({ charset: 'utf-8', out: HEADER })
  })

  it('honours a declared charset under its usual names', async () => {
    expect(await text([iconv.encode(HEADER, 'win1251')], 'cp1251')).toEqual({ charset: 'windows-1251', out: HEADER })
    expect(await text([iconv.encode(HEADER, 'koi8-r')], 'KOI8-R')).toEqual({ charset: 'koi8-r', out: HEADER })
  })

  it('refuses bytes that are not UTF-8 when UTF-8 was declared, an unknown charset and an empty body', async () => {
    await expect(text([iconv.encode(HEADER, 'win1251')], 'utf-8')).rejects.toMatchObject({ code: 'undecodable' })
    await expect(text([Buffer.from('a')], 'x-unknown')).rejects.toMatchObject({ code: 'unsupported_charset' })
    await expect(text([])).rejects.toMatchObject({ code: 'empty_file' })
  })
})

describe('id filter of the import', () => {
  it('never calls a repeated id new, and rarely calls a new id repeated', () => {
    const filter = new IdFilter()
    let falseRepeats = 0
    for (let i = 0; i < 200_000; i++) if (filter.addAndCheck(String(i * 7919))) falseRepeats++
    for (let i = 0; i < 200_000; i += 1000) expect(filter.addAndCheck(String(i * 7919))).toBe(true)
    expect(falseRepeats).toBeLessThan(5)
  })
})
