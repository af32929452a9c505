import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Type, type Static } from 'typebox'
import { publicRateLimit } from '../http/rate-limit.js'
import { describeReason } from '../matching/messages.js'
import { browserHash, isHttps, type BrowserHash } from './browser.js'
import { consumeFlowState, FLOW_STATE_TTL_S, purgeExpiredFlowStates, type FlowKind, type FlowState, type FlowStateRefusal, type TakenFlow } from './flow-state.js'
import { loginCookieHeader, loginCookieName, loginCookiePrefix, loginStateExpired, loginStateIssuedAt, loginStateOfCookie, openLogin } from './login-state.js'
import { consumeLoginState } from './login-record.js'
import { flowMetrics } from './metrics.js'
import { htmlErrorHandler, messagePage, OTHER_BROWSER, sendPage } from './pages.js'
import { callbackPath, decorateLoginStateKeys, finishUpstream, type UpstreamResult } from './upstream-leg.js'

/**
 * GET /auth/callback — where the upstream IdP sends the person back, for every flow. It takes the
 * flow state once (a link's row, deleted; a login's sealed cookie, opened, its state recorded as
 * used and the cookie cleared), checks it belongs to this browser, asks the upstream for the person,
 * and hands over to the finisher of the flow's kind. A replayed, forged, expired or other-browser
 * callback stops here: a Russian page, no upstream call, nothing written.
 */
export interface CallbackContext {
  request: FastifyRequest
  reply: FastifyReply
  browser: BrowserHash
  flow: FlowState
  upstream: UpstreamResult
}
export type CallbackFinisher = (ctx: CallbackContext) => Promise<FastifyReply>

declare module 'fastify' {
  interface FastifyInstance {
    /** Finishers by flow kind; each flow registers its own with `registerCallbackFinisher`. */
    callbackFinishers: Map<FlowKind, CallbackFinisher>
  }
}

/** How a flow plugin (link, login) takes over its callbacks. */
export function registerCallbackFinisher(app: FastifyInstance, kind: FlowKind, finisher: CallbackFinisher): void {
  if (app.callbackFinishers.has(kind)) throw new Error(`A callback finisher for ${kind} flows is already registered`)
  app.callbackFinishers.set(kind, finisher)
}

// The upstream may add parameters of its own; only these are read.
const CallbackQuery = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 500 })),
  code: Type.Optional(Type.String({ maxLength: 4000 })),
  error: Type.Optional(Type.String({ maxLength: 500 })),
  error_description: Type.Optional(Type.String({ maxLength: 2000 })),
  iss: Type.Optional(Type.String({ maxLength: 500 })),
})
type CallbackQuery = Static<typeof CallbackQuery>

/**
 * A login's flow from its sealed cookie (src/flows/login-state.ts), or, for a state that is not a
 * login state of ours, the `flow_states` row. Told apart without the database: a state we issued
 * that is past its time (expired), whose cookie this browser does not have (another browser — or
 * this one after the callback cleared it, which the used-states table tells), or whose cookie is
 * not ours (unknown).
 */
async function takeFlow(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, state: string, browser: BrowserHash | undefined): Promise<TakenFlow> {
  const keys = app.loginStateKeys
  const issuedAt = loginStateIssuedAt(keys, state)
  if (issuedAt === undefined) return consumeFlowState(app.db, state, browser)
  const https = isHttps(request)
  const name = loginCookieName(state, https)
  sweepAbandonedLoginCookies(app, request, reply, https, name)
  const sealed = request.cookies[name]
  const clearCookie = () => {
    if (sealed !== undefined) reply.header('set-cookie', loginCookieHeader(name, undefined, https, callbackPath))
  }
  if (loginStateExpired(issuedAt)) {
    clearCookie()
    return { ok: false, refusal: 'expired', kind: 'login' }
  }
  const opened = sealed ? openLogin(keys, state, sealed) : undefined
  if (sealed && !opened) {
    clearCookie()
    return { ok: false, refusal: 'unknown', kind: 'login' }
  }
  if (!opened || !browser || !opened.browser.equals(browser)) {
    const { rowCount } = await app.db.query({ name: 'flow.login-state-used', text: 'SELECT 1 FROM consumed_login_states WHERE state = $1', values: [state] })
    return { ok: false, refusal: rowCount ? 'unknown' : 'other_browser', kind: 'login' }
  }
  // Used once, from here: recorded before ЕСИА's code is redeemed, so a reload or a copied cookie
  // arriving while this callback is still at Госуслуги stops here instead of redeeming it again.
  // A database that cannot record it answers 503 before the code is spent, the cookie kept.
  const fresh = await consumeLoginState(app.db, state, issuedAt + FLOW_STATE_TTL_S)
  clearCookie()
  if (!fresh) return { ok: false, refusal: 'unknown', kind: 'login' }
  return {
    ok: true,
    browser,
    flow: { kind: 'login', transaction: opened.transaction, linkIntentId: null, authorizeRequest: opened.authorizeRequest },
  }
}

/**
 * Every login started and given up leaves its cookie until its Max-Age. Many in a row (a person
 * pressing «Войти через Госуслуги» and coming back, over and over) would make the Cookie header of
 * the next callback too long for nginx (8 KiB per line by default) or Node (16 KiB in all): a login
 * cookie whose state is past its time, or not ours, is cleared by whichever callback sees it.
 */
function sweepAbandonedLoginCookies(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, https: boolean, current: string): void {
  const prefix = loginCookiePrefix(https)
  for (const name in request.cookies) {
    if (name === current || !name.startsWith(prefix)) continue
    const state = loginStateOfCookie(name, https)
    const issuedAt = state === undefined ? undefined : loginStateIssuedAt(app.loginStateKeys, state)
    if (issuedAt === undefined || loginStateExpired(issuedAt)) reply.header('set-cookie', loginCookieHeader(name, undefined, https, callbackPath))
  }
}

export const callbackRoutes = fp(
  async (app) => {
    app.decorate('callbackFinishers', new Map<FlowKind, CallbackFinisher>())
    decorateLoginStateKeys(app)
    app.housekeeping.add({ name: 'flow_states', run: () => purgeExpiredFlowStates(app.db) })
    const metrics = flowMetrics(app)
    const expired = (kind: FlowKind = 'link') => messagePage([describeReason('flow_expired', kind)])

    app.get<{ Querystring: CallbackQuery }>(
      callbackPath,
      { schema: { hide: true, querystring: CallbackQuery }, config: publicRateLimit(app), errorHandler: htmlErrorHandler('link') },
      async (request, reply) => {
        const browser = browserHash(request)
        const state = request.query.state
        if (!state) {
          metrics.refused('missing_state')
          return sendPage(reply, 400, expired())
        }
        const refuse = (refusal: FlowStateRefusal, kind?: FlowKind) => {
          metrics.refused(refusal)
          if (refusal === 'other_browser') return sendPage(reply, 400, messagePage([OTHER_BROWSER[kind ?? 'link']]))
          return sendPage(reply, 400, expired(kind))
        }
        const taken = await takeFlow(app, request, reply, state, browser)
        if (!taken.ok) return refuse(taken.refusal, taken.kind)
        const finisher = app.callbackFinishers.get(taken.flow.kind)
        if (!finisher) {
          request.log.error({ kind: taken.flow.kind }, 'no finisher registered for this flow kind')
          return sendPage(reply, 400, expired())
        }
        const upstream = await finishUpstream(app, request, taken.flow)
        return finisher({ request, reply, browser: taken.browser, flow: taken.flow, upstream })
      },
    )
  },
  { name: 'flow-callback', dependencies: ['housekeeping', 'metrics'] },
)
