import type { Queryable } from '../db/pool.js'
import { parseDate } from '../matching/dates.js'
import { normalizeMiddleName, normalizeName } from '../matching/normalize.js'
import { parseSnils, snilsHmac } from '../matching/snils.js'

/**
 * One journal card as the journal sends it (API body, NDJSON line, CSV row after header mapping),
 * and its validation into a database row. Shared by the directory API, the batch import and test
 * fixtures, so every path applies the same rules.
 */
export const ROLES = ['parent', 'student', 'staff', 'admin'] as const
export type Role = (typeof ROLES)[number]

/** Role codes and the Russian names schools use in exports (DESIGN.md §Directory). */
const ROLE_NAMES: Record<string, Role> = {
  parent: 'parent', student: 'student', staff: 'staff', admin: 'admin',
  родитель: 'parent', 'законный представитель': 'parent',
  обучающийся: 'student', обучающаяся: 'student', ученик: 'student', ученица: 'student',
  сотрудник: 'staff', учитель: 'staff', педагог: 'staff',
  администратор: 'admin',
}

export function parseRole(raw: string | null | undefined): Role | null {
  if (!raw) return null
  return ROLE_NAMES[raw.trim().toLocaleLowerCase('ru').replaceAll('ё', 'е')] ?? null
}

export interface CardInput {
  id: string
  organization_id: string
  role: string
  last_name: string
  first_name: string
  middle_name?: string | null
  birth_date?: string | null
  snils?: string | null
}

export interface CardRow {
  id: string
  organizationId: string
  role: Role
  lastName: string
  firstName: string
  middleName: string | null
  birthDate: string | null
  snilsHmac: Buffer | null
  snilsPresent: boolean
  snilsValid: boolean
  normLastName: string
  normFirstName: string
  normMiddleName: string | null
}

/** Why a card is refused. Codes are stable (API and import reports); messages are for operators. */
export type CardRejection =
  | { code: 'missing_id'; message: string }
  | { code: 'missing_organization'; message: string }
  | { code: 'unknown_role'; message: string }
  | { code: 'missing_last_name'; message: string }
  | { code: 'missing_first_name'; message: string }
  | { code: 'invalid_birth_date'; message: string }
  | { code: 'invalid_snils'; message: string }
  | { code: 'snils_checksum'; message: string }

export interface CardOptions {
  snilsKey: string
  /** Keep a card whose SNILS fails the checksum (flagged invalid) instead of refusing it. */
  keepInvalidSnils?: boolean
}

const text = (v: string | null | undefined): string => (v ?? '').normalize('NFC').replace(/\s+/g, ' ').trim()

export function validateCard(input: CardInput, opts: CardOptions): { ok: true; row: CardRow } | { ok: false; rejection: CardRejection } {
  const id = text(input.id)
  if (!id) return { ok: false, rejection: { code: 'missing_id', message: 'id is empty' } }
  const organizationId = text(input.organization_id)
  if (!organizationId) return { ok: false, rejection: { code: 'missing_organization', message: 'organization_id is empty' } }
  const role = parseRole(input.role)
  if (!role) return { ok: false, rejection: { code: 'unknown_role', message: `role must be one of ${ROLES.join(', ')} or its Russian name` } }
  const lastName = text(input.last_name)
  if (!normalizeName(lastName)) return { ok: false, rejection: { code: 'missing_last_name', message: 'last_name (Фамилия) is empty' } }
  const firstName = text(input.first_name)
  if (!normalizeName(firstName)) return { ok: false, rejection: { code: 'missing_first_name', message: 'first_name (Имя) is empty' } }
  const middleRaw = text(input.middle_name)
  const normMiddleName = normalizeMiddleName(middleRaw)

  let birthDate: string | null = null
  if (text(input.birth_date)) {
    birthDate = parseDate(input.birth_date)
    if (!birthDate) return { ok: false, rejection: { code: 'invalid_birth_date', message: 'birth_date must be a real day as ДД.ММ.ГГГГ or YYYY-MM-DD' } }
  }

  const snils = parseSnils(input.snils)
  if (snils.kind === 'malformed') return { ok: false, rejection: { code: 'invalid_snils', message: 'snils must have 11 digits' } }
  if (snils.kind === 'ok' && !snils.checksumValid && !opts.keepInvalidSnils) {
    return { ok: false, rejection: { code: 'snils_checksum', message: 'snils check digits do not match the number' } }
  }
  return {
    ok: true,
    row: {
      id,
      organizationId,
      role,
      lastName,
      firstName,
      middleName: normMiddleName ? middleRaw : null,
      birthDate,
      snilsHmac: snils.kind === 'ok' ? snilsHmac(opts.snilsKey, snils.digits) : null,
      snilsPresent: snils.kind === 'ok',
      snilsValid: snils.kind === 'ok' && snils.checksumValid,
      normLastName: normalizeName(lastName),
      normFirstName: normalizeName(firstName),
      normMiddleName,
    },
  }
}

/**
 * Inserts or updates one card. `updated_at` moves only when something changed, so replaying the
 * same data is a no-op. Returns what happened.
 */
export async function upsertCard(db: Queryable, row: CardRow): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO journal_users AS u (id, organization_id, role, last_name, first_name, middle_name, birth_date,
       snils_hmac, snils_present, snils_valid, norm_last_name, norm_first_name, norm_middle_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (id) DO UPDATE SET
       organization_id = EXCLUDED.organization_id, role = EXCLUDED.role, last_name = EXCLUDED.last_name,
       first_name = EXCLUDED.first_name, middle_name = EXCLUDED.middle_name, birth_date = EXCLUDED.birth_date,
       snils_hmac = EXCLUDED.snils_hmac, snils_present = EXCLUDED.snils_present, snils_valid = EXCLUDED.snils_valid,
       norm_last_name = EXCLUDED.norm_last_name, norm_first_name = EXCLUDED.norm_first_name,
       norm_middle_name = EXCLUDED.norm_middle_name, updated_at = now()
     WHERE (u.organization_id, u.role, u.last_name, u.first_name, u.middle_name, u.birth_date, u.snils_hmac, u.snils_valid)
       IS DISTINCT FROM (EXCLUDED.organization_id, EXCLUDED.role, EXCLUDED.last_name, EXCLUDED.first_name,
                         EXCLUDED.middle_name, EXCLUDED.birth_date, EXCLUDED.snils_hmac, EXCLUDED.snils_valid)
     RETURNING (xmax = 0) AS inserted`,
    [row.id, row.organizationId, row.role, row.lastName, row.firstName, row.middleName, row.birthDate,
      row.snilsHmac, row.snilsPresent, row.snilsValid, row.normLastName, row.normFirstName, row.normMiddleName],
  )
  if (!rows[0]) return 'unchanged'
  return rows[0].inserted ? 'inserted' : 'updated'
}

export type OrganizationKind = 'school' | 'kindergarten' | 'additional_education'

export async function upsertOrganization(
  db: Queryable,
  org: { id: string; name: string; kind: OrganizationKind; municipality?: string | null },
): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO organizations AS o (id, name, kind, municipality) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, municipality = EXCLUDED.municipality, updated_at = now()
     WHERE (o.name, o.kind, o.municipality) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.municipality)
     RETURNING (xmax = 0) AS inserted`,
    [org.id, org.name, org.kind, org.municipality ?? null],
  )
  if (!rows[0]) return 'unchanged'
  return rows[0].inserted ? 'inserted' : 'updated'
}
