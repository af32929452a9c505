import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UpstreamError, type UpstreamLogin, type VerifiedPerson } from '../upstream/types.js'
import type { BrowserHash } from './browser.js'
import { saveFlowState, type FlowState } from './flow-state.js'

/**
 * The trip to the upstream IdP and back, shared by the link and login flows: start stores the
 * transaction bound to the browser and returns where to send it; finish turns the callback into a
 * verified login or a typed upstream error; the person's data is fetched only by a flow that needs it.
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

export type UpstreamResult = { ok: true; login: UpstreamLogin } | { ok: false; error: UpstreamError }
export type PersonResult = { ok: true; person: VerifiedPerson } | { ok: false; error: UpstreamError }

/** Exchanges the callback's code (once: the flow state is already consumed) and verifies the login. */
export async function finishUpstream(app: FastifyInstance, request: FastifyRequest, flow: FlowState): Promise<UpstreamResult> {
  try {
    const login = await adapter(app).authenticate({ callbackUrl: new URL(request.url, app.config.publicUrl), redirectUri: callbackUrl(app), transaction: flow.transaction })
    return { ok: true, login }
  } catch (err) {
    if (err instanceof UpstreamError) return { ok: false, error: err }
    throw err
  }
}

/** The person's data of a verified login (fetched once), or why the upstream would not give it. */
export async function personOf(result: UpstreamResult): Promise<PersonResult> {
  if (!result.ok) return result
  try {
    return { ok: true, person: await result.login.person() }
  } catch (err) {
    if (err instanceof UpstreamError) return { ok: false, error: err }
    throw err
  }
}
