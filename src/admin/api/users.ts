import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { auditJson, AuditEntrySchema, attemptJson, errors, FailedAttemptSchema, Id, IdParams, LinkSchema, linkJson, Reason, ReasonBody, RoleSchema, SECURITY, TAGS, UserSummarySchema, userJson } from './schemas.js'
import { CardProblemSchema } from '../../directory/schemas.js'
import { listFailedAttempts } from '../attempts.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, inScope, requireCaller, scopeOf } from '../caller.js'
import { moveLink, unlinkUser } from '../link-actions.js'
import { readUserCard, searchFilterNames, searchUsers } from '../users.js'

const SearchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200, description: 'Фамилия [Имя [Отчество]]: surname exact, the rest as prefixes, after normalisation' })),
    snils: Type.Optional(Type.String({ maxLength: 30, description: 'A SNILS typed in full (11 digits, any separators); compared by HMAC, never stored or logged' })),
    organization_id: Type.Optional(Type.String({ maxLength: 128 })),
    role: Type.Optional(RoleSchema),
    link_state: Type.Optional(Type.Union([Type.Literal('linked'), Type.Literal('unlinked')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
  },
  { additionalProperties: false },
)

const Organization = Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String(), municipality: Type.Union([Type.String(), Type.Null()]) })


const UserCardSchema = Type.Object({
  user: UserSummarySchema,
  problems: Type.Array(CardProblemSchema),
  snils_shared_with: Type.Array(Type.String()),
  related: Type.Array(Type.Object({ id: Type.String(), relation: Type.String(), last_name: Type.String(), first_name: Type.String(), middle_name: Type.Union([Type.String(), Type.Null()]), role: Type.String() })),
  link: Type.Union([LinkSchema, Type.Null()]),
  history: Type.Array(AuditEntrySchema),
  failed_attempts: Type.Array(FailedAttemptSchema),
})

export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/organizations',
    { schema: { tags: TAGS, security: SECURITY, summary: 'Organisations in your scope', response: { 200: Type.Object({ organizations: Type.Array(Organization) }), ...errors() } } },
    async (request) => {
      const caller = requireCaller(request)
      const { rows } = await app.db.query(`SELECT id, name, kind, municipality FROM organizations WHERE ${inScope('id', 1)} ORDER BY name, id`, [scopeOf(caller)])
      return { organizations: rows }
    },
  )

  app.post(
    '/users/search',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Search journal users in your organisations',
        description: 'POST so that a SNILS or a name never appears in a URL. Recorded as `support.search` with the names of the filters used, never their values.',
        body: SearchBody,
        response: { 200: Type.Object({ users: Type.Array(UserSummarySchema), more: Type.Boolean() }), ...errors(400, 403) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      const b = request.body
      checkOrganizationFilter(caller, b.organization_id)
      const search = { name: b.name, snils: b.snils, organizationId: b.organization_id, role: b.role, linkState: b.link_state, limit: b.limit ?? 50, offset: b.offset ?? 0 }
      const result = await searchUsers(app.db, app.config.secrets.snilsHmacKey, caller, search)
      await auditSupportRead(app.db, caller, 'support.search', { organizationId: b.organization_id ?? null, details: { filters: searchFilterNames(search), results: result.users.length } })
      return { users: result.users.map(userJson), more: result.more }
    },
  )

  app.get(
    '/users/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'A user card: directory data and its problems, link, audit history, recent failed attempts',
        description: 'Recorded as `support.user_viewed`.',
        params: IdParams,
        response: { 200: UserCardSchema, ...errors(403, 404) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      const card = await readUserCard(app.db, caller, request.params.id)
      const attempts = await listFailedAttempts(app.db, caller, { journalUserId: card.user.id, state: 'all' }, 20)
      await auditSupportRead(app.db, caller, 'support.user_viewed', { journalUserId: card.user.id, organizationId: card.user.organizationId })
      return {
        user: userJson(card.user),
        problems: card.problems,
        snils_shared_with: card.sharedSnilsWith,
        related: card.related.map((r) => ({ id: r.id, relation: r.relation, last_name: r.lastName, first_name: r.firstName, middle_name: r.middleName, role: r.role })),
        link: card.link ? linkJson(card.link) : null,
        history: card.history.map(auditJson),
        failed_attempts: attempts.attempts.map(attemptJson),
      }
    },
  )

  app.post(
    '/users/:id/unlink',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Remove the link of a journal user (reason required) → `link.removed`',
        params: IdParams,
        body: ReasonBody,
        response: { 200: Type.Object({ removed: LinkSchema }), ...errors(400, 403, 404, 409) },
      },
    },
    async (request) => {
      const removed = await unlinkUser(app.db, requireCaller(request), request.params.id, request.body.reason)
      return { removed: linkJson(removed) }
    },
  )

  app.post(
    '/users/:id/move-link',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Move the link of a journal user to another one in your organisations (reason required)',
        description: '`link.removed` on the source and `link.created` with method `support_move` on the target, in one transaction. The target must have no link.',
        params: IdParams,
        body: Type.Object({ to_journal_user_id: Id, reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: Type.Object({ removed: LinkSchema, link: LinkSchema }), ...errors(400, 403, 404, 409) },
      },
    },
    async (request) => {
      const { removed, link } = await moveLink(app.db, requireCaller(request), request.params.id, request.body.to_journal_user_id, request.body.reason)
      return { removed: linkJson(removed), link: linkJson(link) }
    },
  )
}
