import type { Queryable } from '../db/pool.js'
import { parseDate } from '../matching/dates.js'
import { normalizeMiddleName, normalizeName, statesNoMiddleName } from '../matching/normalize.js'
import { parseSnils, snilsHmac } from '../matching/snils.js'

/**
 * One journal card as the journal sends it (API body, NDJSON line, CSV row after header mapping),
 * and its validation into a database row. Shared by the directory API, the batch import and test
 * fixtures, so every path applies the same rules.
 */
export const ROLES = ['parent', 'student', 'staff', 'admin'] as const
export type Role = (typeof ROLES)[number]

/** Role codes and the Russian names schools use in exports (docs/directory.md, «Batch import»). */
const ROLE_NAMES: Record<string, Role> = {
  parent: 'parent', student: 'student', staff: 'staff', admin: 'admin',
  родитель: 'parent', 'законный представитель': 'parent',
  обучающийся: 'student', обучающаяся: 'student', ученик: 'student', ученица: 'student',
  сотрудник: 'staff', учитель: 'staff', педагог: 'staff',
  администратор: 'admin',
}

export function parseRole(raw: string | null | undefined): Role | null {
  if (!raw) return null
  // Plain toLowerCase: Russian has no locale-specific case rules (unlike Turkish), and the locale
  // variant costs a microsecond per call, which a two-million-row import notices.
  return ROLE_NAMES[raw.trim().toLowerCase().replaceAll('ё', 'е')] ?? null
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
  /** The journal wrote that the person has no patronymic («-», «нет»): not flagged «Без отчества». */
  noMiddleName: boolean
}

/** Why a card is refused. Codes are stable (API and import reports); messages are for operators. */
export type CardRejection =
  | { code: 'missing_id'; message: string }
  | { code: 'invalid_id'; message: string }
  | { code: 'invalid_characters'; message: string }
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

/** Ids are primary keys of at most 128 characters (0001_core.sql CHECK); longer ones cannot be stored. */
export const MAX_ID_LENGTH = 128
// C0 controls and DEL have no place in a name or an id, and PostgreSQL refuses NUL in text: a card
// carrying one would fail its whole transaction instead of being refused with a reason.
const CONTROL = /[\u0000-\u001F\u007F]/

/** A card id as stored (trimmed, spaces collapsed, NFC), or null when it is empty or cannot be one. */
export function cardId(raw: string | null | undefined): string | null {
  const id = text(raw)
  return id && id.length <= MAX_ID_LENGTH && !CONTROL.test(id) ? id : null
}

export type CardValidation = { ok: true; row: CardRow } | { ok: false; rejection: CardRejection }

/**
 * A name part as stored (trimmed, spaces collapsed, NFC) and its normalised form for matching; ''
 * when nothing is left, and for a patronymic written as «-» or «нет» (the person has none).
 */
interface NamePart {
  clean: string
  norm: string
  /** A patronymic that says there is none («-», «нет»). */
  none: boolean
}

type NamePartOf = (raw: string | null | undefined, patronymic?: boolean) => NamePart

const namePart: NamePartOf = (raw, patronymic = false) => {
  const clean = text(raw)
  return patronymic ? { clean, norm: normalizeMiddleName(clean) ?? '', none: statesNoMiddleName(clean) } : { clean, norm: normalizeName(clean), none: false }
}

/**
 * Name parts repeat a great deal in a school directory (a few hundred first names and patronymics,
 * some thousands of surnames), and normalising one costs microseconds of Unicode work. A batch
 * import normalises each distinct spelling once. Bounded: when full the cache starts over.
 */
function cachedNamePart(capacity: number): NamePartOf {
  const names = new Map<string, NamePart>()
  const patronymics = new Map<string, NamePart>()
  return (raw, patronymic = false) => {
    const cache = patronymic ? patronymics : names
    const key = raw ?? ''
    let part = cache.get(key)
    if (!part) {
      if (cache.size >= capacity) cache.clear()
      part = namePart(key, patronymic)
      cache.set(key, part)
    }
    return part
  }
}

function checkCard(input: CardInput, opts: CardOptions, name: NamePartOf): CardValidation {
  const id = text(input.id)
  if (!id) return { ok: false, rejection: { code: 'missing_id', message: 'id is empty' } }
  if (id.length > MAX_ID_LENGTH || CONTROL.test(id)) {
    return { ok: false, rejection: { code: 'invalid_id', message: `id must be at most ${MAX_ID_LENGTH} printable characters` } }
  }
  const organizationId = text(input.organization_id)
  if (!organizationId) return { ok: false, rejection: { code: 'missing_organization', message: 'organization_id is empty' } }
  const role = parseRole(input.role)
  if (!role) return { ok: false, rejection: { code: 'unknown_role', message: `role must be one of ${ROLES.join(', ')} or its Russian name` } }
  const last = name(input.last_name)
  if (!last.norm) return { ok: false, rejection: { code: 'missing_last_name', message: 'last_name (Фамилия) is empty' } }
  const first = name(input.first_name)
  if (!first.norm) return { ok: false, rejection: { code: 'missing_first_name', message: 'first_name (Имя) is empty' } }
  const middle = name(input.middle_name, true)
  if (CONTROL.test(organizationId) || CONTROL.test(last.clean) || CONTROL.test(first.clean) || CONTROL.test(middle.clean)) {
    return { ok: false, rejection: { code: 'invalid_characters', message: 'a field contains control characters' } }
  }
  const normMiddleName = middle.norm || null

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
      lastName: last.clean,
      firstName: first.clean,
      middleName: normMiddleName ? middle.clean : null,
      birthDate,
      snilsHmac: snils.kind === 'ok' ? snilsHmac(opts.snilsKey, snils.digits) : null,
      snilsPresent: snils.kind === 'ok',
      snilsValid: snils.kind === 'ok' && snils.checksumValid,
      normLastName: last.norm,
      normFirstName: first.norm,
      normMiddleName,
      noMiddleName: middle.none,
    },
  }
}

export function validateCard(input: CardInput, opts: CardOptions): CardValidation {
  return checkCard(input, opts, namePart)
}

/**
 * The same rules as `validateCard`, for many cards in a row (batch import): name normalisation is
 * memoised per validator, so keep one validator per import and let it go afterwards.
 */
export function createCardValidator(opts: CardOptions, nameCacheSize = 50_000): (input: CardInput) => CardValidation {
  const name = cachedNamePart(nameCacheSize)
  return (input) => checkCard(input, opts, name)
}

/** What «Контроль заполнения данных» (docs/sources.md: Камчатка slides) flags on one card, apart from shared SNILS (needs the table). */
export type CardProblem = 'without_snils' | 'invalid_snils' | 'without_birth_date' | 'without_middle_name' | 'shared_snils'
export const CARD_PROBLEMS: readonly CardProblem[] = ['without_snils', 'invalid_snils', 'without_birth_date', 'without_middle_name', 'shared_snils']

export function cardProblems(row: Pick<CardRow, 'snilsPresent' | 'snilsValid' | 'birthDate' | 'normMiddleName' | 'noMiddleName'>): CardProblem[] {
  const problems: CardProblem[] = []
  if (!row.snilsPresent) problems.push('without_snils')
  else if (!row.snilsValid) problems.push('invalid_snils')
  if (!row.birthDate) problems.push('without_birth_date')
  if (!row.normMiddleName && !row.noMiddleName) problems.push('without_middle_name')
  return problems
}

/** Columns of `journal_users` a card writes, in the order of `CardRow`. */
export const CARD_COLUMNS = `id, organization_id, role, last_name, first_name, middle_name, birth_date,
  snils_hmac, snils_present, snils_valid, norm_last_name, norm_first_name, norm_middle_name, no_middle_name`

/**
 * The upsert rule shared by the API and the batch import: `updated_at` moves, and the row is
 * rewritten, only when something the journal sent differs (the normalised columns follow from the
 * names), so replaying the same data changes nothing. Used as `INSERT INTO journal_users AS u …`.
 */
export const CARD_UPSERT = `ON CONFLICT (id) DO UPDATE SET
  organization_id = EXCLUDED.organization_id, role = EXCLUDED.role, last_name = EXCLUDED.last_name,
  first_name = EXCLUDED.first_name, middle_name = EXCLUDED.middle_name, birth_date = EXCLUDED.birth_date,
  snils_hmac = EXCLUDED.snils_hmac, snils_present = EXCLUDED.snils_present, snils_valid = EXCLUDED.snils_valid,
  norm_last_name = EXCLUDED.norm_last_name, norm_first_name = EXCLUDED.norm_first_name,
  norm_middle_name = EXCLUDED.norm_middle_name, no_middle_name = EXCLUDED.no_middle_name, updated_at = now()
WHERE (u.organization_id, u.role, u.last_name, u.first_name, u.middle_name, u.birth_date, u.snils_hmac, u.snils_valid, u.no_middle_name)
  IS DISTINCT FROM (EXCLUDED.organization_id, EXCLUDED.role, EXCLUDED.last_name, EXCLUDED.first_name,
                    EXCLUDED.middle_name, EXCLUDED.birth_date, EXCLUDED.snils_hmac, EXCLUDED.snils_valid, EXCLUDED.no_middle_name)`

/** Inserts or updates one card (see `CARD_UPSERT`). Returns what happened. */
export async function upsertCard(db: Queryable, row: CardRow): Promise<'inserted' | 'updated' | 'unchanged'> {
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO journal_users AS u (${CARD_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ${CARD_UPSERT}
     RETURNING (xmax = 0) AS inserted`,
    [row.id, row.organizationId, row.role, row.lastName, row.firstName, row.middleName, row.birthDate,
      row.snilsHmac, row.snilsPresent, row.snilsValid, row.normLastName, row.normFirstName, row.normMiddleName, row.noMiddleName],
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
