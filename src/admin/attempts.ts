import type { Queryable } from '../db/pool.js'
import { normalizeMiddleName, normalizeName } from '../matching/normalize.js'
import { MATCH_FIELDS, type MatchField } from '../matching/types.js'
import { inScope, notVisible, scopeOf, type SupportCaller } from './caller.js'

/**
 * Failed link and login attempts as support sees them: the reasons, and the ЕСИА-side data next to
 * the journal card's, field by field, so a tired school administrator sees at a glance which field
 * differs (docs/sources.md: Камчатка slides, step ⑤ «Устранение ошибок в СГО при неудачной авторизации»). A SNILS is never
 * shown on either side: only whether the two HMACs agree.
 *
 * An attempt belongs to the organisation of its journal card when it has one (the card may have
 * moved since), else to the organisation recorded with it; attempts with neither (a login that
 * found nobody) are visible only to callers who see every organisation.
 */
export type FieldState = 'agrees' | 'differs' | 'missing_in_journal' | 'missing_in_esia' | 'missing' | 'not_compared'

/**
 * A card support may be looking for when an attempt found none (not_found) or several (ambiguous):
 * cards whose SNILS HMAC is the person's (the clash of a shared SNILS), and cards without a SNILS
 * that carry the person's surname, first name and birth date (the card the matcher could not take
 * without a SNILS). Only the cards the caller may see.
 */
export interface CandidateCard {
  journalUserId: string
  lastName: string
  firstName: string
  middleName: string | null
  birthDate: string | null
  role: string
  organizationName: string
  foundBy: 'snils' | 'name_birth_date'
}

export interface FieldComparison {
  field: MatchField
  journal: string | null
  esia: string | null
  state: FieldState
}

export interface FailedAttemptView {
  id: number
  at: Date
  flow: 'link' | 'login'
  reasons: string[]
  journalUserId: string | null
  organizationId: string | null
  organizationName: string | null
  upstreamSubject: string | null
  trusted: boolean | null
  level: string | null
  esiaName: { lastName: string | null; firstName: string | null; middleName: string | null }
  /** False when the card named by the attempt no longer exists. */
  cardExists: boolean
  /** Field by field; every state `not_compared` when the attempt had no card to compare with. */
  comparison: FieldComparison[]
  /** Cards the attempt may have been about, for an attempt without a card (see CandidateCard). */
  candidates: CandidateCard[]
  resolvedAt: Date | null
  resolvedBy: string | null
  /** Why «Связать вопреки расхождению» is not offered, or null when it is. */
  overrideBlocker: OverrideBlocker | null
}

/**
 * Overriding is for data discrepancies only. An unconfirmed account, a child without the parent's
 * consent or an upstream error are fixed by the person on Госуслуги, not by support: linking an
 * unconfirmed account would accept a name anyone can type (docs/decisions/0012-auto-link-on-strong-evidence-only.md).
 */
export type OverrideBlocker = 'resolved' | 'no_subject' | 'untrusted' | 'not_overridable_reason'
export const isOverridableReason = (reason: string): boolean => reason.startsWith('mismatch:') || reason === 'not_found' || reason === 'ambiguous'

interface AttemptRow {
  id: number
  at: Date
  flow: 'link' | 'login'
  reasons: string[]
  journal_user_id: string | null
  organization_id: string | null
  organization_name: string | null
  upstream_subject: string | null
  trusted: boolean | null
  level: string | null
  person_last_name: string | null
  person_first_name: string | null
  person_middle_name: string | null
  person_birth_date: string | null
  person_snils_present: boolean
  person_snils_hmac: Buffer | null
  resolved_at: Date | null
  resolved_by: string | null
  card_id: string | null
  card_last_name: string | null
  card_first_name: string | null
  card_middle_name: string | null
  card_birth_date: string | null
  card_snils_present: boolean | null
  snils_equal: boolean | null
}

const SELECT = `SELECT a.id, a.at, a.flow, a.reasons, a.journal_user_id, COALESCE(u.organization_id, a.organization_id) AS organization_id,
    o.name AS organization_name, a.upstream_subject, a.trusted, a.level,
    a.person_last_name, a.person_first_name, a.person_middle_name, a.person_birth_date, a.person_snils_hmac IS NOT NULL AS person_snils_present, a.person_snils_hmac,
    a.resolved_at, a.resolved_by,
    u.id AS card_id, u.last_name AS card_last_name, u.first_name AS card_first_name, u.middle_name AS card_middle_name,
    u.birth_date AS card_birth_date, u.snils_present AS card_snils_present, (u.snils_hmac = a.person_snils_hmac) AS snils_equal
  FROM failed_attempts a
  LEFT JOIN journal_users u ON u.id = a.journal_user_id
  LEFT JOIN organizations o ON o.id = COALESCE(u.organization_id, a.organization_id)`
const ORG = 'COALESCE(u.organization_id, a.organization_id)'

function compare(field: MatchField, r: AttemptRow): FieldComparison {
  const values: Record<MatchField, [string | null, string | null]> = {
    last_name: [r.card_last_name, r.person_last_name],
    first_name: [r.card_first_name, r.person_first_name],
    middle_name: [r.card_middle_name, r.person_middle_name],
    birth_date: [r.card_birth_date, r.person_birth_date],
    snils: [r.card_snils_present ? 'указан' : null, r.person_snils_present ? 'указан' : null],
  }
  const [journal, esia] = values[field]
  const norm = field === 'middle_name' ? normalizeMiddleName : field === 'birth_date' || field === 'snils' ? (v: string | null) => v : normalizeName
  const j = norm(journal) || null
  const e = norm(esia) || null
  let state: FieldState
  if (!j && !e) state = 'missing'
  else if (!j) state = 'missing_in_journal'
  else if (!e) state = 'missing_in_esia'
  else if (field === 'snils') state = r.snils_equal ? 'agrees' : 'differs'
  else state = j === e ? 'agrees' : 'differs'
  // The matcher's verdict wins where it named the field (it may apply rules this view does not).
  if (r.reasons.includes(`mismatch:${field}`) && state === 'agrees') state = 'differs'
  return { field, journal, esia, state }
}

function overrideBlocker(r: AttemptRow): OverrideBlocker | null {
  if (r.resolved_at) return 'resolved'
  if (!r.upstream_subject) return 'no_subject'
  if (r.trusted !== true) return 'untrusted'
  if (!r.reasons.every(isOverridableReason)) return 'not_overridable_reason'
  return null
}

const toView = (r: AttemptRow): FailedAttemptView => ({
  id: r.id,
  at: r.at,
  flow: r.flow,
  reasons: r.reasons,
  journalUserId: r.journal_user_id,
  organizationId: r.organization_id,
  organizationName: r.organization_name,
  upstreamSubject: r.upstream_subject,
  trusted: r.trusted,
  level: r.level,
  esiaName: { lastName: r.person_last_name, firstName: r.person_first_name, middleName: r.person_middle_name },
  cardExists: r.card_id !== null,
  // Without a card nothing was compared: the ЕСИА side alone, no field marked as differing.
  comparison: r.card_id ? MATCH_FIELDS.map((f) => compare(f, r)) : MATCH_FIELDS.map((f) => ({ ...compare(f, { ...r, card_snils_present: false }), journal: null, state: 'not_compared' as const })),
  candidates: [],
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
  overrideBlocker: overrideBlocker(r),
})

export interface AttemptFilter {
  organizationId?: string | undefined
  journalUserId?: string | undefined
  flow?: 'link' | 'login' | undefined
  reason?: string | undefined
  state?: 'open' | 'resolved' | 'all' | undefined
  beforeId?: number | undefined
}

export async function listFailedAttempts(db: Queryable, caller: SupportCaller, filter: AttemptFilter, limit: number): Promise<{ attempts: FailedAttemptView[]; nextBeforeId: number | null }> {
  const params: unknown[] = [scopeOf(caller)]
  const where = [inScope(ORG, 1)]
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value)
    where.push(sql(params.length))
  }
  if (filter.organizationId) add((n) => `${ORG} = $${n}`, filter.organizationId)
  if (filter.journalUserId) add((n) => `a.journal_user_id = $${n}`, filter.journalUserId)
  if (filter.flow) add((n) => `a.flow = $${n}`, filter.flow)
  if (filter.reason) add((n) => `$${n} = ANY(a.reasons)`, filter.reason)
  if ((filter.state ?? 'open') === 'open') where.push('a.resolved_at IS NULL')
  if (filter.state === 'resolved') where.push('a.resolved_at IS NOT NULL')
  if (filter.beforeId) add((n) => `a.id < $${n}`, filter.beforeId)
  params.push(limit + 1)
  const { rows } = await db.query<AttemptRow>(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY a.id DESC LIMIT $${params.length}`, params)
  const attempts = await withCandidates(db, caller, rows.slice(0, limit))
  return { attempts, nextBeforeId: rows.length > limit ? attempts[attempts.length - 1]!.id : null }
}

export async function readFailedAttempt(db: Queryable, caller: SupportCaller, id: number): Promise<FailedAttemptView> {
  const { rows } = await db.query<AttemptRow>(`${SELECT} WHERE a.id = $1 AND ${inScope(ORG, 2)}`, [id, scopeOf(caller)])
  if (!rows[0]) throw notVisible(caller, 'failed attempt')
  return (await withCandidates(db, caller, rows))[0]!
}

interface CandidateRow {
  attempt_id: number
  id: string
  last_name: string
  first_name: string
  middle_name: string | null
  birth_date: string | null
  role: string
  organization_name: string
  found_by: 'snils' | 'name_birth_date'
}

/** The views of `rows`, each attempt without a card with its candidate cards (two statements for the page). */
async function withCandidates(db: Queryable, caller: SupportCaller, rows: AttemptRow[]): Promise<FailedAttemptView[]> {
  const views = rows.map(toView)
  const open = rows.filter((r) => !r.card_id && (r.person_snils_hmac || (r.person_last_name && r.person_first_name && r.person_birth_date)))
  if (open.length === 0) return views
  const bySnils = open.filter((r) => r.person_snils_hmac)
  const byName = open.filter((r) => r.person_last_name && r.person_first_name && r.person_birth_date)
  const { rows: found } = await db.query<CandidateRow>(
    `SELECT q.attempt_id, u.id, u.last_name, u.first_name, u.middle_name, u.birth_date, u.role, o.name AS organization_name, 'snils' AS found_by
       FROM unnest($2::bigint[], $3::bytea[]) AS q(attempt_id, snils_hmac)
       JOIN journal_users u ON u.snils_hmac = q.snils_hmac
       JOIN organizations o ON o.id = u.organization_id
       WHERE ${inScope('u.organization_id', 1)}
     UNION ALL
     SELECT q.attempt_id, u.id, u.last_name, u.first_name, u.middle_name, u.birth_date, u.role, o.name, 'name_birth_date'
       FROM unnest($4::bigint[], $5::text[], $6::text[], $7::date[]) AS q(attempt_id, last_name, first_name, birth_date)
       JOIN journal_users u ON u.norm_last_name = q.last_name AND u.norm_first_name = q.first_name AND u.birth_date = q.birth_date AND u.snils_hmac IS NULL
       JOIN organizations o ON o.id = u.organization_id
       WHERE ${inScope('u.organization_id', 1)}
     ORDER BY 1, 2
     LIMIT 500`,
    [
      scopeOf(caller),
      bySnils.map((r) => r.id),
      bySnils.map((r) => r.person_snils_hmac),
      byName.map((r) => r.id),
      byName.map((r) => normalizeName(r.person_last_name)),
      byName.map((r) => normalizeName(r.person_first_name)),
      byName.map((r) => r.person_birth_date),
    ],
  )
  const byAttempt = new Map(views.map((v) => [v.id, v]))
  for (const c of found) {
    byAttempt.get(Number(c.attempt_id))?.candidates.push({
      journalUserId: c.id, lastName: c.last_name, firstName: c.first_name, middleName: c.middle_name, birthDate: c.birth_date,
      role: c.role, organizationName: c.organization_name, foundBy: c.found_by,
    })
  }
  return views
}

/** Open attempts in the caller's organisations, for the console's front page. */
export async function countOpenAttempts(db: Queryable, caller: SupportCaller): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM failed_attempts a LEFT JOIN journal_users u ON u.id = a.journal_user_id
     WHERE a.resolved_at IS NULL AND ${inScope(ORG, 1)}`,
    [scopeOf(caller)],
  )
  return rows[0]!.n
}
