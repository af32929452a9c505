/**
 * Name normalisation for matching (docs/matching.md, «Normalisation»). Journal cards are typed by hand at school,
 * ЕСИА data comes from passports: the same name arrives with different case, ё/е, dash variants,
 * stray spaces and Latin letters that look Cyrillic. Normalise both sides the same way, then
 * compare field by field.
 */

// Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign, small and
// full-width hyphen-minus.
const DASHES = /\s*[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uFE58\uFE63\uFF0D]\s*/g
// Zero-width characters and the soft hyphen come from copy-paste out of Word and web pages.
const INVISIBLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g
const CYRILLIC = /[\u0400-\u04FF]/

// Latin letters that render identically to Cyrillic ones, by case. Applied only inside a word that
// has Cyrillic letters, so a genuinely Latin name is left alone.
const LOOKALIKES: Record<string, string> = {
  A: 'А', B: 'В', C: 'С', E: 'Е', H: 'Н', K: 'К', M: 'М', O: 'О', P: 'Р', T: 'Т', X: 'Х', Y: 'У',
  a: 'а', c: 'с', e: 'е', o: 'о', p: 'р', x: 'х', y: 'у', k: 'к',
  Ë: 'Ё', ë: 'ё',
}
const LATIN_LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join('')}]`, 'g')

function cyrillicise(word: string): string {
  return CYRILLIC.test(word) ? word.replace(LATIN_LOOKALIKE, (ch) => LOOKALIKES[ch] ?? ch) : word
}

// The common case: Cyrillic letters only (precomposed, so already NFC), words joined by one space or
// hyphen. Such a name needs nothing but case and ё folded.
const PLAIN = /^[\u0410-\u044F\u0401\u0451]+(?:[ -][\u0410-\u044F\u0401\u0451]+)*$/
const HAS_INVISIBLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/
const HAS_LATIN_LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join('')}]`)

/**
 * Normalised form of one name part; '' when nothing is left.
 *
 * Runs for every card of a directory import (three names × millions of rows) and on every login, so
 * a plain Cyrillic name takes a short path, and the rare repairs (invisible characters, look-alike
 * letters) are done only when a cheap test finds something to repair. `toLowerCase()` is what `toLocaleLowerCase('ru')` does: Russian has no
 * locale-specific case rules (only Turkish, Azeri and Lithuanian do), and it is several times faster.
 */
export function normalizeName(raw: string | null | undefined): string {
  if (!raw) return ''
  if (PLAIN.test(raw)) {
    const lower = raw.toLowerCase()
    return lower.includes('ё') ? lower.replaceAll('ё', 'е') : lower
  }
  let name = raw.normalize('NFC')
  if (HAS_INVISIBLE.test(name)) name = name.replace(INVISIBLE, '')
  name = name.replace(/\s+/g, ' ').trim().replace(DASHES, '-')
  if (HAS_LATIN_LOOKALIKE.test(name) && CYRILLIC.test(name)) name = name.split(/([ -])/).map(cyrillicise).join('')
  return name.toLowerCase().replaceAll('ё', 'е').normalize('NFC')
}

const ABSENT_PATRONYMIC = new Set(['', '-', 'нет', 'отсутствует', 'н/д'])

/** A patronymic written as empty, «-» or «нет» means the person has none. */
export function normalizeMiddleName(raw: string | null | undefined): string | null {
  const name = normalizeName(raw)
  return ABSENT_PATRONYMIC.has(name) ? null : name
}

/** The patronymic was written, and what is written says the person has none («-», «нет»): not a gap to fill. */
export function statesNoMiddleName(raw: string | null | undefined): boolean {
  const name = normalizeName(raw)
  return name !== '' && ABSENT_PATRONYMIC.has(name)
}

export interface NormalizedFullName {
  lastName: string
  firstName: string
  middleName: string | null
}

export function normalizeFullName(name: { lastName: string; firstName: string; middleName?: string | null | undefined }): NormalizedFullName {
  return {
    lastName: normalizeName(name.lastName),
    firstName: normalizeName(name.firstName),
    middleName: normalizeMiddleName(name.middleName),
  }
}
