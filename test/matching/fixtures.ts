import { parseDate } from '../../src/matching/dates.js'
import { validateCard, type CardInput, type CardRow } from '../../src/directory/cards.js'
import { snilsDigits, snilsHmac } from '../../src/matching/snils.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'

/** Cards and ЕСИА persons for matching scenarios, built through the same rules production uses. */

// Matching never sees the key (the caller passes HMACs), so these tests keep their own.
export const SNILS_KEY = 'matching-test-snils-hmac-key-0123456789abcdef'

/** HMAC of a SNILS as the login flow computes it once per login (null when ЕСИА gave none). */
export const hmacOf = (snils: string | null): Buffer | null => {
  const digits = snils && snilsDigits(snils)
  return digits ? snilsHmac(SNILS_KEY, digits) : null
}

let nextCard = 1

/** A journal card as the school typed it, validated like the directory API does. */
export function card(input: Partial<CardInput> & Pick<CardInput, 'last_name' | 'first_name'>): CardRow {
  const v = validateCard(
    { id: `card-${nextCard++}`, organization_id: 'school-1', role: 'parent', ...input },
    { snilsKey: SNILS_KEY, keepInvalidSnils: true },
  )
  if (!v.ok) throw new Error(`fixture card refused: ${v.rejection.code}`)
  return v.row
}

/** A verified ЕСИА person; confirmed adult by default. `snils` as ЕСИА writes it (`NNN-NNN-NNN NN`). */
export function person(p: Partial<VerifiedPerson> & Pick<VerifiedPerson, 'lastName' | 'firstName'>): VerifiedPerson {
  return {
    subject: '1000001',
    issuer: 'http://esia-mock.test/',
    trusted: true,
    level: 'PR',
    childConsent: false,
    middleName: null,
    birthDate: null,
    snils: null,
    authMethods: ['PWD'],
    authTime: null,
    ...p,
  }
}

/** The card's twin on the ЕСИА side: same person, data exactly as on the card. */
export function personOf(c: CardInput, extra: Partial<VerifiedPerson> = {}): VerifiedPerson {
  return person({
    lastName: c.last_name,
    firstName: c.first_name,
    middleName: c.middle_name ?? null,
    birthDate: parseDate(c.birth_date),
    snils: c.snils ?? null,
    ...extra,
  })
}
