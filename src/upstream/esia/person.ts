import { parseDate } from '../../matching/dates.js'
import { snilsDigits } from '../../matching/snils.js'
import { isObject } from '../http.js'
import type { PersonName, VerifiedChild } from '../types.js'

/**
 * `/rs/prns/{oid}` and `/kids` bodies (docs/esia.md, «Person data (`/rs/prns`)», «Children (`/kids`)») → our fields. Every field is optional
 * (it comes only with its scope); dates `dd.MM.yyyy` → 'YYYY-MM-DD', SNILS → 11 digits.
 */
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null)

export interface PersonData extends PersonName {
  birthDate: string | null
  snils: string | null
  /** ЕСИА's `trusted` on the person; null when absent. */
  trusted: boolean | null
}

export function personData(body: unknown): PersonData {
  const p = isObject(body) ? body : {}
  return {
    lastName: str(p.lastName) ?? '',
    firstName: str(p.firstName) ?? '',
    middleName: str(p.middleName),
    birthDate: parseDate(str(p.birthDate)),
    snils: snilsDigits(str(p.snils)),
    trusted: typeof p.trusted === 'boolean' ? p.trusted : null,
  }
}

export function childData(element: unknown): VerifiedChild | null {
  if (!isObject(element)) return null
  const { lastName, firstName, middleName, birthDate, snils } = personData(element)
  if (!lastName && !firstName && !birthDate && !snils) return null
  return { lastName, firstName, middleName, birthDate, snils }
}
