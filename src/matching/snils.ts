import { createHmac } from 'node:crypto'

/**
 * SNILS (страховой номер индивидуального лицевого счёта). Rules from the ПФР instruction
 * (docs/matching.md, «Normalisation»): 9 digits + 2 check digits; check number = weighted sum (weights 9…1)
 * with sum < 100 → sum, 100/101 → 00, else sum mod 101 (100 → 00); checked only above 001-001-998,
 * so the ЕСИА test range 000-000-600 xx is accepted as is.
 */

/** The 11 digits of a SNILS written with any separators, or null if it is not 11 digits. */
export function snilsDigits(raw: string | null | undefined): string | null {
  if (raw == null) return null
  const trimmed = raw.trim()
  if (trimmed === '') return null
  // Only digits and the separators people use: '-', spaces (incl. NBSP), '.', '_' and '/'.
  if (!/^[\d\s\-._/\u00A0\u2010-\u2015\u2212]+$/.test(trimmed)) return null
  const digits = trimmed.replace(/\D/g, '')
  return digits.length === 11 ? digits : null
}

const CHECK_THRESHOLD = 1_001_998

export function snilsCheckNumber(first9: string): number {
  let sum = 0
  for (let i = 0; i < 9; i++) sum += (first9.charCodeAt(i) - 48) * (9 - i)
  if (sum < 100) return sum
  if (sum === 100 || sum === 101) return 0
  const rest = sum % 101
  return rest === 100 ? 0 : rest
}

/** Checksum rule on 11 digits; numbers up to 001-001-998 are not checked. */
export function snilsChecksumValid(digits: string): boolean {
  if (!/^\d{11}$/.test(digits)) return false
  if (Number(digits.slice(0, 9)) <= CHECK_THRESHOLD) return true
  return snilsCheckNumber(digits.slice(0, 9)) === Number(digits.slice(9))
}

export type SnilsParse =
  | { kind: 'absent' }
  | { kind: 'malformed' }
  | { kind: 'ok'; digits: string; checksumValid: boolean }

export function parseSnils(raw: string | null | undefined): SnilsParse {
  if (raw == null || raw.trim() === '') return { kind: 'absent' }
  const digits = snilsDigits(raw)
  if (!digits) return { kind: 'malformed' }
  return { kind: 'ok', digits, checksumValid: snilsChecksumValid(digits) }
}

/** The only form in which a SNILS is stored or compared: HMAC-SHA256 of its 11 digits. */
export function snilsHmac(key: string, digits: string): Buffer {
  return createHmac('sha256', key).update(digits).digest()
}

/** `NNN-NNN-NNN NN`, for display of a SNILS the person typed themselves (never a stored one). */
export function formatSnils(digits: string): string {
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)} ${digits.slice(9)}`
}
