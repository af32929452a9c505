import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { categoryTexts, CATEGORY_CODES } from '../../subjects/categories.js'
import type { SubjectReport } from '../../subjects/report.js'
import { lookupOf, subjectReport } from '../../subjects/requests.js'
import type { Config } from '../../config.js'
import { requireCaller } from '../caller.js'
import { errors, SECURITY, TAGS } from './schemas.js'

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
}
