import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findCandidates, loadCardForMatching } from '../../src/matching/candidates.js'
import { parseDate } from '../../src/matching/dates.js'
import { isStrongEvidence, matchUser } from '../../src/matching/match.js'
import { describeReasons } from '../../src/matching/messages.js'
import type { MatchField, ReasonCode } from '../../src/matching/types.js'
import { loadPersonas, personaById, type Persona } from '../../src/mock-idp/personas.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { SNILS_KEY, hmacOf } from './fixtures.js'

/**
 * The mock ЕСИА's people (src/mock-idp/personas.json) against the demo journal's cards
 * (demo-directory.json, with the data errors schools make): what each person gets when linking
 * each of their cards, and when logging in for the first time.
 */

/** The person as an adapter hands it over: ISO birth date, SNILS digits (docs/esia.md, «Person data (`/rs/prns`)»). */
function verified(p: Persona): VerifiedPerson {
  return {
    subject: String(p.oid),
    issuer: 'http://esia-mock.test/',
    trusted: p.trusted,
    level: p.level,
    childConsent: p.childConsent ?? false,
    lastName: p.lastName,
    firstName: p.firstName,
    middleName: p.middleName ?? null,
    birthDate: parseDate(p.birthDate),
    snils: p.snils ? p.snils.replace(/\D/g, '') : null,
    authMethods: ['PWD'],
    authTime: null,
  }
}

const ALL: MatchField[] = ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils']
const without = (...fields: MatchField[]) => ALL.filter((f) => !fields.includes(f))

interface LinkCase {
  persona: string
  card: string
  reasons: ReasonCode[]
  evidence: MatchField[]
  strong: boolean
}

const LINKS: LinkCase[] = [
  { persona: 'parent-two-schools', card: 'u1001', reasons: [], evidence: ALL, strong: true },
  { persona: 'parent-two-schools', card: 'u1002', reasons: [], evidence: ALL, strong: true }, // SNILS typed without separators
  { persona: 'teacher-parent', card: 'u1101', reasons: [], evidence: ALL, strong: true },
  { persona: 'teacher-parent', card: 'u1102', reasons: [], evidence: ALL, strong: true },
  { persona: 'standard-account', card: 'u1201', reasons: ['untrusted_account'], evidence: ALL, strong: false },
  { persona: 'simplified-account', card: 'u1301', reasons: ['untrusted_account'], evidence: ['last_name', 'first_name', 'middle_name'], strong: false },
  { persona: 'child-with-consent', card: 'u2001', reasons: [], evidence: ALL, strong: true },
  { persona: 'child-without-consent', card: 'u2002', reasons: ['child_consent_required'], evidence: [], strong: false }, // no consent: the child's data is not looked at
  { persona: 'name-with-yo', card: 'u1401', reasons: [], evidence: ALL, strong: true },
  { persona: 'double-surname', card: 'u1501', reasons: [], evidence: ALL, strong: true },
  { persona: 'no-patronymic', card: 'u1601', reasons: [], evidence: without('middle_name'), strong: true },
  { persona: 'journal-typo', card: 'u1701', reasons: ['mismatch:last_name'], evidence: without('last_name'), strong: false },
  { persona: 'shared-snils', card: 'u1801', reasons: [], evidence: ALL, strong: true },
  { persona: 'no-snils-in-journal', card: 'u1901', reasons: [], evidence: without('snils'), strong: false },
  { persona: 'esia-test-snils', card: 'u2901', reasons: [], evidence: ALL, strong: true },
  { persona: 'declines', card: 'u2101', reasons: [], evidence: ALL, strong: true }, // had they not declined at ЕСИА
  // Parents whose children are the point (test/flows/guardians.test.ts): each links as themselves.
  { persona: 'parent-two-children', card: 'u3001', reasons: [], evidence: ALL, strong: true },
  { persona: 'parent-child-typo', card: 'u3101', reasons: [], evidence: ALL, strong: true },
  { persona: 'parent-child-not-in-journal', card: 'u3201', reasons: [], evidence: ALL, strong: true },
  { persona: 'parent-journal-child-not-in-esia', card: 'u3301', reasons: [], evidence: ALL, strong: true },
  { persona: 'parent-declines-kids', card: 'u3401', reasons: [], evidence: ALL, strong: true },
]

interface LoginCase {
  persona: string
  candidates: string[]
  reasons: ReasonCode[]
}

const LOGINS: LoginCase[] = [
  { persona: 'parent-two-schools', candidates: ['u1002', 'u1001'], reasons: [] }, // gymnasium-3 sorts before school-12
  { persona: 'teacher-parent', candidates: ['u1102', 'u1101'], reasons: [] },
  { persona: 'standard-account', candidates: [], reasons: ['untrusted_account'] },
  { persona: 'simplified-account', candidates: [], reasons: ['untrusted_account'] },
  { persona: 'child-with-consent', candidates: ['u2001'], reasons: [] },
  { persona: 'child-without-consent', candidates: [], reasons: ['child_consent_required'] },
  { persona: 'name-with-yo', candidates: ['u1401'], reasons: [] },
  { persona: 'double-surname', candidates: ['u1501'], reasons: [] },
  { persona: 'no-patronymic', candidates: ['u1601'], reasons: [] },
  { persona: 'journal-typo', candidates: [], reasons: ['mismatch:last_name'] },
  { persona: 'shared-snils', candidates: [], reasons: ['ambiguous'] },
  { persona: 'no-snils-in-journal', candidates: [], reasons: ['not_found'] },
  { persona: 'esia-test-snils', candidates: ['u2901'], reasons: [] },
  { persona: 'unknown-to-journal', candidates: [], reasons: ['not_found'] },
]

describe('mock ЕСИА personas against the demo journal', () => {
  let db: TestDatabase

  beforeAll(async () => {
    db = await createTestDatabase()
    await seedDemoDirectory(db.pool, SNILS_KEY)
  })
  afterAll(async () => db?.drop())

  it('covers every persona of the mock', () => {
    const covered = new Set([...LINKS, ...LOGINS].map((c) => c.persona))
    expect(loadPersonas().map((p) => p.id).filter((id) => !covered.has(id))).toEqual([])
  })

  it.each(LINKS)('link: $persona presses the button on card $card', async (c) => {
    const person = verified(personaById(c.persona))
    const card = await loadCardForMatching(db.pool, c.card)
    const outcome = matchUser(card!, person, { snilsHmac: hmacOf(person.snils) })
    expect(outcome).toEqual({ outcome: c.reasons.length ? 'rejected' : 'matched', reasons: c.reasons, evidence: c.evidence })
    expect(isStrongEvidence(outcome)).toBe(c.strong)
  })

  it('link: a husband pressing the button on the card carrying his SNILS by mistake learns which fields differ', async () => {
    const person = verified(personaById('shared-snils'))
    const outcome = matchUser((await loadCardForMatching(db.pool, 'u1802'))!, person, { snilsHmac: hmacOf(person.snils) })
    expect(outcome.reasons).toEqual(['mismatch:last_name', 'mismatch:first_name', 'mismatch:middle_name', 'mismatch:birth_date'])
    const [message] = describeReasons(outcome.reasons, 'link')
    expect(message?.text).toBe('В журнале и на Госуслугах по-разному записаны: фамилия, имя, отчество и дата рождения. Поэтому мы не связали учётные записи.')
  })

  it.each(LOGINS)('login: $persona logs in for the first time', async (c) => {
    const person = verified(personaById(c.persona))
    const result = await findCandidates(db.pool, person, { snilsHmac: hmacOf(person.snils) })
    expect(result.candidates.map((x) => x.journalUserId)).toEqual(c.candidates)
    expect(result.reasons).toEqual(c.reasons)
  })
})
