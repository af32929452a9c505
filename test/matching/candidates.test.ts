import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CardInput } from '../../src/directory/cards.js'
import { upsertCard, upsertOrganization } from '../../src/directory/cards.js'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { findCandidates, loadCardForMatching } from '../../src/matching/candidates.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { card, hmacOf, personOf } from './fixtures.js'

/**
 * Login through Госуслуги by someone with no link yet: which journal cards are theirs by strong
 * evidence, and what their page explains when none is.
 */

const card$ = (id: string, org: string, role: string, data: Omit<CardInput, 'id' | 'organization_id' | 'role'>): CardInput => ({ id, organization_id: org, role, ...data })

// A mother with children in two schools; she also teaches at the first one.
const OLGA = { last_name: 'Смирнова', first_name: 'Ольга', middle_name: 'Николаевна', birth_date: '04.11.1983', snils: '901-144-044 41' }
// Two cards of one father in one school and role: a duplicate the school must merge.
const DMITRY = { last_name: 'Козлов', first_name: 'Дмитрий', middle_name: 'Андреевич', birth_date: '15.06.1980', snils: '640-717-442 82' }
// The journal misspelt her surname.
const ELENA = { last_name: 'Воробъёва', first_name: 'Елена', middle_name: 'Игоревна', birth_date: '30.01.1990', snils: '156-573-259 92' }
// The school has not entered his birth date.
const IGOR = { last_name: 'Орлов', first_name: 'Игорь', middle_name: 'Олегович', birth_date: null, snils: '087-654-303 00' }
// A pupil; she logs in with her child account.
const SONYA = { last_name: 'Петрова-Водкина', first_name: 'Софья', middle_name: 'Алексеевна', birth_date: '01.09.2014', snils: '123-456-789 64' }
// The journal card has no SNILS at all.
const ANNA = { last_name: 'Лебедева', first_name: 'Анна', middle_name: null, birth_date: '02.02.1992', snils: null }
// ЕСИА test user from the sandbox range.
const TEST006 = { last_name: 'Фамилия006', first_name: 'Имя006', middle_name: 'Отчество006', birth_date: '26.05.2000', snils: '000-000-600 06' }
// Her card is already linked to another ЕСИА account.
const VERA = { last_name: 'Зайцева', first_name: 'Вера', middle_name: 'Павловна', birth_date: '09.09.1979', snils: '112-233-445 95' }

const CARDS: CardInput[] = [
  card$('olga-parent-1', 'school-1', 'parent', OLGA),
  card$('olga-staff-1', 'school-1', 'staff', OLGA),
  card$('olga-parent-2', 'school-2', 'parent', OLGA),
  card$('dmitry-a', 'school-1', 'parent', DMITRY),
  card$('dmitry-b', 'school-1', 'parent', DMITRY),
  card$('dmitry-c', 'school-2', 'parent', DMITRY),
  card$('elena', 'school-1', 'parent', { ...ELENA, last_name: 'Воробьева' }),
  card$('igor', 'school-2', 'parent', IGOR),
  card$('sonya', 'school-1', 'student', { ...SONYA, last_name: 'Петрова – Водкина' }),
  card$('anna', 'school-1', 'parent', ANNA),
  card$('test006', 'school-2', 'parent', TEST006),
  card$('vera', 'school-1', 'parent', VERA),
]

const esia = (data: Omit<CardInput, 'id' | 'organization_id' | 'role'>, extra: Partial<VerifiedPerson> = {}) =>
  personOf({ id: '', organization_id: '', role: '', ...data }, { subject: `oid-${data.last_name}`, ...extra })

describe('findCandidates: first login through Госуслуги', () => {
  let db: TestDatabase
  const find = (p: VerifiedPerson) => findCandidates(db.pool, p, { snilsHmac: hmacOf(p.snils) })

  beforeAll(async () => {
    db = await createTestDatabase()
    await upsertOrganization(db.pool, { id: 'school-1', name: 'Школа № 1', kind: 'school' })
    await upsertOrganization(db.pool, { id: 'school-2', name: 'Гимназия № 2', kind: 'school' })
    for (const c of CARDS) await upsertCard(db.pool, card(c))
    await withTransaction(db.pool, (tx) =>
      saveLink(tx, { journalUserId: 'vera', upstreamSubject: 'oid-someone-else', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: 'oid-someone-else' } }),
    )
  })
  afterAll(async () => db?.drop())

  it('offers a mother her cards in two schools and her staff card: one candidate per organisation and role', async () => {
    const result = await find(esia(OLGA, { lastName: 'СМИРНОВА', firstName: 'ОЛЬГА', middleName: 'НИКОЛАЕВНА' }))
    expect(result.candidates.map((c) => [c.journalUserId, c.organizationName, c.role])).toEqual([
      ['olga-parent-1', 'Школа № 1', 'parent'],
      ['olga-staff-1', 'Школа № 1', 'staff'],
      ['olga-parent-2', 'Гимназия № 2', 'parent'],
    ])
    expect(result.candidates.every((c) => c.evidence.length === 5 && !c.linkedToSubject)).toBe(true)
    expect(result.rejections).toEqual([])
    expect(result.reasons).toEqual([])
  })

  it('never picks one of two cards in the same school and role, but still offers the other school', async () => {
    const result = await find(esia(DMITRY))
    expect(result.candidates.map((c) => c.journalUserId)).toEqual(['dmitry-c'])
    expect(result.rejections).toEqual([
      { organizationId: 'school-1', organizationName: 'Школа № 1', role: 'parent', journalUserIds: ['dmitry-a', 'dmitry-b'], reasons: ['ambiguous'], missing: [] },
    ])
    expect(result.reasons).toEqual(['ambiguous'])
  })

  it('tells a parent whose surname the school misspelt which field differs', async () => {
    const result = await find(esia(ELENA))
    expect(result.candidates).toEqual([])
    expect(result.rejections).toMatchObject([{ journalUserIds: ['elena'], reasons: ['mismatch:last_name'] }])
    expect(result.reasons).toEqual(['mismatch:last_name'])
  })

  it('does not auto-link a card without birth date, and tells support what is missing', async () => {
    const result = await find(esia({ ...IGOR, birth_date: '1978-07-07' }))
    expect(result.candidates).toEqual([])
    expect(result.rejections).toMatchObject([{ journalUserIds: ['igor'], reasons: ['not_found'], missing: ['birth_date'] }])
    expect(result.reasons).toEqual(['not_found'])
  })

  it('links a pupil’s child account given the parent’s consent, double surname typed with a dash', async () => {
    const result = await find(esia(SONYA, { level: 'KD', trusted: false, childConsent: true }))
    expect(result.candidates.map((c) => [c.journalUserId, c.role])).toEqual([['sonya', 'student']])
  })

  it('refuses a child account without consent before looking at the journal', async () => {
    const result = await find(esia(SONYA, { level: 'KD', trusted: false, childConsent: false }))
    expect(result).toEqual({ candidates: [], rejections: [], reasons: ['child_consent_required'] })
  })

  it('refuses a standard account, revealing nothing about the journal', async () => {
    const result = await find(esia(OLGA, { level: 'P', trusted: false }))
    expect(result).toEqual({ candidates: [], rejections: [], reasons: ['untrusted_account'] })
  })

  it('cannot find a person whose card has no SNILS (the journal’s link button still works)', async () => {
    const result = await find(esia(ANNA, { snils: '087-654-302 00' }))
    expect(result).toEqual({ candidates: [], rejections: [], reasons: ['not_found'] })
    const annaCard = await loadCardForMatching(db.pool, 'anna')
    expect(annaCard).toMatchObject({ snilsHmac: null, birthDate: '1992-02-02', normMiddleName: null })
  })

  it('finds an ЕСИА sandbox user with SNILS 000-000-600 06', async () => {
    const result = await find(esia(TEST006, { lastName: 'ФАМИЛИЯ006', firstName: 'ИМЯ006', middleName: 'ОТЧЕСТВО006' }))
    expect(result.candidates.map((c) => c.journalUserId)).toEqual(['test006'])
  })

  it('says not_found for a person the journal does not know, and for ЕСИА without SNILS', async () => {
    expect(await find(esia({ last_name: 'Новикова', first_name: 'Ирина', middle_name: null, birth_date: '1995-05-05', snils: '000-000-600 09' }))).toEqual({
      candidates: [],
      rejections: [],
      reasons: ['not_found'],
    })
    expect((await find(esia({ ...OLGA, snils: null }))).reasons).toEqual(['not_found'])
  })

  it('never moves a card linked to another ЕСИА account, and recognises its own link', async () => {
    const result = await find(esia(VERA))
    expect(result.candidates).toEqual([])
    expect(result.rejections).toMatchObject([{ journalUserIds: ['vera'], reasons: ['already_linked_elsewhere'] }])

    const owner = await find(esia(VERA, { subject: 'oid-someone-else' }))
    expect(owner.candidates).toMatchObject([{ journalUserId: 'vera', linkedToSubject: true }])
  })

  it('reads a card for the link flow, and nothing for a card the journal deleted', async () => {
    const olga = await loadCardForMatching(db.pool, 'olga-parent-2')
    expect(olga).toMatchObject({ id: 'olga-parent-2', organizationId: 'school-2', role: 'parent', normLastName: 'смирнова', birthDate: '1983-11-04', snilsValid: true })
    expect(olga?.snilsHmac?.equals(hmacOf(OLGA.snils)!)).toBe(true)
    expect(await loadCardForMatching(db.pool, 'no-such-card')).toBeUndefined()
  })
})
