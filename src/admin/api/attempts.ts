import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { listFailedAttempts, readFailedAttempt } from '../attempts.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { linkFromAttempt, resolveAttempt } from '../link-actions.js'
import { AttemptParams, attemptJson, errors, FailedAttemptSchema, Id, LinkSchema, linkJson, Reason, ReasonBody, RowId, SECURITY, TAGS } from './schemas.js'

const AttemptQuery = Type.Object(
  {
    organization_id: Type.Optional(Type.String({ maxLength: 128 })),
    journal_user_id: Type.Optional(Id),
    flow: Type.Optional(Type.Union([Type.Literal('link'), Type.Literal('login')])),
    reason: Type.Optional(Type.String({ maxLength: 100, description: 'A reason code, e.g. mismatch:birth_date' })),
    state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')], { default: 'open' })),
    before_id: Type.Optional(RowId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  { additionalProperties: false },
)

/**
 * Failed attempts (kept FAILED_ATTEMPT_RETENTION_DAYS, then purged by housekeeping): reading them
 * shows ЕСИА-side names, so every read is recorded (`support.failed_attempts_viewed`).
 */
export const attemptRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/failed-attempts',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Failed link and login attempts in your organisations, newest first, with the field-by-field comparison',
        querystring: AttemptQuery,
        response: { 200: Type.Object({ attempts: Type.Array(FailedAttemptSchema), next_before_id: Type.Union([Type.Integer(), Type.Null()]) }), ...errors(400, 403) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      const q = request.query
      checkOrganizationFilter(caller, q.organization_id)
      const { attempts, nextBeforeId } = await listFailedAttempts(
        app.db,
        caller,
        { organizationId: q.organization_id, journalUserId: q.journal_user_id, flow: q.flow, reason: q.reason, state: q.state, beforeId: q.before_id },
        q.limit ?? 50,
      )
      await auditSupportRead(app.db, caller, 'support.failed_attempts_viewed', { organizationId: q.organization_id ?? null, details: { results: attempts.length } })
      return { attempts: attempts.map(attemptJson), next_before_id: nextBeforeId }
    },
  )

  app.get(
    '/failed-attempts/:id',
    { schema: { tags: TAGS, security: SECURITY, summary: 'One failed attempt', params: AttemptParams, response: { 200: FailedAttemptSchema, ...errors(403, 404) } } },
    async (request) => {
      const caller = requireCaller(request)
      const attempt = await readFailedAttempt(app.db, caller, request.params.id)
      await auditSupportRead(app.db, caller, 'support.failed_attempt_viewed', { journalUserId: attempt.journalUserId, organizationId: attempt.organizationId, details: { failed_attempt_id: attempt.id } })
      return attemptJson(attempt)
    },
  )

  app.post(
    '/failed-attempts/:id/link',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: '«Связать вопреки расхождению»: link the attempt’s ЕСИА subject to the card despite the mismatch (reason required)',
        description:
          'Creates the link with method `support_override` and the attempt’s reasons as `mismatches`, and marks the attempt resolved, in one transaction. ' +
          'Only for data mismatches (`mismatch:*`, `not_found`, `ambiguous`) of a confirmed account; `journal_user_id` names the card when the attempt has none.',
        params: AttemptParams,
        body: Type.Object({ reason: Type.Optional(Reason), journal_user_id: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 200: Type.Object({ link: LinkSchema, replaced: Type.Union([LinkSchema, Type.Null()]) }), ...errors(400, 403, 404, 409) },
      },
    },
    async (request) => {
      const { link, replaced } = await linkFromAttempt(app.db, requireCaller(request), request.params.id, { reason: request.body.reason, journalUserId: request.body.journal_user_id })
      return { link: linkJson(link), replaced: replaced ? linkJson(replaced) : null }
    },
  )

  app.post(
    '/failed-attempts/:id/resolve',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Mark an attempt dealt with, without linking (reason required) → `support.failed_attempt_resolved`',
        params: AttemptParams,
        body: ReasonBody,
        response: { 204: Type.Null(), ...errors(400, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await resolveAttempt(app.db, requireCaller(request), request.params.id, request.body.reason)
      return reply.code(204).send(null)
    },
  )
}
