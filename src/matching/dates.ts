/**
 * Birth dates are calendar days: kept as 'YYYY-MM-DD' strings end to end, never as JS Dates
 * (a Date in a UTC+3 zone turns 01.09.2015 into 31.08.2015 somewhere along the way).
 */

function isRealDay(y: number, m: number, d: number): boolean {
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  return d <= days[m - 1]!
}

function iso(y: number, m: number, d: number): string | null {
  return isRealDay(y, m, d) ? `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}` : null
}

/** ЕСИА's `dd.MM.yyyy` (also what schools type) or ISO `YYYY-MM-DD`; null if neither or not a real day. */
export function parseDate(raw: string | null | undefined): string | null {
  if (!raw) return null
  const s = raw.trim()
  let m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(s)
  if (m) return iso(Number(m[3]), Number(m[2]), Number(m[1]))
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s)
  if (m) return iso(Number(m[1]), Number(m[2]), Number(m[3]))
  return null
}

/** 'YYYY-MM-DD' → 'ДД.ММ.ГГГГ', the form people read. */
export function formatDateRu(isoDate: string): string {
  const [y, m, d] = isoDate.split('-')
  return `${d}.${m}.${y}`
}
