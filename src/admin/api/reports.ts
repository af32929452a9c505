import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { withReport } from '../../db/report-query.js'
import { ROLES } from '../../directory/cards.js'
import { CompletenessRowSchema, ProblemCardsPageSchema, ReportProblemSchema } from '../../directory/schemas.js'
import { clientGoneSignal } from '../../http/client-gone.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { ROLE_NAMES } from '../console/texts.js'
import { sendCsv } from '../csv.js'
import { COMPLETENESS_CSV_HEADER, completenessCsvRows, completenessInScope, PROBLEM_CARDS_CSV_HEADER, problemCardsCsvRows, problemCardsInScope } from '../reports.js'
import { errors, SECURITY, TAGS } from './schemas.js'

/**
 * «Контроль заполнения данных» for support: counts per organisation and role (no personal data),
 * and the problem cards behind them (names: every read and export is recorded). Each report query
 * has REPORT_STATEMENT_TIMEOUT_MS (past it: 503 `report_unavailable` with Retry-After) and is
 * cancelled when the client goes away.
 */
const ReportQuery = Type.Object({ organization_id: Type.Optional(Type.String({ maxLength: 128 })), role: Type.Optional(Type.Enum(ROLES)) }, { additionalProperties: false })
const ProblemsQuery = Type.Object(
  {
    ...ReportQuery.properties,
    problem: Type.Optional(ReportProblemSchema),
    after: Type.Optional(Type.String({ maxLength: 128, description: 'next_after of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
)
const roleName = (r: string) => ROLE_NAMES[r] ?? r

export const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const report = (reply: FastifyReply) => ({ timeoutMs: app.config.reportStatementTimeoutMs, signal: clientGoneSignal(reply) })

  app.get(
    '/completeness',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Completeness report of your organisations, per organisation and role',
        querystring: ReportQuery,
        response: { 200: Type.Object({ organizations: Type.Array(CompletenessRowSchema) }), ...errors(400, 403, 503) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const filter = { organizationId: request.query.organization_id, role: request.query.role }
      return { organizations: await withReport(app.db, report(reply), (db) => completenessInScope(db, caller, filter)) }
    },
  )

  app.get(
    '/completeness/problems',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Cards with completeness problems in your organisations, in id order; page with after',
        description: 'Recorded as `support.problem_cards_viewed`. `problem=parents_without_children` or `children_without_parents` lists the guardianship categories.',
        querystring: ProblemsQuery,
        response: { 200: ProblemCardsPageSchema, ...errors(400, 403, 503) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const q = request.query
      const page = await withReport(app.db, report(reply), (db) =>
        problemCardsInScope(db, caller, { organizationId: q.organization_id, role: q.role, problem: q.problem, after: q.after, limit: q.limit ?? 100 }),
      )
      await auditSupportRead(app.db, caller, 'support.problem_cards_viewed', { organizationId: q.organization_id ?? null, details: { problem: q.problem ?? null, results: page.items.length } })
      return page
    },
  )

  app.get(
    '/completeness.csv',
    {
      schema: { tags: TAGS, security: SECURITY, summary: 'The completeness report as CSV (UTF-8 with BOM, `;`)', querystring: ReportQuery, produces: ['text/csv'], response: { 200: Type.String(), ...errors(400, 403, 503) } },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const filter = { organizationId: request.query.organization_id, role: request.query.role }
      // Checked before the reply starts: a refused filter is a JSON 403, not a broken download.
      checkOrganizationFilter(caller, filter.organizationId)
      const rows = await withReport(app.db, report(reply), (db) => completenessInScope(db, caller, filter))
      await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'completeness' } })
      return sendCsv(reply, 'completeness.csv', COMPLETENESS_CSV_HEADER, completenessCsvRows(rows, roleName))
    },
  )

  app.get(
    '/completeness/problems.csv',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'All problem cards of your organisations as CSV, streamed; recorded as `support.export`',
        querystring: Type.Omit(ProblemsQuery, ['after', 'limit']),
        produces: ['text/csv'],
        response: { 200: Type.String(), ...errors(400, 403, 503) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const q = request.query
      const filter = { organizationId: q.organization_id, role: q.role, problem: q.problem }
      checkOrganizationFilter(caller, filter.organizationId)
      // Recorded once the report answers: a report that times out (503) exported nothing.
      const rows = await problemCardsCsvRows(app.db, report(reply), caller, filter, roleName)
      await auditSupportRead(app.db, caller, 'support.export', { organizationId: q.organization_id ?? null, details: { export: 'problem_cards', problem: q.problem ?? null } })
      return sendCsv(reply, 'problem-cards.csv', PROBLEM_CARDS_CSV_HEADER, rows)
    },
  )
}
