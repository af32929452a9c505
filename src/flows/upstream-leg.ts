import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UpstreamError, type VerifiedPerson } from '../upstream/types.js'
import type { BrowserHash } from './browser.js'
import { saveFlowState, type FlowState } from './flow-state.js'

/**
 * The trip to the upstream IdP and back, shared by the link and login flows: start stores the
 * transaction bound to the browser and returns where to send it; finish turns the callback into a
 * verified person or a typed upstream error.
 */
export const callbackPath = '/auth/callback'
export const callbackUrl = (app: FastifyInstance): string => `${app.config.publicUrl}${callbackPath}`

function adapter(app: FastifyInstance) {
  if (!app.upstream) throw new UpstreamError('configuration', 'unavailable', 'No upstream adapter is configured')
  return app.upstream
}

/** Starts an upstream login for this browser; returns the authorization URL to redirect to. */
export async function startUpstream(app: FastifyInstance, browser: BrowserHash, flow: Omit<FlowState, 'transaction'>): Promise<string> {
  const { url, transaction } = await adapter(app).start({ redirectUri: callbackUrl(app) })
  await saveFlowState(app.db, browser, { ...flow, transaction })
  return url
}

export type UpstreamResult = { ok: true; person: VerifiedPerson } | { ok: false; error: UpstreamError }

/** Exchanges the callback's code (once: the flow state is already consumed) and verifies the person. */
export async function finishUpstream(app: FastifyInstance, request: FastifyRequest, flow: FlowState): Promise<UpstreamResult> {
  try {
    const person = await adapter(app).finish({ callbackUrl: new URL(request.url, app.config.publicUrl), redirectUri: callbackUrl(app), transaction: flow.transaction })
    return { ok: true, person }
  } catch (err) {
    if (err instanceof UpstreamError) return { ok: false, error: err }
    throw err
  }
}
