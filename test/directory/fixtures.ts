import iconv from 'iconv-lite'
import { snilsCheckNumber } from '../../src/matching/snils.js'
import { BOOTSTRAP_TOKEN, journalBasicAuth, type TestApp } from '../helpers/app.js'

/** A SNILS with correct check digits, from its first nine digits; `NNN-NNN-NNN NN`. */
export function snils(first9: string): string {
  const check = String(snilsCheckNumber(first9)).padStart(2, '0')
  return `${first9.slice(0, 3)}-${first9.slice(3, 6)}-${first9.slice(6, 9)} ${check}`
}
/** The same number with its check digits off by one. */
export function badSnils(first9: string): string {
  const check = String((snilsCheckNumber(first9) + 1) % 100).padStart(2, '0')
  return `${first9.slice(0, 3)}-${first9.slice(3, 6)}-${first9.slice(6, 9)} ${check}`
}
export const digitsOf = (s: string) => s.replace(/\D/g, '')

export const journal = { authorization: journalBasicAuth() }
export const bootstrap = { authorization: `Bearer ${BOOTSTRAP_TOKEN}` }

export async function putOrganization(t: TestApp, id: string, name = `Школа ${id}`, kind = 'school') {
  const res = await t.app.inject({ method: 'PUT', url: `/api/v1/directory/organizations/${id}`, headers: journal, payload: { name, kind } })
  if (res.statusCode >= 300) throw new Error(`organization ${id}: ${res.statusCode} ${res.body}`)
}

export const CSV_HEADER = 'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор'
export const csv = (...rows: string[]) => [CSV_HEADER, ...rows].join('\r\n') + '\r\n'
export const cp1251 = (text: string) => iconv.encode(text, 'win1251')

export async function importFile(
  t: TestApp,
  body: string | Buffer,
  opts: { contentType?: string; query?: string; headers?: Record<string, string> } = {},
) {
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/directory/import${opts.query ? `?${opts.query}` : ''}`,
    headers: { ...journal, 'content-type': opts.contentType ?? 'text/csv', ...opts.headers },
    payload: body,
  })
}

export async function cardsOf(t: TestApp, organizationId?: string) {
  const { rows } = await t.db.pool.query(
    `SELECT id, organization_id, role, last_name, first_name, middle_name, birth_date, snils_present, snils_valid, norm_last_name
     FROM journal_users ${organizationId ? 'WHERE organization_id = $1' : ''} ORDER BY id`,
    organizationId ? [organizationId] : [],
  )
  return rows as { id: string; organization_id: string; role: string; last_name: string; first_name: string; middle_name: string | null; birth_date: string | null; snils_present: boolean; snils_valid: boolean; norm_last_name: string }[]
}
