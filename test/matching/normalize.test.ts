import { describe, expect, it } from 'vitest'
import { parseDate } from '../../src/matching/dates.js'
import { normalizeMiddleName, normalizeName } from '../../src/matching/normalize.js'

describe('name normalisation', () => {
  it.each([
    ['  Фёдоров ', 'федоров'],
    ['ФЁДОРОВ', 'федоров'],
    ['Петрова - Водкина', 'петрова-водкина'],
    ['Петрова—Водкина', 'петрова-водкина'],
    ['Петрова\u2011Водкина', 'петрова-водкина'],
    ['Анна  Мария', 'анна мария'],
    ['Иванoв', 'иванов'], // Latin o
    ['CЕРГЕЙ', 'сергей'], // Latin C
    ['Maria', 'maria'], // a Latin word stays Latin
    ['Е\u0308лкин', 'елкин'], // decomposed Ё
    ['Ива\u00ADнов', 'иванов'], // soft hyphen
  ])('%j → %j', (raw, normalized) => {
    expect(normalizeName(raw)).toBe(normalized)
  })

  it.each(['', '-', 'нет', 'НЕТ', ' – ', null, undefined])('treats patronymic %j as absent', (raw) => {
    expect(normalizeMiddleName(raw)).toBeNull()
  })
})

describe('dates', () => {
  it.each([
    ['01.09.2015', '2015-09-01'],
    ['1.9.2015', '2015-09-01'],
    ['2015-09-01', '2015-09-01'],
    ['29.02.2016', '2016-02-29'],
  ])('%s → %s', (raw, iso) => {
    expect(parseDate(raw)).toBe(iso)
  })

  it.each(['29.02.2015', '31.04.2010', '2015-13-01', '01/09/2015', '', 'вчера'])('rejects %j', (raw) => {
    expect(parseDate(raw)).toBeNull()
  })
})
