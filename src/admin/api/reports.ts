import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ROLES } from '../../directory/cards.js'
import { CardProblemSchema, CompletenessResponse } from '../../directory/schemas.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { ROLE_NAMES } from '../console/texts.js'
import { sendCsv } from '../csv.js'
import { COMPLETENESS_CSV_HEADER, completenessCsvRows, completenessInScope, PROBLEM_CARDS_CSV_HEADER, problemCardsCsvRows, problemCardsInScope } from '../reports.js'
import { errors, SECURITY, TAGS } from './schemas.js'

/**
 * «Контроль заполнения данных» for support: counts per organisation and role (no personal data),
 * and the problem cards behind them (names: every read and export is recorded).
 */
const ReportQuery = Type.Object({ organization_id: Type.Optional(Type.String({ maxLength: 128 })), role: Type.Optional(Type.Enum(ROLES)) }, { additionalProperties: false })
const ProblemsQuery = Type.Object(
  {
    ...ReportQuery.properties,
    problem: Type.Optional(CardProblemSchema),
    after: Type.Optional(Type.String({ maxLength: 128, description: 'next_after of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
)
const roleName = (r: string) => ROLE_NAMES[r] ?? r

export const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/completeness',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Completeness report of your organisations, per organisation and role',
        querystring: ReportQuery,
        response: { 200: Type.Object({ organizations: CompletenessResponse.properties.organizations }), ...errors(400, 403) },
      },
    },
    async (request) => ({ organizations: await completenessInScope(app.db, requireCaller(request), { organizationId: request.query.organization_id, role: request.query.role }) }),
  )

  app.get(
    '/completeness/problems',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Cards with completeness problems in your organisations, in id order; page with after',
        description: 'Recorded as `support.problem_cards_viewed`.',
        querystring: ProblemsQuery,
        response: { 200: CompletenessResponse.properties.problem_cards, ...errors(400, 403) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      const q = request.query
      const page = await problemCardsInScope(app.db, caller, { organizationId: q.organization_id, role: q.role, problem: q.problem, after: q.after, limit: q.limit ?? 100 })
      await auditSupportRead(app.db, caller, 'support.problem_cards_viewed', { organizationId: q.organization_id ?? null, details: { problem: q.problem ?? null, results: page.items.length } })
      return page
    },
  )

  app.get(
    '/completeness.csv',
    {
      schema: { tags: TAGS, security: SECURITY, summary: 'The completeness report as CSV (UTF-8 with BOM, `;`)', querystring: ReportQuery, produces: ['text/csv'], response: { 200: Type.String(), ...errors(400, 403) } },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const filter = { organizationId: request.query.organization_id, role: request.query.role }
      // Checked before the reply starts: a refused filter is a JSON 403, not a broken download.
      checkOrganizationFilter(caller, filter.organizationId)
      const rows = completenessCsvRows(app.db, caller, filter, roleName)
      await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'completeness' } })
      return sendCsv(reply, 'completeness.csv', COMPLETENESS_CSV_HEADER, rows)
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
        response: { 200: Type.String(), ...errors(400, 403) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const q = request.query
      const filter = { organizationId: q.organization_id, role: q.role, problem: q.problem }
      checkOrganizationFilter(caller, filter.organizationId)
      await auditSupportRead(app.db, caller, 'support.export', { organizationId: q.organization_id ?? null, details: { export: 'problem_cards', problem: q.problem ?? null } })
      return sendCsv(reply, 'problem-cards.csv', PROBLEM_CARDS_CSV_HEADER, problemCardsCsvRows(app.db, caller, filter, roleName))
    },
  )
}
