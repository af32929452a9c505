import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { withTransaction, type PoolClient } from '../db/pool.js'
import { authenticateApiCaller } from '../http/auth.js'
import { ApiError } from '../http/errors.js'
import type { AuditActor } from '../linking/audit.js'
import { directoryActor } from './actor.js'
import { validateCard } from './cards.js'
import { withReport } from '../db/report-query.js'
import { clientGoneSignal } from '../http/client-gone.js'
import { PROBLEM_CARDS_CSV_HEADER, problemCardsCsv } from '../admin/reports.js'
import { sendCsv } from '../admin/csv.js'
import { ROLE_NAMES } from '../admin/console/texts.js'
import { completenessReport, problemCards } from './completeness.js'
import { DirectoryError, type DirectoryErrorCode } from './errors.js'
import { ImportFileError, ImportRefused, importDirectory } from './import/import.js'
import type { ImportReport } from './import/report.js'
import { deleteOrganization, putOrganization } from './organizations.js'
import {
  CompletenessQuery,
  CompletenessResponse,
  ProblemCardsCsvQuery,
  ProblemCardsPageSchema,
  ProblemCardsQuery,
  DeletedOrganization,
  DeletedUser,
  errors,
  IdParams,
  ImportQuery,
  ImportReportSchema,
  OrganizationBody,
  OrganizationResponse,
  SECURITY,
  TAGS,
  UserBody,
  UserQuery,
  UserResponse,
} from './schemas.js'
import { deleteUser, putUser } from './users.js'

/**
 * The journal fills the directory through these routes (docs/directory.md): single cards and
 * organisations, the batch import («Пакетное обновление»), and the completeness report
 * («Контроль заполнения данных»). Callers: a journal client (HTTP Basic) or BOOTSTRAP_ADMIN_TOKEN.
 * The work is done by the services of src/directory; routes authenticate, map and answer.
 */
declare module 'fastify' {
  interface FastifyRequest {
    directoryActor: AuditActor | null
  }
}

/** Largest import body, counted as it streams (2 000 000 cards are about 220 MB of CSV). */
export const IMPORT_MAX_BYTES = 1024 * 1024 * 1024

const STATUS: Record<DirectoryErrorCode, number> = {
  unknown_organization: 422,
  unknown_child: 422,
  invalid_child: 422,
  organization_not_found: 404,
  journal_user_not_found: 404,
  organization_has_users: 409,
  journal_user_referenced: 409,
  link_conflict: 409,
}

function apiError(err: unknown): unknown {
  if (err instanceof DirectoryError) return new ApiError(STATUS[err.code], err.code, err.message, err.details)
  if (err instanceof ImportRefused) return new ApiError(err.code === 'organization_out_of_scope' ? 403 : err.code === 'unknown_organization' ? 422 : 400, err.code, err.message)
  if (err instanceof ImportFileError) {
    const status = err.code === 'too_large' ? 413 : err.code === 'unsupported_charset' ? 415 : 400
    return new ApiError(status, err.code, err.message, err.line ? { line: err.line } : undefined)
  }
  return err
}

const actorOf = (request: FastifyRequest): AuditActor => request.directoryActor!

export const directoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.decorateRequest('directoryActor', null)
  // Before the body is read: an unauthenticated upload is refused without reading it.
  app.addHook('onRequest', async (request) => {
    request.directoryActor = directoryActor(authenticateApiCaller(request))
  })
  const transaction = <T>(fn: (tx: PoolClient) => Promise<T>) => withTransaction(app.db, fn).catch((err: unknown) => Promise.reject(apiError(err)))
  const importedRows = app.metrics.counter('directory_import_rows_total', 'Rows of applied directory imports, by outcome', ['outcome'])

  app.put(
    '/organizations/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Create or update an organisation',
        params: IdParams,
        body: OrganizationBody,
        response: { 200: OrganizationResponse, 201: OrganizationResponse, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const org = { id: request.params.id, name: request.body.name.trim(), kind: request.body.kind, municipality: request.body.municipality?.trim() || null }
      const result = await transaction((tx) => putOrganization(tx, org, actorOf(request)))
      return reply.code(result === 'inserted' ? 201 : 200).send({ ...org, result })
    },
  )

  app.delete(
    '/organizations/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Delete an organisation that has no cards left',
        description: 'An organisation that still has cards is refused with 409 `organization_has_users`: delete or move its cards first (or import an empty list with mode=replace).',
        params: IdParams,
        response: { 200: DeletedOrganization, ...errors(401, 404, 409) },
      },
    },
    async (request) => {
      await transaction((tx) => deleteOrganization(tx, request.params.id, actorOf(request)))
      return { id: request.params.id, deleted: true as const }
    },
  )

  app.put(
    '/users/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Create or update a journal user card',
        description:
          'The whole card: fields left out are cleared. A SNILS with wrong check digits is refused (`snils_checksum`) unless `invalid_snils=keep`. ' +
          'The SNILS is never returned; `snils_present`, `snils_valid` and `problems` say what the completeness report will say.',
        params: IdParams,
        querystring: UserQuery,
        body: UserBody,
        response: { 200: UserResponse, 201: UserResponse, ...errors(400, 401, 409, 422) },
      },
    },
    async (request, reply) => {
      const { child_ids: childIds, ...card } = request.body
      const checked = validateCard({ ...card, id: request.params.id }, { snilsKey: app.config.secrets.snilsHmacKey, keepInvalidSnils: request.query.invalid_snils === 'keep' })
      if (!checked.ok) throw new ApiError(400, checked.rejection.code, checked.rejection.message)
      const row = checked.row
      const written = await transaction((tx) => putUser(tx, row, childIds, actorOf(request)))
      return reply.code(written.result === 'inserted' ? 201 : 200).send({
        id: row.id,
        organization_id: row.organizationId,
        role: row.role,
        result: written.result,
        snils_present: row.snilsPresent,
        snils_valid: row.snilsValid,
        problems: written.problems,
        ...(written.childIds ? { child_ids: written.childIds } : {}),
      })
    },
  )

  app.delete(
    '/users/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Delete a journal user card',
        description: 'A link to a Госуслуги account is removed with the card (audit event `link.removed`).',
        params: IdParams,
        response: { 200: DeletedUser, ...errors(401, 404, 409) },
      },
    },
    async (request) => {
      const { linkRemoved } = await transaction((tx) => deleteUser(tx, request.params.id, actorOf(request)))
      return { id: request.params.id, deleted: true as const, link_removed: linkRemoved }
    },
  )

  const report = (reply: FastifyReply) => ({ timeoutMs: app.config.reportStatementTimeoutMs, signal: clientGoneSignal(reply) })

  app.get(
    '/reports/completeness',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: '«Контроль заполнения данных»: per organisation and role, cards without SNILS, birth date or patronymic, with invalid or shared SNILS',
        description:
          'Counts only. The cards behind them: GET /reports/completeness/problems (paged) or /reports/completeness/problems.csv. ' +
          'For older clients, `problem`, `limit` or `after` here still add the first page as `problem_cards`. ' +
          'A report past REPORT_STATEMENT_TIMEOUT_MS answers 503 `report_unavailable` with Retry-After.',
        querystring: CompletenessQuery,
        response: { 200: CompletenessResponse, ...errors(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      const filter = { organizationId: q.organization_id, role: q.role }
      const paged = q.problem !== undefined || q.limit !== undefined || q.after !== undefined
      return withReport(app.db, report(reply), async (db) => {
        const organizations = await completenessReport(db, filter)
        if (!paged) return { organizations }
        return { organizations, problem_cards: await problemCards(db, { ...filter, problem: q.problem, after: q.after, limit: q.limit ?? 100 }) }
      })
    },
  )

  app.get(
    '/reports/completeness/problems',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'The cards behind the completeness report, in id order; page with `after` = `next_after`',
        description:
          'Without `problem`: cards with any card problem. `problem=parents_without_children` («Родители без детей в журнале») or ' +
          '`children_without_parents` («Дети без родителей в журнале») lists those categories. 503 `report_unavailable` past the report timeout.',
        querystring: ProblemCardsQuery,
        response: { 200: ProblemCardsPageSchema, ...errors(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      return withReport(app.db, report(reply), (db) =>
        problemCards(db, { organizationId: q.organization_id, role: q.role, problem: q.problem, after: q.after, limit: q.limit ?? 100 }),
      )
    },
  )

  app.get(
    '/reports/completeness/problems.csv',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'All the cards behind the completeness report as CSV (UTF-8 with BOM, `;`), streamed',
        querystring: ProblemCardsCsvQuery,
        produces: ['text/csv'],
        response: { 200: Type.String(), ...errors(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query
      const rows = await problemCardsCsv(app.db, report(reply), { organizationId: q.organization_id, role: q.role, problem: q.problem }, (r) => ROLE_NAMES[r] ?? r)
      return sendCsv(reply, 'problem-cards.csv', PROBLEM_CARDS_CSV_HEADER, rows)
    },
  )

  // The import reads its body as a stream: only this route has parsers that hand over the raw body.
  const uploadRoutes: FastifyPluginAsyncTypebox = async (upload) => {
    upload.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/ndjson', 'application/octet-stream'], (_request, payload, done) => done(null, payload))
    upload.post(
      '/import',
      {
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: '«Пакетное обновление»: import a CSV or NDJSON file of cards',
          description:
            'The body is the file: `text/csv` with the header «Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор» ' +
            'and optionally «Дети» (on a parent row: the children\'s card ids separated by `,`; an empty cell: none; a child id that is no card of the directory or the file refuses the row as `unknown_child`) ' +
            '(UTF-8 or Windows-1251: send `charset=`, or it is detected), or `application/x-ndjson` (one object per line with the fields of PUT /users/{id} and `id`). ' +
            'One transaction: a file that cannot be read changes nothing; refused rows are reported with line and reason and the rest is applied. ' +
            'Re-importing the same file changes nothing.',
          querystring: ImportQuery,
          consumes: ['text/csv', 'application/x-ndjson', 'application/octet-stream'],
          response: { 200: ImportReportSchema, ...errors(400, 401, 403, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const q = request.query
        const body = request.body as AsyncIterable<unknown> | null | undefined
        if (typeof body?.[Symbol.asyncIterator] !== 'function') {
          throw new ApiError(415, 'unsupported_media_type', 'Send the file as the body with Content-Type text/csv (charset=utf-8 or windows-1251) or application/x-ndjson')
        }
        const contentType = request.headers['content-type'] ?? ''
        const format = q.format ?? (/^text\/csv/i.test(contentType) ? 'csv' : /ndjson/i.test(contentType) ? 'ndjson' : undefined)
        const charset = /;\s*charset=([^;]+)/i.exec(contentType)?.[1]?.trim()
        let report: ImportReport
        try {
          report = await importDirectory(app.db, body, {
            format,
            charset,
            dryRun: q.dry_run ?? false,
            mode: q.mode ?? 'merge',
            organizationId: q.organization_id ?? null,
            snilsKey: app.config.secrets.snilsHmacKey,
            keepInvalidSnils: q.invalid_snils === 'keep',
            actor: actorOf(request),
            maxBytes: IMPORT_MAX_BYTES,
          })
        } catch (err) {
          // Do not read the rest of an upload that is too large only to discard it.
          if (err instanceof ImportFileError && err.code === 'too_large') void reply.header('connection', 'close')
          throw apiError(err)
        }
        if (!report.dry_run) {
          for (const outcome of ['inserted', 'updated', 'unchanged', 'deleted', 'rejected'] as const) importedRows.inc({ outcome }, report[outcome])
        }
        const { timings, ...counts } = report
        request.log.info({ directoryImport: { ...counts, rejected_rows: undefined, timings } }, 'directory import')
        return report
      },
    )
  }
  await app.register(uploadRoutes)
}
