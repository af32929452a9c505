import type { FastifyRequest } from 'fastify'
import type { Queryable } from '../db/pool.js'
import { bearerToken, tokenEquals } from '../http/auth.js'
import { ApiError } from '../http/errors.js'
import type { AuditActor } from '../linking/audit.js'
import { findAccountById, type SupportRole } from './accounts.js'
import { accountIdForToken } from './tokens.js'

/**
 * Who is acting in the admin API or console, and over which organisations. Authorisation lives here
 * and nowhere else: routes resolve the caller once (a preHandler), every query takes its scope from
 * `scopeOf`, and every write passes `requireWriter`.
 *
 * Out-of-scope policy: for a caller limited to some organisations, an id that is not visible in the
 * scope answers 403 `forbidden` whether it belongs to another organisation or does not exist at all,
 * with the same body — so a school cannot probe which ids other schools have. Callers who see every
 * organisation get 404 for ids that do not exist. A filter naming an organisation outside the scope
 * is a 403 too, never a silently empty list.
 */
export interface SupportCaller {
  /** Support account id, or 'bootstrap' for BOOTSTRAP_ADMIN_TOKEN. */
  id: string
  login: string
  role: SupportRole
  /** null: every organisation. */
  organizationIds: string[] | null
  via: 'session' | 'token' | 'bootstrap'
}

declare module 'fastify' {
  interface FastifyRequest {
    supportCaller: SupportCaller | null
  }
}

export const BOOTSTRAP_CALLER: SupportCaller = { id: 'bootstrap', login: 'bootstrap', role: 'admin', organizationIds: null, via: 'bootstrap' }

export const actorOf = (caller: SupportCaller): AuditActor => ({ kind: 'support', id: caller.id })

export async function callerForAccount(db: Queryable, accountId: string, via: SupportCaller['via']): Promise<SupportCaller | undefined> {
  const account = await findAccountById(db, accountId)
  if (!account || account.disabled) return undefined
  return { id: account.id, login: account.login, role: account.role, organizationIds: account.organizationIds, via }
}

/** API authentication: BOOTSTRAP_ADMIN_TOKEN (full rights, actor `bootstrap`) or a support API token. */
export async function callerFromBearer(request: FastifyRequest): Promise<SupportCaller> {
  const token = bearerToken(request.headers.authorization)
  if (token === undefined) throw new ApiError(401, 'unauthorized', 'Send a support API token as a bearer token')
  if (tokenEquals(token, request.server.config.bootstrapAdminToken)) return BOOTSTRAP_CALLER
  const accountId = await accountIdForToken(request.server.db, token)
  const caller = accountId ? await callerForAccount(request.server.db, accountId, 'token') : undefined
  if (!caller) throw new ApiError(401, 'unauthorized', 'Unknown or revoked API token')
  return caller
}

export function requireCaller(request: FastifyRequest): SupportCaller {
  if (!request.supportCaller) throw new ApiError(401, 'unauthorized', 'Authentication required')
  return request.supportCaller
}

/** The organisations a query may touch: null for every one, else the caller's list. */
export const scopeOf = (caller: SupportCaller): string[] | null => caller.organizationIds

export function canSee(caller: SupportCaller, organizationId: string | null | undefined): boolean {
  if (caller.organizationIds === null) return true
  return organizationId != null && caller.organizationIds.includes(organizationId)
}

export const outOfScope = () => new ApiError(403, 'forbidden', 'This record is not in your organisations')

/** For ids: not visible to this caller → 403 (limited scope) or 404 (caller sees everything). */
export function notVisible(caller: SupportCaller, what: string): ApiError {
  return caller.organizationIds === null ? new ApiError(404, 'not_found', `No such ${what}`) : outOfScope()
}

/** A filter naming an organisation must name one of the caller's. */
export function checkOrganizationFilter(caller: SupportCaller, organizationId: string | undefined): void {
  if (organizationId !== undefined && !canSee(caller, organizationId)) throw outOfScope()
}

export function requireWriter(caller: SupportCaller): void {
  if (caller.role === 'auditor') throw new ApiError(403, 'read_only', 'An auditor account can read, not change')
}

/** Records that span every organisation (destruction records): an admin, or an auditor of them all. */
export function requireEveryOrganization(caller: SupportCaller): void {
  if (caller.organizationIds !== null) throw new ApiError(403, 'forbidden', 'Only a caller who sees every organisation can read this')
}

export function requireAdmin(caller: SupportCaller): void {
  if (caller.role !== 'admin') throw new ApiError(403, 'admin_only', 'Only an admin can do this')
}

/**
 * SQL fragment restricting `column` to the scope passed as parameter `$n` (a text[] or NULL).
 * Every admin query that lists rows uses it, so the rule is written once.
 */
export const inScope = (column: string, n: number): string => `($${n}::text[] IS NULL OR ${column} = ANY($${n}::text[]))`
