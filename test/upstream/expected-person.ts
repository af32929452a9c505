import { parseDate } from '../../src/matching/dates.js'
import { snilsDigits } from '../../src/matching/snils.js'
import type { Persona } from '../../src/mock-idp/index.js'
import type { VerifiedPerson } from '../../src/upstream/index.js'

/** What an adapter should make of a persona: the fixture's data in our formats. */
export function expectedPerson(p: Persona, opts: { kids: boolean; esia: boolean }): Partial<VerifiedPerson> {
  const withheld = p.level === 'KD' && !p.childConsent && opts.esia
  return {
    subject: String(p.oid),
    trusted: p.trusted,
    level: opts.esia ? p.level : p.trusted ? 'PR' : 'P',
    childConsent: !withheld,
    lastName: withheld ? '' : p.lastName,
    firstName: withheld ? '' : p.firstName,
    middleName: withheld ? null : (p.middleName ?? null),
    birthDate: withheld ? null : parseDate(p.birthDate),
    snils: withheld ? null : snilsDigits(p.snils),
    ...(opts.kids && !withheld
      ? { kids: (p.kids ?? []).map((k) => ({ lastName: k.lastName, firstName: k.firstName, middleName: k.middleName ?? null, birthDate: parseDate(k.birthDate), snils: snilsDigits(k.snils) })) }
      : {}),
  }
}
