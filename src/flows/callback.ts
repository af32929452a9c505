import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Type, type Static } from 'typebox'
import { publicRateLimit } from '../http/rate-limit.js'
import { describeReason } from '../matching/messages.js'
import { browserHash, type BrowserHash } from './browser.js'
import { consumeFlowState, purgeExpiredFlowStates, type FlowKind, type FlowState } from './flow-state.js'
import { flowMetrics } from './metrics.js'
import { htmlErrorHandler, messagePage, OTHER_BROWSER, sendPage } from './pages.js'
import { callbackPath, finishUpstream, type UpstreamResult } from './upstream-leg.js'

/**
 * GET /auth/callback — where the upstream IdP sends the person back, for every flow. It takes the
 * flow state once (bound to this browser), asks the upstream for the person, and hands over to the
 * finisher of the flow's kind. A replayed, forged, expired or other-browser callback stops here:
 * a Russian page, no upstream call, nothing written.
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

export const callbackRoutes = fp(
  async (app) => {
    app.decorate('callbackFinishers', new Map<FlowKind, CallbackFinisher>())
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
        const taken = await consumeFlowState(app.db, state, browser)
        if (!taken.ok) {
          metrics.refused(taken.refusal)
          if (taken.refusal === 'other_browser') return sendPage(reply, 400, messagePage([OTHER_BROWSER[taken.kind ?? 'link']]))
          return sendPage(reply, 400, expired(taken.kind))
        }
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
