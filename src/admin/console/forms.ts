import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { inScope, scopeOf, requireCaller, type SupportCaller } from '../caller.js'
import { ApiError } from '../../http/errors.js'
import type { Queryable } from '../../db/pool.js'
import { formatDateRu } from '../../matching/dates.js'
import { html, type Html } from '../../web/html.js'
import { formatMoscowTime } from '../time.js'
import { consolePage, type ConsolePageOptions } from './layout.js'

/**
 * Small pieces every console page uses: the notice codes a redirect carries, the Post/Redirect/Get
 * step of every form, selects, dates.
 */
const Code = Type.String({ pattern: '^[a-z_]{1,40}$' })
/** `?done=` / `?error=` after a redirect: codes of the console's texts, never data. */
export const NoticeQuery = { done: Type.Optional(Code), error: Type.Optional(Code) }

export const HIDE = { hide: true }

/**
 * Post/Redirect/Get: runs the change, then sends the browser back to `back` (or where the action
 * says) with a confirmation code; a refused form (400, 409: a missing reason, a conflict) goes back with the error code, so
 * the page shows it next to the form. Other errors (403 out of scope) become an error page.
 */
export async function formAction(reply: FastifyReply, back: string, action: () => Promise<string | { done: string; to: string }>, failBack = back): Promise<FastifyReply> {
  try {
    const result = await action()
    const { done, to } = typeof result === 'string' ? { done: result, to: back } : result
    return reply.redirect(`${to}${to.includes('?') ? '&' : '?'}done=${done}`, 303)
  } catch (err) {
    if (err instanceof ApiError && (err.statusCode === 400 || err.statusCode === 409)) {
      return reply.redirect(`${failBack}${failBack.includes('?') ? '&' : '?'}error=${err.code}`, 303)
    }
    throw err
  }
}

export interface RenderOptions extends Omit<ConsolePageOptions, 'caller' | 'csrf' | 'body'> {
  /** The page body, given the CSRF token its forms carry. */
  body: (csrf: string) => Html
}

/** Renders a console page for the current caller with a fresh CSRF token; never cached. */
export function render(request: FastifyRequest, reply: FastifyReply, options: RenderOptions, status = 200): FastifyReply {
  const csrf = reply.generateCsrf()
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store')
  return reply.send(consolePage({ ...options, body: options.body(csrf), caller: requireCaller(request), csrf }))
}

export interface Option {
  value: string
  label: string
}

export function select(name: string, label: string, options: Option[], selected: string | undefined, empty = 'Все'): Html {
  return html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">
<option value="">${empty}</option>${options.map((o) => html`<option value="${o.value}"${o.value === selected ? html` selected` : ''}>${o.label}</option>`)}</select></div>`
}

export const optionsOf = (labels: Record<string, string>): Option[] => Object.entries(labels).map(([value, label]) => ({ value, label }))

/** Organisations in the caller's scope, for filters. */
export async function scopeOrganizations(db: Queryable, caller: SupportCaller): Promise<Option[]> {
  const { rows } = await db.query<{ id: string; name: string }>(`SELECT id, name FROM organizations WHERE ${inScope('id', 1)} ORDER BY name, id`, [scopeOf(caller)])
  return rows.map((r) => ({ value: r.id, label: r.name }))
}

export const day = (iso: string | null | undefined): string => (iso ? formatDateRu(iso) : '—')
export const when = (d: Date | null | undefined): string => (d ? formatMoscowTime(d) : '—')
export const fullName = (p: { lastName: string | null; firstName: string | null; middleName: string | null }): string =>
  [p.lastName, p.firstName, p.middleName].filter(Boolean).join(' ') || '—'

/** Query string of non-empty values, for pager and export links. */
export function queryString(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  const s = params.toString()
  return s ? `?${s}` : ''
}
