import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { AUDIT_CSV_HEADER, auditCsvRows, auditFilterNames, auditSupportRead, queryAuditLog, type AuditFilter } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { sendCsv } from '../csv.js'
import { formatMoscowTime } from '../time.js'
import { AuditEntrySchema, AuditQuery, auditJson, errors, SECURITY, TAGS } from './schemas.js'

export const SYSTEM_NAME = 'esia-bridge (связь учётных записей электронного журнала и ЕСИА)'

export const auditFilterOf = (q: Partial<Static<typeof AuditQuery>>): AuditFilter => ({
  type: q.type || undefined,
  actorId: q.actor || undefined,
  organizationId: q.organization_id || undefined,
  journalUserId: q.journal_user_id || undefined,
  from: q.from || undefined,
  to: q.to || undefined,
  beforeId: q.before_id,
})

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/audit-events',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Audit trail in your organisations, newest first; page with before_id',
        querystring: AuditQuery,
        response: { 200: Type.Object({ events: Type.Array(AuditEntrySchema), next_before_id: Type.Union([Type.Integer(), Type.Null()]) }), ...errors(400, 403) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      checkOrganizationFilter(caller, request.query.organization_id)
      const { events, nextBeforeId } = await queryAuditLog(app.db, caller, auditFilterOf(request.query), request.query.limit ?? 100)
      return { events: events.map(auditJson), next_before_id: nextBeforeId }
    },
  )

  app.get(
    '/audit-events.csv',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'The audit trail as CSV (UTF-8 with BOM, `;`), streamed; the export is itself recorded (`support.export`)',
        querystring: Type.Omit(AuditQuery, ['limit']),
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV file' }), ...errors(400, 403) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      checkOrganizationFilter(caller, request.query.organization_id)
      const filter = auditFilterOf(request.query)
      await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'audit_events', filters: auditFilterNames(filter) } })
      return sendCsv(reply, 'audit-events.csv', AUDIT_CSV_HEADER, auditCsvRows(app.db, caller, filter, formatMoscowTime, SYSTEM_NAME))
    },
  )
}
