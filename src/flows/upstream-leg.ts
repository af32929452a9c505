import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { UpstreamError, type UpstreamLogin, type VerifiedPerson } from '../upstream/types.js'
import { isHttps, type BrowserHash } from './browser.js'
import { saveFlowState, type FlowState } from './flow-state.js'
import { issueLoginState, loginCookieBound, loginCookieHeader, loginCookieName, loginStateKeys, sealLogin, type LoginStateKeys } from './login-state.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The keys of the login's self-authenticating state and sealed cookie (src/flows/login-state.ts). */
    loginStateKeys: LoginStateKeys
  }
}

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

/**
 * A login's cookie is ≈ 0.6 KB with an ordinary journal request. Each login started in a browser and
 * not finished within ten minutes sends its cookie to the next callback, and proxies refuse a long
 * Cookie line (nginx: 8 KiB by default): a journal request with a long state or nonce (up to 512
 * characters each, ≈ 1.9 KB sealed) keeps its transaction in a row instead, so a dozen logins
 * under way at once still pass.
 */
const MAX_LOGIN_COOKIE = 1024

/**
 * Starts an upstream login for this browser: a self-authenticating state, and the transaction with
 * the journal's request sealed into a cookie for the callback path — nothing written to the
 * database (docs/decisions/0016-login-flow-state-in-a-sealed-cookie.md).
 */
export async function startLoginUpstream(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, browser: BrowserHash, authorizeRequest: Record<string, unknown>): Promise<string> {
  // Decided before the upstream is asked: with ЕСИА, starting signs a message, and a GOST signature
  // is too dear to make twice.
  if (loginCookieBound(authorizeRequest) > MAX_LOGIN_COOKIE) return startUpstream(app, browser, { kind: 'login', linkIntentId: null, authorizeRequest })
  const keys = app.loginStateKeys
  const { url, transaction } = await adapter(app).start({ redirectUri: callbackUrl(app), state: issueLoginState(keys) })
  const https = isHttps(request)
  const name = loginCookieName(transaction.state, https)
  const sealed = sealLogin(keys, { browser, transaction, authorizeRequest })
  reply.header('set-cookie', loginCookieHeader(name, sealed, https, callbackPath))
  return url
}

/** The keys, derived once per app from COOKIE_SECRET. */
export const decorateLoginStateKeys = (app: FastifyInstance): void => {
  if (!app.hasDecorator('loginStateKeys')) app.decorate('loginStateKeys', loginStateKeys(app.config.secrets.cookieSecret))
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
