import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CardInput } from '../../src/directory/cards.js'
import { matchUser } from '../../src/matching/match.js'
import { normalizeMiddleName, normalizeName } from '../../src/matching/normalize.js'
import { snilsCheckNumber } from '../../src/matching/snils.js'
import { MATCH_FIELDS, type MatchField } from '../../src/matching/types.js'
import { card, hmacOf, personOf } from './fixtures.js'

/**
 * Properties of matching that no table can cover: how the school types a name never changes the
 * outcome, and a change in one field always names exactly that field.
 */

const LETTERS = 'абвгдеёжзийклмнопрстуфхцчшщъыьэюя'
const DASHES = ['-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uFE58', '\uFE63', '\uFF0D']
const SPACES = ['', ' ', '  ', '\u00A0', '\t']

const word = fc.string({ unit: fc.constantFrom(...LETTERS), minLength: 2, maxLength: 12 })
/** A name as a passport has it: one word, or two joined by a hyphen or a space. */
const name = fc.oneof(
  { weight: 3, arbitrary: word },
  { weight: 1, arbitrary: fc.tuple(word, fc.constantFrom('-', ' '), word).map(([a, sep, b]) => `${a}${sep}${b}`) },
)

/** The same name as someone might type it: any case per letter, ё↔е, dash variants, stray spaces. */
const typedVariant = (canonical: string) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: canonical.length, maxLength: canonical.length }),
      fc.array(fc.boolean(), { minLength: canonical.length, maxLength: canonical.length }),
      fc.constantFrom(...DASHES),
      fc.constantFrom(...SPACES),
      fc.constantFrom(...SPACES),
      fc.constantFrom(...SPACES),
    )
    .map(([upper, yo, dash, around, lead, trail]) => {
      const chars = [...canonical].map((ch, i) => {
        let c = ch
        if (yo[i] && c === 'е') c = 'ё'
        else if (yo[i] && c === 'ё') c = 'е'
        if (c === '-') return `${around}${dash}${around}`
        if (c === ' ') return ` ${around}`
        return upper[i] ? c.toLocaleUpperCase('ru') : c
      })
      return `${lead}${chars.join('')}${trail}`
    })

const isoDay = fc.integer({ min: 0, max: 365 * 80 }).map((d) => new Date(Date.UTC(1950, 0, 1) + d * 86_400_000).toISOString().slice(0, 10))
/** A checksum-valid SNILS above the threshold, as `NNN-NNN-NNN NN`. */
const snils = fc.integer({ min: 1_001_999, max: 999_999_999 }).map((n) => {
  const first9 = String(n).padStart(9, '0')
  const check = String(snilsCheckNumber(first9)).padStart(2, '0')
  return `${first9.slice(0, 3)}-${first9.slice(3, 6)}-${first9.slice(6, 9)} ${check}`
})

const cardData = fc.record({
  last_name: name,
  first_name: name,
  middle_name: fc.option(name, { nil: null }),
  birth_date: fc.option(isoDay, { nil: null }),
  snils: fc.option(snils, { nil: null }),
})
type CardData = { last_name: string; first_name: string; middle_name: string | null; birth_date: string | null; snils: string | null }

const outcomeOf = (c: Partial<CardInput> & CardData, p: CardData) =>
  matchUser(card(c), personOf({ id: 'x', organization_id: 'o', role: 'parent', ...p }), { snilsHmac: hmacOf(p.snils) })

/** Does the field hold a value on this side (the thing the rules talk about)? */
const present = (d: CardData, field: MatchField): boolean =>
  ({
    last_name: normalizeName(d.last_name) !== '',
    first_name: normalizeName(d.first_name) !== '',
    middle_name: normalizeMiddleName(d.middle_name) !== null,
    birth_date: d.birth_date !== null,
    snils: d.snils !== null,
  })[field]

describe('normalisation', () => {
  it('is idempotent on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (raw) => {
        const once = normalizeName(raw)
        expect(normalizeName(once)).toBe(once)
        expect(normalizeMiddleName(normalizeMiddleName(raw))).toBe(normalizeMiddleName(raw))
      }),
      { numRuns: 2000 },
    )
  })

  it('is idempotent on Cyrillic names mixed with Latin look-alikes, dashes and spaces', () => {
    const messy = fc.string({ unit: fc.constantFrom(...LETTERS, ...'АВЕКМНОРСТХaceopxyABCEHKMOPTXYËë', ...DASHES, ...SPACES, '\u00AD', '\u200B'), maxLength: 30 })
    fc.assert(
      fc.property(messy, (raw) => {
        const once = normalizeName(raw)
        expect(normalizeName(once)).toBe(once)
      }),
      { numRuns: 2000 },
    )
  })

  it('maps every typed variant of a name to the same form', () => {
    fc.assert(
      fc.property(name.chain((n) => fc.tuple(fc.constant(n), typedVariant(n))), ([canonical, typed]) => {
        expect(normalizeName(typed)).toBe(normalizeName(canonical))
      }),
      { numRuns: 1000 },
    )
  })
})

describe('matchUser properties', () => {
  it('gives the same outcome however the school typed the names (case, ё/е, dashes, spaces)', () => {
    const scenario = cardData.chain((p) =>
      fc.record({
        p: fc.constant(p),
        last: typedVariant(p.last_name),
        first: typedVariant(p.first_name),
        middle: p.middle_name === null ? fc.constantFrom(null, '', '-', 'нет', ' – ') : typedVariant(p.middle_name),
      }),
    )
    fc.assert(
      fc.property(scenario, ({ p, last, first, middle }) => {
        const typed = outcomeOf({ ...p, last_name: last, first_name: first, middle_name: middle }, p)
        const exact = outcomeOf(p, p)
        expect(typed).toEqual(exact)
        expect(exact.outcome).toBe('matched')
      }),
      { numRuns: 500 },
    )
  })

  it('names exactly the field that changed, whichever side changed it', () => {
    const changed = (field: MatchField, p: CardData) => {
      switch (field) {
        case 'last_name':
        case 'first_name':
          return name.filter((v) => normalizeName(v) !== normalizeName(p[field])).map((v) => ({ ...p, [field]: v }))
        case 'middle_name':
          // Another patronymic, or one side only having one.
          return fc.option(name, { nil: null })
            .filter((v) => normalizeMiddleName(v) !== normalizeMiddleName(p.middle_name))
            .map((v) => ({ ...p, middle_name: v }))
        case 'birth_date':
          return isoDay.filter((v) => v !== p.birth_date).map((v) => ({ ...p, birth_date: v }))
        case 'snils':
          return snils.filter((v) => v !== p.snils).map((v) => ({ ...p, snils: v }))
      }
    }
    const scenario = fc
      .tuple(cardData, fc.constantFrom(...MATCH_FIELDS), fc.boolean())
      // Birth date and SNILS can only disagree where both sides have them.
      .map(([p, field, onCard]) => ({ p: { ...p, birth_date: p.birth_date ?? '1985-03-12', snils: p.snils ?? '112-233-445 95' }, field, onCard }))
      .chain(({ p, field, onCard }) => fc.record({ p: fc.constant(p), field: fc.constant(field), onCard: fc.constant(onCard), other: changed(field, p) }))
    fc.assert(
      fc.property(scenario, ({ p, field, onCard, other }) => {
        const result = onCard ? outcomeOf(other, p) : outcomeOf(p, other)
        expect(result.outcome).toBe('rejected')
        expect(result.reasons).toEqual([`mismatch:${field}`])
        expect(result.evidence).not.toContain(field)
      }),
      { numRuns: 1000 },
    )
  })

  it('accounts for every field: evidence and mismatches cover what the sides hold, nothing twice', () => {
    fc.assert(
      fc.property(cardData, cardData, (onCard, fromEsia) => {
        const result = outcomeOf(onCard, fromEsia)
        const mismatched = result.reasons.map((r) => r.replace('mismatch:', '') as MatchField)
        // Compared: fields both sides hold, plus names one side lacks (full name must agree).
        const compared = MATCH_FIELDS.filter((f) => {
          const both = present(onCard, f) && present(fromEsia, f)
          const isName = f === 'last_name' || f === 'first_name' || f === 'middle_name'
          return both || (isName && present(onCard, f) !== present(fromEsia, f))
        })
        expect([...result.evidence, ...mismatched].sort()).toEqual([...compared].sort())
        expect(result.evidence.filter((f) => mismatched.includes(f))).toEqual([])
        // Both lists keep the order of MATCH_FIELDS.
        expect(result.evidence).toEqual(MATCH_FIELDS.filter((f) => result.evidence.includes(f)))
        expect(mismatched).toEqual(MATCH_FIELDS.filter((f) => mismatched.includes(f)))
        expect(result.outcome).toBe(mismatched.length === 0 ? 'matched' : 'rejected')
      }),
      { numRuns: 1000 },
    )
  })
})
