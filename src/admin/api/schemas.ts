import { Type, type TSchema } from 'typebox'
import { ROLES } from '../../directory/cards.js'
import { LOGIN_PATTERN, SUPPORT_ROLES, type SupportAccount } from '../accounts.js'
import type { FailedAttemptView } from '../attempts.js'
import type { AuditEntry } from '../audit-log.js'
import type { Link } from '../../linking/links.js'
import type { UserSummary } from '../users.js'

/**
 * Schemas of the admin API: request validation, response filtering (a field not listed here — a
 * SNILS HMAC, a password hash — cannot leave) and the OpenAPI document, from one source.
 */
export const TAGS = ['admin']
export const SECURITY = [{ bearer: [] }]

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const DateTime = Type.String({ format: 'date-time' })
// `format: date` refuses days the calendar lacks (2024-02-30): the database would, with a 500.
/**
 * A bigint row id (audit events, failed attempts) as a client may send it: beyond 2^53 a JSON number
 * is no longer exact and beyond 2^63 PostgreSQL refuses it, so such ids are refused here, as 400s.
 */
export const RowId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
export const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', format: 'date', description: 'YYYY-MM-DD, a day in Moscow time' })

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Stable code: forbidden, read_only, reason_required, not_linked, …' }),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})
/** Error responses every admin route can give, for the OpenAPI document. */
export const errors = (...codes: (400 | 403 | 404 | 409 | 503)[]) =>
  Object.fromEntries([401, ...codes].map((c) => [c, ErrorBody])) as Record<number, typeof ErrorBody>

export const Reason = Type.String({ minLength: 0, maxLength: 2000, description: 'Why; required, recorded in the audit trail' })
export const ReasonBody = Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false })

export const RoleSchema = Type.Enum(ROLES)
export const SupportRoleSchema = Type.Enum(SUPPORT_ROLES)

export const Account = Type.Object({
  id: Type.String(),
  login: Type.String(),
  role: SupportRoleSchema,
  organization_ids: Nullable(Type.Array(Type.String())),
  disabled: Type.Boolean(),
  has_password: Type.Boolean(),
  created_at: DateTime,
  last_login_at: Nullable(DateTime),
})
export const accountJson = (a: SupportAccount) => ({
  id: a.id,
  login: a.login,
  role: a.role,
  organization_ids: a.organizationIds,
  disabled: a.disabled,
  has_password: a.hasPassword,
  created_at: a.createdAt.toISOString(),
  last_login_at: a.lastLoginAt?.toISOString() ?? null,
})

export const NewAccountBody = Type.Object(
  {
    login: Type.String({ pattern: LOGIN_PATTERN }),
    role: SupportRoleSchema,
    organization_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000 })),
    password: Type.Optional(Type.String({ minLength: 12, maxLength: 200, description: 'Omit to have one generated and returned once' })),
  },
  { additionalProperties: false },
)

export const UserSummarySchema = Type.Object({
  id: Type.String(),
  organization_id: Type.String(),
  organization_name: Type.String(),
  role: Type.String(),
  last_name: Type.String(),
  first_name: Type.String(),
  middle_name: Nullable(Type.String()),
  birth_date: Nullable(Type.String()),
  snils_present: Type.Boolean(),
  snils_valid: Type.Boolean(),
  linked: Type.Boolean(),
  link_method: Nullable(Type.String()),
})
export const userJson = (u: UserSummary) => ({
  id: u.id,
  organization_id: u.organizationId,
  organization_name: u.organizationName,
  role: u.role,
  last_name: u.lastName,
  first_name: u.firstName,
  middle_name: u.middleName,
  birth_date: u.birthDate,
  snils_present: u.snilsPresent,
  snils_valid: u.snilsValid,
  linked: u.linked,
  link_method: u.linkMethod,
})

export const LinkSchema = Type.Object({
  journal_user_id: Type.String(),
  upstream_subject: Type.String(),
  organization_id: Type.String(),
  role: Type.String(),
  method: Type.String(),
  evidence: Type.Array(Type.String()),
  mismatches: Type.Array(Type.String()),
  trusted: Nullable(Type.Boolean()),
  level: Nullable(Type.String()),
  created_at: DateTime,
  last_login_at: Nullable(DateTime),
})
export const linkJson = (l: Link) => ({
  journal_user_id: l.journalUserId,
  upstream_subject: l.upstreamSubject,
  organization_id: l.organizationId,
  role: l.role,
  method: l.method,
  evidence: l.evidence,
  mismatches: l.mismatches,
  trusted: l.trusted,
  level: l.level,
  created_at: l.createdAt.toISOString(),
  last_login_at: l.lastLoginAt?.toISOString() ?? null,
})

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  type: Type.String(),
  actor_kind: Type.String(),
  actor_id: Nullable(Type.String()),
  actor_login: Nullable(Type.String({ description: 'Login of a support actor' })),
  journal_user_id: Nullable(Type.String()),
  organization_id: Nullable(Type.String()),
  upstream_subject: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
})
export const auditJson = (e: AuditEntry) => ({
  id: e.id,
  at: e.at.toISOString(),
  type: e.type,
  actor_kind: e.actorKind,
  actor_id: e.actorId,
  actor_login: e.actorLogin,
  journal_user_id: e.journalUserId,
  organization_id: e.organizationId,
  upstream_subject: e.upstreamSubject,
  reason: e.reason,
  details: e.details,
})

export const AuditQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 100, description: 'Exact type, or a family: `link.*`' })),
    actor: Type.Optional(Type.String({ maxLength: 200, description: 'Actor id (support account id or login, bootstrap, upstream subject, client id)' })),
    organization_id: Type.Optional(Type.String({ maxLength: 128 })),
    journal_user_id: Type.Optional(Type.String({ maxLength: 128 })),
    from: Type.Optional(Day),
    to: Type.Optional(Day),
    before_id: Type.Optional(RowId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
)

const FieldComparisonSchema = Type.Object({
  field: Type.String(),
  journal: Nullable(Type.String({ description: 'The card’s value; for snils only «указан» or null' })),
  esia: Nullable(Type.String({ description: 'What ЕСИА said; for snils only «указан» or null' })),
  state: Type.Enum(['agrees', 'differs', 'missing_in_journal', 'missing_in_esia', 'missing', 'not_compared'], { description: 'not_compared: the attempt had no card (not_found, ambiguous), or its card was removed from the directory since' }),
})

const CandidateCardSchema = Type.Object({
  journal_user_id: Type.String(),
  last_name: Type.String(),
  first_name: Type.String(),
  middle_name: Nullable(Type.String()),
  birth_date: Nullable(Type.String()),
  role: Type.String(),
  organization_name: Type.String(),
  found_by: Type.Enum(['snils', 'name_birth_date'], { description: 'snils: the card carries the person\'s SNILS; name_birth_date: a card without SNILS with the same surname, first name and birth date' }),
})

export const FailedAttemptSchema = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  flow: Type.String(),
  reasons: Type.Array(Type.String()),
  journal_user_id: Nullable(Type.String()),
  organization_id: Nullable(Type.String()),
  organization_name: Nullable(Type.String()),
  upstream_subject: Nullable(Type.String()),
  trusted: Nullable(Type.Boolean()),
  level: Nullable(Type.String()),
  esia_last_name: Nullable(Type.String()),
  esia_first_name: Nullable(Type.String()),
  esia_middle_name: Nullable(Type.String()),
  card_exists: Type.Boolean(),
  comparison: Type.Array(FieldComparisonSchema),
  candidates: Type.Array(CandidateCardSchema, { description: 'For an attempt without a card: the cards it may have been about' }),
  resolved_at: Nullable(DateTime),
  resolved_by: Nullable(Type.String()),
  can_override: Type.Boolean(),
  override_blocker: Nullable(Type.String()),
})
export const attemptJson = (a: FailedAttemptView) => ({
  id: a.id,
  at: a.at.toISOString(),
  flow: a.flow,
  reasons: a.reasons,
  journal_user_id: a.journalUserId,
  organization_id: a.organizationId,
  organization_name: a.organizationName,
  upstream_subject: a.upstreamSubject,
  trusted: a.trusted,
  level: a.level,
  esia_last_name: a.esiaName.lastName,
  esia_first_name: a.esiaName.firstName,
  esia_middle_name: a.esiaName.middleName,
  card_exists: a.cardExists,
  comparison: a.comparison,
  candidates: a.candidates.map((c) => ({
    journal_user_id: c.journalUserId, last_name: c.lastName, first_name: c.firstName, middle_name: c.middleName,
    birth_date: c.birthDate, role: c.role, organization_name: c.organizationName, found_by: c.foundBy,
  })),
  resolved_at: a.resolvedAt?.toISOString() ?? null,
  resolved_by: a.resolvedBy,
  can_override: a.overrideBlocker === null,
  override_blocker: a.overrideBlocker,
})

export const Id = Type.String({ minLength: 1, maxLength: 128 })
export const IdParams = Type.Object({ id: Id })
export const AttemptParams = Type.Object({ id: RowId })
