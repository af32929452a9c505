import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { categoryTexts, CATEGORY_CODES, DESTRUCTION_ACTIONS, DESTRUCTION_BASIS } from '../../subjects/categories.js'
import { DESTRUCTION_CSV_HEADER, destructionCsvRows, listDestructionRecords, type DestructionRecord } from '../../subjects/destruction.js'
import { eraseSubject } from '../../subjects/erase.js'
import type { SubjectReport } from '../../subjects/report.js'
import { lookupOf, subjectReport } from '../../subjects/requests.js'
import type { Config } from '../../config.js'
import { formatDateRu } from '../../matching/dates.js'
import { auditSupportRead } from '../audit-log.js'
import { requireCaller, requireEveryOrganization } from '../caller.js'
import { sendCsv } from '../csv.js'
import { formatMoscowTime } from '../time.js'
import { SYSTEM_NAME } from './audit.js'
import { Day, errors, Reason, RowId, SECURITY, TAGS } from './schemas.js'

/**
 * A person's requests about their data (152-ФЗ ст. 14, 21; docs/personal-data.md). The report is a
 * GET by card or ЕСИА subject, and a POST when the person is named by SNILS: a SNILS never goes into
 * a URL, where proxies and logs would keep it.
 */
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
const ItemValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())])

const CategorySchema = Type.Object({
  code: Type.Enum(CATEGORY_CODES),
  title: Type.String(),
  purpose: Type.String(),
  legal_basis: Type.String(),
  retention: Type.String(),
  note: Type.Optional(Type.String()),
  count: Type.Integer(),
  planned_deletion: Nullable(Type.String({ format: 'date-time' })),
  items: Type.Array(Type.Record(Type.String(), ItemValue)),
})

export const SubjectReportSchema = Type.Object({
  generated_at: Type.String({ format: 'date-time' }),
  lookup: Type.String(),
  journal_user_ids: Type.Array(Type.String()),
  subjects: Type.Array(Type.String(), { description: 'ЕСИА subjects linked to the cards (or named by the request)' }),
  categories: Type.Array(CategorySchema),
})

export function reportJson(report: SubjectReport, config: Config) {
  const texts = categoryTexts(config)
  return {
    generated_at: report.generatedAt,
    lookup: report.lookup,
    journal_user_ids: report.journalUserIds,
    subjects: report.subjects,
    categories: report.categories.map((c) => {
      const t = texts[c.code]
      return {
        code: c.code, title: t.title, purpose: t.purpose, legal_basis: t.legalBasis, retention: t.retention, ...(t.note ? { note: t.note } : {}),
        count: c.count, planned_deletion: c.plannedDeletion, items: c.items,
      }
    }),
  }
}

const Ident = Type.String({ minLength: 1, maxLength: 128 })
const ReportQuery = Type.Object({ journal_user_id: Type.Optional(Ident), subject: Type.Optional(Ident) }, { additionalProperties: false })
const ReportBody = Type.Object(
  {
    journal_user_id: Type.Optional(Ident),
    subject: Type.Optional(Ident),
    snils: Type.Optional(Type.String({ maxLength: 30, description: 'A SNILS typed in full; compared by HMAC, never stored or logged' })),
  },
  { additionalProperties: false },
)
const REPORT_DESCRIPTION =
  'Everything held about one person, category by category, with purpose, legal basis, retention and planned deletion. ' +
  'An admin sees every organisation; support sees the person\'s rows in its organisations and gets 403 when the person has no card there. Recorded as `support.subject_report_viewed`.'

const EraseBody = Type.Object(
  {
    ...ReportBody.properties,
    request_number: Type.Optional(Type.String({ maxLength: 200, description: 'The number of the person\'s request as the operator registered it' })),
    request_date: Type.Optional(Type.String({ maxLength: 10, description: 'The date of the request, YYYY-MM-DD' })),
    reason: Type.Optional(Reason),
    journal_user_ids: Type.Optional(Type.Array(Ident, { maxItems: 1000, description: 'The `journal_user_ids` of the report the erasure follows; with `subjects`, names the person instead of an identifier' })),
    subjects: Type.Optional(Type.Array(Ident, { maxItems: 1000, description: 'The `subjects` of that report' })),
  },
  { additionalProperties: false },
)

/** Whom an erasure names: an identifier, the exact set a report showed, or both (then they must agree). */
export function erasureTarget(b: { journal_user_id?: string | undefined; subject?: string | undefined; snils?: string | undefined; journal_user_ids?: string[] | undefined; subjects?: string[] | undefined }) {
  const shown = b.journal_user_ids !== undefined || b.subjects !== undefined ? { journalUserIds: b.journal_user_ids ?? [], subjects: b.subjects ?? [] } : undefined
  const named = [b.journal_user_id, b.subject, b.snils].some((v) => v !== undefined && v.trim() !== '')
  return { lookup: shown && !named ? undefined : lookupOf(b), shown }
}

const DestroyedSchema = Type.Object({ category: Type.String(), action: Type.Union([Type.Literal('deleted'), Type.Literal('pseudonymised')]), count: Type.Integer() })

const ErasureSchema = Type.Object({
  destruction_record_id: Type.Integer(),
  subject_token: Type.String({ description: 'The pseudonym the audit trail and the record use for the person' }),
  total: Type.Integer(),
  categories: Type.Array(DestroyedSchema),
})

const DestructionRecordSchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  basis: Type.Union([Type.Literal('request'), Type.Literal('retention')]),
  actor_kind: Type.String(),
  actor_id: Type.Union([Type.String(), Type.Null()]),
  actor_login: Type.Union([Type.String(), Type.Null()]),
  subject_token: Type.Union([Type.String(), Type.Null()]),
  request_number: Type.Union([Type.String(), Type.Null()]),
  request_date: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  categories: Type.Array(DestroyedSchema),
  total: Type.Integer(),
})

export const destructionJson = (r: DestructionRecord) => ({
  id: r.id, at: r.at.toISOString(), basis: r.basis, actor_kind: r.actorKind, actor_id: r.actorId, actor_login: r.actorLogin, subject_token: r.subjectToken,
  request_number: r.requestNumber, request_date: r.requestDate, reason: r.reason, categories: r.categories, total: r.total,
})

const RecordsQuery = Type.Object(
  {
    basis: Type.Optional(Type.Union([Type.Literal('request'), Type.Literal('retention')])),
    before_id: Type.Optional(RowId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
)

/** The Russian words of the CSV export. */
export function destructionTexts(config: Config) {
  const texts = categoryTexts(config)
  return {
    category: (code: string) => (texts as Record<string, { title: string }>)[code]?.title ?? code,
    basis: (b: string) => DESTRUCTION_BASIS[b] ?? b,
    action: (a: string) => DESTRUCTION_ACTIONS[a] ?? a,
    actor: (r: DestructionRecord) => (r.actorKind === 'system' ? 'система (плановое удаление)' : (r.actorLogin ?? r.actorId ?? '')),
    day: formatDateRu,
  }
}

export const subjectRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/subjects/report',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'What the bridge holds about a person (by journal user or ЕСИА subject)',
        description: REPORT_DESCRIPTION,
        querystring: ReportQuery,
        response: { 200: SubjectReportSchema, ...errors(400, 403) },
      },
    },
    async (request) => reportJson(await subjectReport(app.db, app.config, requireCaller(request), lookupOf(request.query)), app.config),
  )

  app.post(
    '/subjects/report',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'What the bridge holds about a person (also by SNILS, which never goes into a URL)',
        description: REPORT_DESCRIPTION,
        body: ReportBody,
        response: { 200: SubjectReportSchema, ...errors(400, 403) },
      },
    },
    async (request) => reportJson(await subjectReport(app.db, app.config, requireCaller(request), lookupOf(request.body)), app.config),
  )

  app.post(
    '/subjects/erase',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Erase what the bridge holds about a person, on their request (admin only)',
        description:
          'In one transaction: the links go as a support unlink goes (link-removed events, back-channel logout), failed attempts, guardian check results, ' +
          'unfinished links and logins and delivered events are deleted, audit events naming the person are pseudonymised (who acted stays), and a destruction record is written. ' +
          'The journal\'s own cards stay. Recorded as `subject.erased`. ' +
          'Pass the report\'s `journal_user_ids` and `subjects` to erase exactly what it showed: 409 `report_changed` when the person now resolves to other cards or accounts. ' +
          '409 `different_people` when the cards found disagree on surname, first name or birth date (a SNILS shared by mistake): erase by one card instead. ' +
          '409 `nothing_to_erase` when nothing is held beyond the journal\'s cards and the views of the report (those are pseudonymised all the same).',
        body: EraseBody,
        response: { 200: ErasureSchema, ...errors(400, 403, 409) },
      },
    },
    async (request) => {
      const b = request.body
      const result = await eraseSubject(app.db, app.config, requireCaller(request), { ...erasureTarget(b), requestNumber: b.request_number, requestDate: b.request_date, reason: b.reason })
      return { destruction_record_id: result.recordId, subject_token: result.subjectToken, total: result.total, categories: result.categories }
    },
  )

  app.get(
    '/destruction-records',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Records of destroyed personal data, newest first (callers who see every organisation)',
        querystring: RecordsQuery,
        response: { 200: Type.Object({ records: Type.Array(DestructionRecordSchema), next_before_id: Type.Union([Type.Integer(), Type.Null()]) }), ...errors(400, 403) },
      },
    },
    async (request) => {
      requireEveryOrganization(requireCaller(request))
      const { records, nextBeforeId } = await listDestructionRecords(app.db, { limit: request.query.limit ?? 100, beforeId: request.query.before_id, basis: request.query.basis })
      return { records: records.map(destructionJson), next_before_id: nextBeforeId }
    },
  )

  app.get(
    '/destruction-records.csv',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'The destruction records as CSV (`;`, UTF-8 with BOM), one row per record and category',
        description: 'The log extract of Приказ Роскомнадзора № 179. Recorded as `support.export`.',
        produces: ['text/csv'],
        response: { 200: Type.String(), ...errors(403) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      requireEveryOrganization(caller)
      await auditSupportRead(app.db, caller, 'support.export', { details: { export: 'destruction_records' } })
      return sendCsv(reply, 'destruction-records.csv', DESTRUCTION_CSV_HEADER, destructionCsvRows(app.db, destructionTexts(app.config), formatMoscowTime, SYSTEM_NAME))
    },
  )
}
