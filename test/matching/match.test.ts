import { describe, expect, it } from 'vitest'
import type { CardInput } from '../../src/directory/cards.js'
import { isStrongEvidence, matchUser } from '../../src/matching/match.js'
import type { MatchField, ReasonCode } from '../../src/matching/types.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'
import { card, hmacOf, person, personOf } from './fixtures.js'

/**
 * The link flow's question, persona by persona: the journal card the school typed, the person ЕСИА
 * verified, and what the person is told (outcome, reasons) and what support sees (evidence).
 */

const MARIA: CardInput = {
  id: 'maria', organization_id: 'school-1', role: 'parent',
  last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '12.03.1985', snils: '112-233-445 95',
}
// A pupil who logs in with the child account his parent created on Госуслуги.
const PETYA: CardInput = { ...MARIA, id: 'petya', role: 'student', last_name: 'Иванов', first_name: 'Пётр', middle_name: 'Сергеевич', birth_date: '01.09.2015', snils: '123-456-789 64' }
const ALL: MatchField[] = ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils']
const without = (...fields: MatchField[]) => ALL.filter((f) => !fields.includes(f))

interface Case {
  persona: string
  card: Partial<CardInput> & Pick<CardInput, 'last_name' | 'first_name'>
  person: VerifiedPerson
  outcome: 'matched' | 'rejected'
  reasons: ReasonCode[]
  evidence: MatchField[]
  /** Enough to link at login without the person doing anything. */
  strong: boolean
}

const cases: Case[] = [
  {
    persona: 'a confirmed parent whose card agrees exactly',
    card: MARIA, person: personOf(MARIA),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a parent whose ЕСИА names have ё and capitals while the school typed е',
    card: { ...MARIA, last_name: 'Федорова', first_name: 'Алена', middle_name: 'Семеновна' },
    person: personOf(MARIA, { lastName: 'ФЁДОРОВА', firstName: 'АЛЁНА', middleName: 'СЕМЁНОВНА' }),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a double surname typed with spaces around a dash in the journal, a hyphen in ЕСИА',
    card: { ...MARIA, last_name: 'Петрова – Водкина' },
    person: personOf(MARIA, { lastName: 'Петрова-Водкина' }),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a double surname with a non-breaking hyphen and a double space in ЕСИА',
    card: { ...MARIA, last_name: 'Петрова-Водкина', first_name: 'Анна Мария' },
    person: personOf(MARIA, { lastName: 'Петрова\u2011Водкина', firstName: 'Анна  Мария' }),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a person with no patronymic on either side',
    card: { ...MARIA, last_name: 'Ким', first_name: 'Виктор', middle_name: null },
    person: personOf(MARIA, { lastName: 'Ким', firstName: 'Виктор', middleName: null }),
    outcome: 'matched', reasons: [], evidence: without('middle_name'), strong: true,
  },
  {
    persona: 'a patronymic written «-» in the journal and absent in ЕСИА',
    card: { ...MARIA, middle_name: '-' },
    person: personOf(MARIA, { middleName: null }),
    outcome: 'matched', reasons: [], evidence: without('middle_name'), strong: true,
  },
  {
    persona: 'a patronymic written «нет» in the journal and empty in ЕСИА',
    card: { ...MARIA, middle_name: 'нет' },
    person: personOf(MARIA, { middleName: '' }),
    outcome: 'matched', reasons: [], evidence: without('middle_name'), strong: true,
  },
  {
    persona: 'a patronymic in ЕСИА that the journal lacks',
    card: { ...MARIA, middle_name: null },
    person: personOf(MARIA),
    outcome: 'rejected', reasons: ['mismatch:middle_name'], evidence: without('middle_name'), strong: false,
  },
  {
    persona: 'a typo in the journal surname',
    card: { ...MARIA, last_name: 'Иваонва' },
    person: personOf(MARIA),
    outcome: 'rejected', reasons: ['mismatch:last_name'], evidence: without('last_name'), strong: false,
  },
  {
    persona: 'a surname with a Latin «o» typed at school',
    card: { ...MARIA, last_name: 'Ивaнoвa' },
    person: personOf(MARIA),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a different birth date',
    card: { ...MARIA, birth_date: '21.03.1985' },
    person: personOf(MARIA),
    outcome: 'rejected', reasons: ['mismatch:birth_date'], evidence: without('birth_date'), strong: false,
  },
  {
    persona: 'a different SNILS',
    card: { ...MARIA, snils: '087-654-303 00' },
    person: personOf(MARIA),
    outcome: 'rejected', reasons: ['mismatch:snils'], evidence: without('snils'), strong: false,
  },
  {
    persona: 'a card without SNILS: the link still works on full name and birth date, auto-link cannot',
    card: { ...MARIA, snils: null },
    person: personOf(MARIA),
    outcome: 'matched', reasons: [], evidence: without('snils'), strong: false,
  },
  {
    persona: 'a card without birth date',
    card: { ...MARIA, birth_date: null },
    person: personOf(MARIA),
    outcome: 'matched', reasons: [], evidence: without('birth_date'), strong: false,
  },
  {
    persona: 'a person whose ЕСИА gave no SNILS (scope not granted)',
    card: MARIA,
    person: personOf(MARIA, { snils: null }),
    outcome: 'matched', reasons: [], evidence: without('snils'), strong: false,
  },
  {
    persona: 'a card whose SNILS fails its checksum: a school typo, never evidence, never a mismatch',
    card: { ...MARIA, snils: '112-233-445 94' },
    person: personOf(MARIA),
    outcome: 'matched', reasons: [], evidence: without('snils'), strong: false,
  },
  {
    persona: 'an ЕСИА test user with SNILS 000-000-600 06 (below the checksum threshold)',
    card: { ...MARIA, last_name: 'Фамилия006', first_name: 'Имя006', middle_name: 'Отчество006', birth_date: '26.05.2000', snils: '000-000-600 06' },
    person: person({ lastName: 'ФАМИЛИЯ006', firstName: 'ИМЯ006', middleName: 'ОТЧЕСТВО006', birthDate: '2000-05-26', snils: '000-000-600 06' }),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a simplified account (not confirmed): refused, data compared for support',
    card: MARIA,
    person: personOf(MARIA, { trusted: false, level: 'P', snils: null, birthDate: null, middleName: null }),
    outcome: 'rejected', reasons: ['untrusted_account', 'mismatch:middle_name'], evidence: ['last_name', 'first_name'], strong: false,
  },
  {
    persona: 'a standard account whose data all agree',
    card: MARIA,
    person: personOf(MARIA, { trusted: false, level: 'P' }),
    outcome: 'rejected', reasons: ['untrusted_account'], evidence: ALL, strong: false,
  },
  {
    persona: 'a pupil with a child account and the parent’s consent',
    card: PETYA, person: personOf(PETYA, { level: 'KD', trusted: false, childConsent: true, firstName: 'Петр' }),
    outcome: 'matched', reasons: [], evidence: ALL, strong: true,
  },
  {
    persona: 'a pupil with a child account and no consent yet: only the consent is named, no field is looked at',
    card: PETYA, person: personOf(PETYA, { level: 'KD', trusted: false, childConsent: false }),
    outcome: 'rejected', reasons: ['child_consent_required'], evidence: [], strong: false,
  },
  {
    persona: 'a pupil with a child account and no consent, whose data ЕСИА withheld (empty names): no mismatch is invented',
    card: PETYA,
    person: personOf(PETYA, { level: 'KD', trusted: false, childConsent: false, lastName: '', firstName: '', middleName: null, birthDate: null, snils: null }),
    outcome: 'rejected', reasons: ['child_consent_required'], evidence: [], strong: false,
  },
  {
    persona: 'a parent who pressed on the child’s card with her own Госуслуги: every differing field, in order',
    card: { ...MARIA, role: 'student', first_name: 'Дарья', middle_name: 'Сергеевна', birth_date: '01.09.2015', snils: '123-456-789 64' },
    person: personOf(MARIA),
    outcome: 'rejected', reasons: ['mismatch:first_name', 'mismatch:middle_name', 'mismatch:birth_date', 'mismatch:snils'], evidence: ['last_name'], strong: false,
  },
  {
    persona: 'an ЕСИА record with an empty first name',
    card: MARIA,
    person: personOf(MARIA, { firstName: '  ' }),
    outcome: 'rejected', reasons: ['mismatch:first_name'], evidence: without('first_name'), strong: false,
  },
]

describe('matchUser: the link flow over personas', () => {
  it.each(cases)('$persona', (c) => {
    const result = matchUser(card(c.card), c.person, { snilsHmac: hmacOf(c.person.snils) })
    expect(result).toEqual({ outcome: c.outcome, reasons: c.reasons, evidence: c.evidence })
    expect(isStrongEvidence(result)).toBe(c.strong)
  })

  it('never treats a rejected outcome as strong evidence, even with every field equal', () => {
    const result = matchUser(card(MARIA), personOf(MARIA, { trusted: false, level: 'P' }), { snilsHmac: hmacOf(MARIA.snils!) })
    expect(result.evidence).toEqual(ALL)
    expect(isStrongEvidence(result)).toBe(false)
  })

  it('judges a confirmed-level account by its trust flag, not by the level name', () => {
    const result = matchUser(card(MARIA), personOf(MARIA, { trusted: false, level: 'PR' }), { snilsHmac: hmacOf(MARIA.snils!) })
    expect(result.reasons).toEqual(['untrusted_account'])
  })
})
