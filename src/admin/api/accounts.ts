import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { withTransaction } from '../../db/pool.js'
import { ApiError } from '../../http/errors.js'
import { AccountError, createAccount, findAccountById, listAccounts, updateAccount } from '../accounts.js'
import { actorOf, requireAdmin, requireCaller, type SupportCaller } from '../caller.js'
import { createApiToken, listApiTokens, revokeApiToken } from '../tokens.js'
import { Account, accountJson, errors, Id, IdParams, NewAccountBody, SECURITY, SupportRoleSchema, TAGS } from './schemas.js'

/** Account errors as API errors: a taken login is a conflict, the rest are bad requests. */
export function accountApiError(err: unknown): never {
  if (err instanceof AccountError) throw new ApiError(err.code === 'login_taken' ? 409 : 400, err.code, err.message)
  throw err
}

const Me = Type.Object({
  id: Type.String(),
  login: Type.String(),
  role: SupportRoleSchema,
  organization_ids: Type.Union([Type.Array(Type.String()), Type.Null()]),
  via: Type.String(),
})

const TokenSchema = Type.Object({ id: Type.String(), account_id: Type.String(), name: Type.String(), created_at: Type.String(), last_used_at: Type.Union([Type.String(), Type.Null()]) })
const NewToken = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), account_id: Type.Optional(Id) }, { additionalProperties: false })

/** Tokens belong to an account; the bootstrap caller has none and must name one. */
function tokenOwner(caller: SupportCaller, accountId: string | undefined): string {
  const owner = accountId ?? (caller.via === 'bootstrap' ? undefined : caller.id)
  if (!owner) throw new ApiError(400, 'account_required', 'The bootstrap token has no account of its own: give account_id')
  if (owner !== caller.id) requireAdmin(caller)
  return owner
}

export const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/me', { schema: { tags: TAGS, security: SECURITY, summary: 'The calling support account', response: { 200: Me, ...errors() } } }, async (request) => {
    const caller = requireCaller(request)
    return { id: caller.id, login: caller.login, role: caller.role, organization_ids: caller.organizationIds, via: caller.via }
  })

  app.get('/accounts', { schema: { tags: TAGS, security: SECURITY, summary: 'Support accounts (admin)', response: { 200: Type.Object({ accounts: Type.Array(Account) }), ...errors(403) } } }, async (request) => {
    requireAdmin(requireCaller(request))
    return { accounts: (await listAccounts(app.db)).map(accountJson) }
  })

  app.post(
    '/accounts',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Create a support account (admin; BOOTSTRAP_ADMIN_TOKEN creates the first admin)',
        description: 'Without `password` one is generated and returned once in `password`; it is not stored in clear and cannot be shown again.',
        body: NewAccountBody,
        response: { 201: Type.Object({ account: Account, password: Type.Optional(Type.String()) }), ...errors(400, 403, 409) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      requireAdmin(caller)
      const b = request.body
      const created = await withTransaction(app.db, (tx) =>
        createAccount(tx, { login: b.login, role: b.role, organizationIds: b.organization_ids ?? null, ...(b.password ? { password: b.password } : {}), actor: actorOf(caller) }),
      ).catch(accountApiError)
      reply.header('cache-control', 'no-store')
      return reply.code(201).send({ account: accountJson(created.account), ...(created.generatedPassword ? { password: created.generatedPassword } : {}) })
    },
  )

  app.patch(
    '/accounts/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Change role, organisations or the disabled flag of an account (admin); ends its sessions',
        params: IdParams,
        body: Type.Object(
          {
            role: Type.Optional(SupportRoleSchema),
            organization_ids: Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000 }), Type.Null()])),
            disabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ account: Account }), ...errors(400, 403, 404) },
      },
    },
    async (request) => {
      const caller = requireCaller(request)
      requireAdmin(caller)
      if (request.params.id === caller.id && request.body.disabled) throw new ApiError(400, 'self_disable', 'You cannot disable your own account')
      const b = request.body
      const account = await withTransaction(app.db, (tx) =>
        updateAccount(tx, request.params.id, { ...(b.role ? { role: b.role } : {}), ...(b.organization_ids !== undefined ? { organizationIds: b.organization_ids } : {}), ...(b.disabled !== undefined ? { disabled: b.disabled } : {}) }, actorOf(caller)),
      ).catch(accountApiError)
      if (!account) throw new ApiError(404, 'not_found', 'No such account')
      return { account: accountJson(account) }
    },
  )

  app.get(
    '/tokens',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'API tokens of an account (your own unless an admin names account_id); never the tokens themselves',
        querystring: Type.Object({ account_id: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 200: Type.Object({ tokens: Type.Array(TokenSchema) }), ...errors(400, 403) },
      },
    },
    async (request) => {
      const owner = tokenOwner(requireCaller(request), request.query.account_id)
      const tokens = await listApiTokens(app.db, owner)
      return { tokens: tokens.map((t) => ({ id: t.id, account_id: t.accountId, name: t.name, created_at: t.createdAt.toISOString(), last_used_at: t.lastUsedAt?.toISOString() ?? null })) }
    },
  )

  app.post(
    '/tokens',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Create an API token; the token is in the response once and is stored only as SHA-256',
        body: NewToken,
        response: { 201: Type.Object({ id: Type.String(), name: Type.String(), token: Type.String() }), ...errors(400, 403, 404) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const owner = tokenOwner(caller, request.body.account_id)
      const account = await findAccountById(app.db, owner)
      if (!account || account.disabled) throw new ApiError(404, 'not_found', 'No such enabled account')
      const { token, secret } = await withTransaction(app.db, (tx) => createApiToken(tx, owner, request.body.name, actorOf(caller)))
      reply.header('cache-control', 'no-store')
      return reply.code(201).send({ id: token.id, name: token.name, token: secret })
    },
  )

  app.delete(
    '/tokens/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Revoke an API token (your own; an admin names account_id for another account’s)',
        params: IdParams,
        querystring: Type.Object({ account_id: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errors(400, 403, 404) },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      const owner = tokenOwner(caller, request.query.account_id)
      if (!(await withTransaction(app.db, (tx) => revokeApiToken(tx, owner, request.params.id, actorOf(caller))))) throw new ApiError(404, 'not_found', 'No such token')
      return reply.code(204).send(null)
    },
  )
}
