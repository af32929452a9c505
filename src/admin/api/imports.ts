import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiError } from '../../http/errors.js'
import { requireCaller } from '../caller.js'
import { runSupportImport } from '../imports.js'
import { IMPORT_MAX_BYTES } from '../../directory/routes.js'
import { ImportReportSchema } from '../../directory/schemas.js'
import { ErrorBody, errors, SECURITY, TAGS } from './schemas.js'

/**
 * POST /api/v1/admin/imports: «Пакетное обновление» through the API, for support automation. The
 * body is the file itself (CSV with the Russian header of docs/directory.md, «Batch import», or NDJSON), read as
 * a stream: a municipality's file is never held in memory whole.
 */
const ImportQuery = Type.Object(
  {
    dry_run: Type.Boolean({ description: 'true: check the file and report, change nothing; false: apply. Required, so a change is never made by accident.' }),
    organization_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The organisation the file is for; required for mode=replace' })),
    mode: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')], { default: 'merge', description: 'replace: cards of organization_id absent from the file are deleted' })),
    invalid_snils: Type.Optional(Type.Union([Type.Literal('reject'), Type.Literal('keep')], { default: 'reject', description: 'keep: a SNILS with wrong check digits is stored flagged invalid instead of refusing the row' })),
  },
  { additionalProperties: false },
)

export const importRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The file arrives as the raw body; the import reads the stream itself.
  app.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/ndjson', 'application/octet-stream'], async (_request: unknown, payload: unknown) => payload)

  app.post(
    '/imports',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Batch update of the directory in your organisations: dry run, then apply',
        description:
          'Send the file as the body (`text/csv; charset=…` or `application/x-ndjson`). Rows of organisations outside your scope are refused with `organization_out_of_scope`. ' +
          'A dry run may be run by an auditor; applying needs a writer. Recorded as `support.import`; an applied import also as `directory.import`.',
        querystring: ImportQuery,
        consumes: ['text/csv', 'application/x-ndjson'],
        response: { 200: ImportReportSchema, ...errors(400, 403), 413: ErrorBody, 415: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query
      if (typeof (request.body as { pipe?: unknown } | undefined)?.pipe !== 'function') {
        throw new ApiError(415, 'unsupported_media_type', 'Send the file as the body with Content-Type text/csv or application/x-ndjson')
      }
      const contentType = request.headers['content-type'] ?? ''
      const charset = /;\s*charset=([^;]+)/i.exec(contentType)?.[1]?.trim()
      const format = /^text\/csv/i.test(contentType) ? 'csv' : /ndjson/i.test(contentType) ? 'ndjson' : undefined
      return runSupportImport(app.db, app.config.secrets.snilsHmacKey, requireCaller(request), request.body as AsyncIterable<unknown>, {
        dryRun: q.dry_run,
        organizationId: q.organization_id ?? null,
        mode: q.mode ?? 'merge',
        keepInvalidSnils: q.invalid_snils === 'keep',
        charset,
        format,
        maxBytes: IMPORT_MAX_BYTES,
      })
    },
  )
}
