import { Type } from 'typebox'
import { CARD_PROBLEMS, ROLES } from './cards.js'
import { REPORT_PROBLEMS } from './completeness.js'
import { REJECTION_MESSAGES, type RejectionReason } from './import/report.js'

/**
 * Request and response schemas of the directory API. Responses list every field they may carry,
 * so nothing else — a SNILS, its HMAC, a birth date — can leave by accident.
 */
export const TAGS = ['directory']
export const SECURITY: { [scheme: string]: string[] }[] = [{ journalClient: [] }, { bearer: [] }]

export const Id = Type.String({ minLength: 1, maxLength: 128, description: "The journal's own id" })
export const IdParams = Type.Object({ id: Id })

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Stable reason code' }),
  message: Type.String({ description: 'English, for the operator' }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]))

export const OrganizationKind = Type.Enum(['school', 'kindergarten', 'additional_education'])
export const WriteResult = Type.Enum(['inserted', 'updated', 'unchanged'], { description: 'What the write did; `unchanged` when the data was already so' })

export const OrganizationBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    kind: OrganizationKind,
    municipality: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
  },
  { additionalProperties: false },
)

export const OrganizationResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: OrganizationKind,
  municipality: Type.Union([Type.String(), Type.Null()]),
  result: WriteResult,
})

const Name = (description: string) => Type.String({ maxLength: 200, description })
const OptionalText = (maxLength: number, description: string) => Type.Optional(Type.Union([Type.String({ maxLength }), Type.Null()], { description }))

export const UserBody = Type.Object(
  {
    organization_id: Id,
    role: Type.String({ minLength: 1, maxLength: 64, description: 'parent, student, staff, admin, or the Russian name (Родитель, Обучающийся/Ученик, Сотрудник/Учитель, Администратор)' }),
    last_name: Name('Фамилия'),
    first_name: Name('Имя'),
    middle_name: OptionalText(200, 'Отчество; empty, «-» or «нет» when the person has none'),
    birth_date: OptionalText(20, 'ДД.ММ.ГГГГ or YYYY-MM-DD'),
    snils: OptionalText(40, 'NNN-NNN-NNN NN, 11 digits, or with other separators. Stored only as an HMAC, never returned'),
    child_ids: Type.Optional(Type.Array(Id, { maxItems: 100, description: "A parent's children (student cards); replaces the card's children when given" })),
  },
  { additionalProperties: false },
)

export const InvalidSnilsQuery = Type.Enum(['reject', 'keep'], {
  default: 'reject',
  description: 'keep: a SNILS whose check digits are wrong is stored flagged invalid (it shows in the completeness report) instead of refusing the card',
})
export const UserQuery = Type.Object({ invalid_snils: Type.Optional(InvalidSnilsQuery) }, { additionalProperties: false })

export const CardProblemSchema = Type.Enum(CARD_PROBLEMS)
/** A card problem, or a guardianship category of the report (listed only when asked for by name). */
export const ReportProblemSchema = Type.Enum(REPORT_PROBLEMS)

export const UserResponse = Type.Object({
  id: Type.String(),
  organization_id: Type.String(),
  role: Type.Enum(ROLES),
  result: WriteResult,
  snils_present: Type.Boolean(),
  snils_valid: Type.Boolean(),
  problems: Type.Array(CardProblemSchema, { description: 'What «Контроль заполнения данных» flags on this card' }),
  child_ids: Type.Optional(Type.Array(Type.String())),
})

export const DeletedUser = Type.Object({ id: Type.String(), deleted: Type.Literal(true), link_removed: Type.Boolean() })
export const DeletedOrganization = Type.Object({ id: Type.String(), deleted: Type.Literal(true) })

export const ImportQuery = Type.Object(
  {
    dry_run: Type.Optional(Type.Boolean({ default: false, description: 'true: do everything, report exact counts, then roll back' })),
    mode: Type.Optional(Type.Enum(['merge', 'replace'], { default: 'merge', description: 'replace: the file is the complete card list of organization_id; its cards absent from the file are deleted (with their links)' })),
    organization_id: Type.Optional(Id),
    invalid_snils: Type.Optional(InvalidSnilsQuery),
    format: Type.Optional(Type.Enum(['csv', 'ndjson'], { description: 'Overrides the Content-Type; omitted with application/octet-stream: NDJSON when the body starts with `{`' })),
  },
  { additionalProperties: false },
)

export const RejectionReasonSchema = Type.Enum(Object.keys(REJECTION_MESSAGES) as RejectionReason[])

export const ImportReportSchema = Type.Object(
  {
    dry_run: Type.Boolean(),
    mode: Type.Enum(['merge', 'replace']),
    organization_id: Type.Union([Type.String(), Type.Null()]),
    format: Type.Enum(['csv', 'ndjson']),
    charset: Type.String({ description: 'As declared, or as detected (utf-8 or windows-1251)' }),
    rows: Type.Integer({ description: 'Data rows read' }),
    inserted: Type.Integer(),
    updated: Type.Integer(),
    unchanged: Type.Integer(),
    deleted: Type.Integer({ description: 'Replace mode: cards of the organisation absent from the file' }),
    rejected: Type.Integer(),
    links_removed: Type.Integer({ description: 'Links of deleted cards, each with a link.removed audit event' }),
    relations_added: Type.Integer({ description: 'Parent → child relations added by the column «Дети» (NDJSON `child_ids`)' }),
    relations_removed: Type.Integer({ description: 'Parent → child relations removed: a parent row whose «Дети» no longer lists the child' }),
    rejected_by_reason: Type.Record(Type.String(), Type.Integer()),
    rejected_rows: Type.Array(
      Type.Object({
        line: Type.Integer({ description: 'Line of the file (the header is line 1)' }),
        id: Type.Union([Type.String(), Type.Null()]),
        reason: RejectionReasonSchema,
        message: Type.String(),
        duplicate_of_line: Type.Optional(Type.Integer()),
      }),
      { description: 'The first 100 000 refused rows in file order; never a name, a birth date or a SNILS' },
    ),
    rejected_truncated: Type.Boolean({ description: 'More rows were refused than listed' }),
    ignored_columns: Type.Array(Type.String()),
    duration_ms: Type.Integer(),
  },
  { description: 'What the import did (or, in a dry run, would do)' },
)

const ReportFilterFields = {
  organization_id: Type.Optional(Id),
  role: Type.Optional(Type.Enum(ROLES)),
}
const ProblemPaging = {
  problem: Type.Optional(ReportProblemSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Problem cards per page' })),
  after: Type.Optional(Type.String({ maxLength: 128, description: 'next_after of the previous page' })),
}

const DEPRECATED = 'Deprecated here (use /reports/completeness/problems): given, the answer also carries problem_cards. '
export const CompletenessQuery = Type.Object(
  {
    ...ReportFilterFields,
    problem: Type.Optional(Type.Enum(REPORT_PROBLEMS, { description: `${DEPRECATED}One problem` })),
    // No schema default here: a default would fill it in and bring the page along on every call.
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: `${DEPRECATED}Problem cards per page (100 when not given)` })),
    after: Type.Optional(Type.String({ maxLength: 128, description: `${DEPRECATED}next_after of the previous page` })),
  },
  { additionalProperties: false },
)
export const ProblemCardsQuery = Type.Object({ ...ReportFilterFields, ...ProblemPaging }, { additionalProperties: false })
export const ProblemCardsCsvQuery = Type.Object({ ...ReportFilterFields, problem: ProblemPaging.problem }, { additionalProperties: false })

export const CompletenessRowSchema = Type.Object({
  organization_id: Type.String(),
  organization_name: Type.String(),
  role: Type.Enum(ROLES),
  total: Type.Integer(),
  without_snils: Type.Integer(),
  invalid_snils: Type.Integer(),
  without_birth_date: Type.Integer(),
  without_middle_name: Type.Integer({ description: 'Cards whose patronymic was never filled in (not those where the journal wrote «-» or «нет»)' }),
  shared_snils: Type.Integer({ description: 'Cards whose SNILS another card of the same organisation and role also carries' }),
  with_problems: Type.Integer(),
  no_middle_name: Type.Integer({ description: 'Cards where the journal says the person has no patronymic («-», «нет»); not a problem' }),
  parents_without_children: Type.Integer({ description: '«Родители без детей в журнале»: parent cards with no child relation (0 on other roles); not counted in with_problems' }),
  children_without_parents: Type.Integer({ description: '«Дети без родителей в журнале»: pupils\' cards no parent card lists (0 on other roles); not counted in with_problems' }),
})

export const ProblemCardsPageSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      organization_id: Type.String(),
      role: Type.Enum(ROLES),
      last_name: Type.String(),
      first_name: Type.String(),
      middle_name: Type.Union([Type.String(), Type.Null()]),
      problems: Type.Array(ReportProblemSchema, { description: 'Card problems; a guardianship category only on the lists asked for by it' }),
    }),
  ),
  next_after: Type.Union([Type.String(), Type.Null()]),
})

export const CompletenessResponse = Type.Object({
  organizations: Type.Array(CompletenessRowSchema),
  problem_cards: Type.Optional(ProblemCardsPageSchema),
})
