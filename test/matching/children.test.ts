import { describe, expect, it } from 'vitest'
import { matchChildren, relationLabel, type EsiaChild } from '../../src/matching/children.js'
import { childStateText, describeChildren } from '../../src/matching/messages.js'
import type { JournalUserForMatching } from '../../src/matching/types.js'
import type { VerifiedChild } from '../../src/upstream/types.js'
import { card, hmacOf } from './fixtures.js'

/**
 * A parent's children as ЕСИА lists them against the journal's children of the parent's cards
 * (src/matching/children.ts): the person's normalisation and field rules, strong evidence to
 * confirm, pairs found even when a field is wrong, and nothing of ЕСИА's side kept but a differing
 * birth date or SNILS HMAC.
 */
const child = (input: Parameters<typeof card>[0]): JournalUserForMatching => card({ role: 'student', ...input })
const esia = (k: Partial<VerifiedChild> & Pick<VerifiedChild, 'lastName' | 'firstName'>): EsiaChild => {
  const kid: VerifiedChild = { middleName: null, birthDate: null, snils: null, ...k }
  return { child: kid, snilsHmac: hmacOf(kid.snils) }
}

const misha = { last_name: 'Волков', first_name: 'Михаил', middle_name: 'Игоревич', birth_date: '15.01.2013', snils: '301-112-224 67' }
const mishaAtEsia = { lastName: 'Волков', firstName: 'Михаил', middleName: 'Игоревич', birthDate: '2013-01-15', snils: '30111222467' }

describe('a parent\'s children, journal against Госуслуги', () => {
  it('confirms a child whose SNILS, full name and birth date agree after normalisation (case, ё, dashes)', () => {
    const journal = child({ last_name: 'Федорова', first_name: 'Алена', middle_name: 'Петровна', birth_date: '21.10.2014', snils: '181-246-803 62' })
    const { verdicts, esiaOnly } = matchChildren([journal], [esia({ lastName: 'ФЁДОРОВА', firstName: 'Алёна', middleName: 'Петровна', birthDate: '2014-10-21', snils: '18124680362' })])
    expect(verdicts).toEqual([{ journalUserId: journal.id, state: 'confirmed', reasons: [], esiaBirthDate: null, esiaSnilsHmac: null }])
    expect(esiaOnly).toBe(0)
  })

  it('a typo in the journal: the pair is found and the differing field named, nothing of ЕСИА\'s names kept', () => {
    const journal = child({ ...misha, first_name: 'Михайл' })
    const [v] = matchChildren([journal], [esia(mishaAtEsia)]).verdicts
    expect(v).toEqual({ journalUserId: journal.id, state: 'mismatch', reasons: ['mismatch:first_name'], esiaBirthDate: null, esiaSnilsHmac: null })
  })

  it('a differing birth date or SNILS keeps ЕСИА\'s date, or the HMAC of ЕСИА\'s SNILS, for support', () => {
    const wrongDate = child({ ...misha, birth_date: '01.01.2013' })
    expect(matchChildren([wrongDate], [esia(mishaAtEsia)]).verdicts[0]).toMatchObject({ state: 'mismatch', reasons: ['mismatch:birth_date'], esiaBirthDate: '2013-01-15', esiaSnilsHmac: null })
    const wrongSnils = child({ ...misha, snils: '301-112-225 68' })
    expect(matchChildren([wrongSnils], [esia(mishaAtEsia)]).verdicts[0]).toMatchObject({ state: 'mismatch', reasons: ['mismatch:snils'], esiaBirthDate: null, esiaSnilsHmac: hmacOf('30111222467') })
  })

  it('a side without SNILS or birth date cannot confirm: missing, not mismatching', () => {
    const noSnils = child({ ...misha, snils: null })
    expect(matchChildren([noSnils], [esia(mishaAtEsia)]).verdicts[0]).toMatchObject({ state: 'mismatch', reasons: ['missing:snils'] })
    const journal = child(misha)
    expect(matchChildren([journal], [esia({ ...mishaAtEsia, snils: null, birthDate: null })]).verdicts[0]).toMatchObject({ state: 'mismatch', reasons: ['missing:birth_date', 'missing:snils'] })
    // kid_fullname not granted: the names are missing on ЕСИА's side, not wrong.
    expect(matchChildren([journal], [esia({ ...mishaAtEsia, lastName: '', firstName: '', middleName: null })]).verdicts[0]).toMatchObject({
      state: 'mismatch',
      reasons: ['mismatch:middle_name', 'missing:last_name', 'missing:first_name'],
    })
  })

  it('twins with a typo in one name each pair with the right twin', () => {
    const twin = { last_name: 'Волков', middle_name: 'Игоревич', birth_date: '15.01.2013' }
    const petya = child({ ...twin, first_name: 'Пётр', snils: null })
    const pasha = child({ ...twin, first_name: 'Павле', snils: null })
    const { verdicts, esiaOnly } = matchChildren([petya, pasha], [
      esia({ lastName: 'Волков', firstName: 'Павел', middleName: 'Игоревич', birthDate: '2013-01-15' }),
      esia({ lastName: 'Волков', firstName: 'Пётр', middleName: 'Игоревич', birthDate: '2013-01-15' }),
    ])
    expect(verdicts.map((v) => [v.state, v.reasons])).toEqual([
      ['mismatch', ['missing:snils']],
      ['mismatch', ['mismatch:first_name', 'missing:snils']],
    ])
    expect(esiaOnly).toBe(0)
  })

  it('a sibling is not taken for the child: the journal child is not in ЕСИА, the ЕСИА child is counted', () => {
    const stepson = child({ last_name: 'Волков', first_name: 'Денис', middle_name: 'Игоревич', birth_date: '30.10.2012', snils: '304-445-558 51' })
    const { verdicts, esiaOnly } = matchChildren([stepson], [esia(mishaAtEsia)])
    expect(verdicts).toEqual([{ journalUserId: stepson.id, state: 'not_in_esia', reasons: [], esiaBirthDate: null, esiaSnilsHmac: null }])
    expect(esiaOnly).toBe(1)
  })

  it('no children on Госуслуги at all: every journal child is not in ЕСИА', () => {
    expect(matchChildren([child(misha)], []).verdicts.map((v) => v.state)).toEqual(['not_in_esia'])
  })

  it('labels a state for exports: mismatch with its fields', () => {
    expect(relationLabel('mismatch', ['mismatch:first_name', 'missing:snils'])).toBe('mismatch:first_name,snils')
    expect(relationLabel('not_in_esia', [])).toBe('not_in_esia')
  })
})

describe('what the parent reads', () => {
  it('names each child\'s problem by field, never by value', () => {
    expect(childStateText('mismatch', ['mismatch:first_name', 'missing:snils'])).toBe('Не совпадает: имя. Не хватает данных: СНИЛС')
    expect(childStateText('not_in_esia', [])).toBe('Нет в разделе «Семья и дети» на Госуслугах')
    expect(childStateText('unchecked', [])).toBe('Не проверено')
  })

  it('says what to check at school and under «Семья и дети», once per kind of problem', () => {
    const messages = describeChildren([
      { state: 'mismatch', reasons: ['mismatch:first_name'] },
      { state: 'mismatch', reasons: ['mismatch:birth_date', 'missing:snils'] },
      { state: 'not_in_esia', reasons: [] },
      { state: 'unchecked', reasons: [] },
    ], false)
    expect(messages.map((m) => m.title)).toEqual(['Данные детей не совпадают', 'Ребёнка нет среди ваших детей на Госуслугах'])
    expect(messages[0]!.text).toBe('В журнале и на Госуслугах по-разному записаны: имя и дата рождения. Для подтверждения ФИО, дата рождения и СНИЛС ребёнка должны быть и в журнале, и на Госуслугах, а сейчас где-то не хватает: СНИЛС.')
    expect(messages[0]!.steps.join(' ')).toContain('раздел «Семья и дети»')
    expect(messages[0]!.steps.join(' ')).toContain('классного руководителя')
    expect(describeChildren([{ state: 'unchecked', reasons: [] }], true).map((m) => m.title)).toEqual(['Данные детей не переданы'])
  })
})
