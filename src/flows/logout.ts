import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { compactVerify, createLocalJWKSet, decodeJwt } from 'jose'
import { Type, type Static } from 'typebox'
import { publicRateLimit } from '../http/rate-limit.js'
import { ALG } from '../oidc-provider/keys.js'
import { endBrowserSessions, sidMadeIn } from '../events/sessions.js'
import { browserHash } from './browser.js'
import { loggedOutPage, logoutQuestionPage } from './login-pages.js'
import { forgetPendingLogins } from './login-pending.js'
import { htmlErrorHandler, sendPage } from './pages.js'

/**
 * GET /oauth2/logout — OpenID Connect RP-Initiated Logout 1.0, for the journal's «Выйти».
 *
 * The bridge keeps no login session of its own (every «Войти через Госуслуги» goes to Госуслуги),
 * so ending "the bridge's session" means forgetting the pending chooser or failure pages of this
 * browser. The remembered choice of «Выберите организацию» stays: it exists for the next login,
 * which usually follows a logout, and it preselects nothing for anyone else (chooser.ts). What does
 * keep a session is Госуслуги: on a shared school computer the next «Войти через Госуслуги» would
 * otherwise let the next person in as the previous one. So the browser passes through the upstream's
 * logout (ЕСИА `/idp/ext/Logout?client_id&redirect_url`) and comes back to /oauth2/logout/done,
 * which sends it on to the journal.
 *
 * Logging out here ends the browser's logins at the bridge: each journal they were for that
 * registered a backchannel_logout_uri gets a logout token (OpenID Connect Back-Channel Logout 1.0),
 * so a journal session opened through Госуслуги on this computer ends even where the journal itself
 * was not asked to log out.
 *
 * A logout no journal vouched for is asked first (OpenID Connect RP-Initiated Logout 1.0 §2): any
 * site can send a browser here, and without the question it could log the person out of every
 * journal at once. A journal vouches with an `id_token_hint` that is an ID token of ours from a login
 * made in this very browser (its `sid` is tagged with the browser: src/events/sessions.ts) — anyone
 * can get an ID token of their own, so the signature alone proves nothing about whose browser it is. The page «Выйти из
 * журнала?» posts the journal's parameters back with a CSRF token; only then does the logout happen.
 * The endpoint takes POST as well as GET (§2), so a journal may also post its parameters itself.
 *
 * No open redirect: the browser goes back only to a `post_logout_redirect_uri` registered, exactly,
 * for the client named by a verified `id_token_hint` (ours, expired accepted: the journal's session
 * may well have outlived the ID token) or by `client_id`. Anything else still logs out, and shows
 * our page instead of redirecting.
 */
const param = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
const LogoutQuery = Type.Object(
  { id_token_hint: param(8192), post_logout_redirect_uri: param(2000), state: param(512), client_id: param(128) },
  { additionalProperties: true },
)
type LogoutQuery = Static<typeof LogoutQuery>
const LogoutForm = Type.Object(
  { ...LogoutQuery.properties, _csrf: param(200) },
  { additionalProperties: true },
)
type LogoutForm = Static<typeof LogoutForm>

const LOGOUT_PATH = '/oauth2/logout'

const DONE_PATH = '/oauth2/logout/done'
/** Enough for a trip through ЕСИА's logout and back. */
const RETURN_COOKIE_S = 600

const isHttps = (app: FastifyInstance) => app.config.publicUrl.startsWith('https://')
const returnCookieName = (app: FastifyInstance) => (isHttps(app) ? '__Host-bridge-logout' : 'bridge-logout')

/** Where to send the browser when logout is done: a client and one of its registered addresses. */
interface LogoutReturn {
  clientId: string
  uri: string
  state: string | undefined
}

/**
 * The client an `id_token_hint` was issued to, and its login's `sid`, if it is an ID token we signed
 * (any key still published; expiry ignored on purpose). Only an ID token (`typ: JWT`) is a hint: a
 * link token, a Security Event Token or a logout token is signed by us too, and names no login.
 */
async function hintedLogin(app: FastifyInstance, hint: string): Promise<{ clientId: string; sid: string | undefined } | undefined> {
  try {
    const { protectedHeader } = await compactVerify(hint, createLocalJWKSet(await app.signingKeys.jwks()), { algorithms: [ALG] })
    if (protectedHeader.typ !== 'JWT') return undefined
    const { iss, aud, sid } = decodeJwt(hint)
    if (iss !== app.config.publicUrl) return undefined
    const audience = Array.isArray(aud) ? (aud.length === 1 ? aud[0] : undefined) : aud
    return typeof audience === 'string' ? { clientId: audience, sid: typeof sid === 'string' ? sid : undefined } : undefined
  } catch {
    return undefined
  }
}

/** The validated way back, or why there is none (`requested` when the journal asked for one we refuse). */
async function logoutReturn(app: FastifyInstance, q: LogoutQuery, hinted: { clientId: string } | undefined): Promise<{ back: LogoutReturn | undefined; refused: boolean }> {
  const uri = q.post_logout_redirect_uri
  if (!uri) return { back: undefined, refused: false }
  const fromHint = hinted?.clientId
  // A hint that is not ours, or that names another client than client_id, confirms no one.
  if (q.id_token_hint && (!fromHint || (q.client_id && q.client_id !== fromHint))) return { back: undefined, refused: true }
  const client = app.clients.get(fromHint ?? q.client_id ?? '')
  if (!client?.postLogoutRedirectUris.has(uri)) return { back: undefined, refused: true }
  return { back: { clientId: client.clientId, uri, state: q.state }, refused: false }
}

function journalUrl(back: LogoutReturn): string {
  const url = new URL(back.uri)
  if (back.state !== undefined) url.searchParams.set('state', back.state)
  return url.href
}

/** The answer once the upstream session is over (or there is none to end). */
function finish(reply: FastifyReply, back: LogoutReturn | undefined, refused: boolean) {
  return back ? reply.redirect(journalUrl(back), 303) : sendPage(reply, 200, loggedOutPage(refused))
}

/** The journal's parameters, as the question page carries them to its answer. */
function carried(q: LogoutQuery): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const name of ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id'] as const) {
    const value = q[name]
    if (value !== undefined) fields[name] = value
  }
  return fields
}

/**
 * A logout request, by GET or POST. `confirmed`: the person answered «Выйти» on our question page
 * (its CSRF token checked). Without that or a hint vouching for this browser, the question is asked.
 */
async function logout(app: FastifyInstance, q: LogoutQuery, confirmed: boolean, request: FastifyRequest, reply: FastifyReply) {
  const hinted = q.id_token_hint ? await hintedLogin(app, q.id_token_hint) : undefined
  const browser = browserHash(request)
  const vouched = hinted?.sid !== undefined && browser !== undefined && sidMadeIn(hinted.sid, browser)
  if (!vouched && !confirmed) return sendPage(reply, 200, logoutQuestionPage({ action: LOGOUT_PATH, fields: carried(q), csrfToken: reply.generateCsrf() }))
  const { back, refused } = await logoutReturn(app, q, hinted)
  if (refused) request.log.warn({ client: q.client_id }, 'logout: post_logout_redirect_uri not confirmed for a registered client; not redirecting')

  if (browser) await forgetPendingLogins(app.db, browser)
  // Back-Channel Logout 1.0: the journals this browser logged in to hear of it (logout tokens).
  // A hint's own login ends only when it was made in this browser: an ID token copied out of
  // someone's history must not end their session elsewhere, even after «Выйти» here.
  await endBrowserSessions(app.db, { browser, sid: vouched ? hinted.sid : undefined })

  const upstreamLogout = app.upstream?.logoutUrl?.({ redirectUrl: `${app.config.publicUrl}${DONE_PATH}` })
  if (!upstreamLogout) return finish(reply, back, refused)
  // The way back waits in a signed cookie while the browser is at Госуслуги.
  reply.setCookie(returnCookieName(app), JSON.stringify({ back: back ?? null, refused }), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: isHttps(app),
    signed: true,
    maxAge: RETURN_COOKIE_S,
  })
  return reply.redirect(upstreamLogout, 303)
}

function readReturnCookie(app: FastifyInstance, request: FastifyRequest): { back: LogoutReturn | null; refused: boolean } | undefined {
  const raw = request.cookies[returnCookieName(app)]
  const unsigned = raw ? request.unsignCookie(raw) : undefined
  if (!unsigned?.valid || !unsigned.value) return undefined
  try {
    return JSON.parse(unsigned.value) as { back: LogoutReturn | null; refused: boolean }
  } catch {
    return undefined
  }
}

/** Back from the upstream's logout: on to the journal's registered address, checked once more. */
async function logoutDone(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
  const saved = readReturnCookie(app, request)
  reply.clearCookie(returnCookieName(app), { path: '/', httpOnly: true, sameSite: 'lax', secure: isHttps(app) })
  const back = saved?.back && app.clients.get(saved.back.clientId)?.postLogoutRedirectUris.has(saved.back.uri) ? saved.back : undefined
  return finish(reply, back, saved?.refused ?? false)
}

export async function logoutRoutes(app: FastifyInstance): Promise<void> {
  const options = { config: publicRateLimit(app), errorHandler: htmlErrorHandler('login') }
  app.get<{ Querystring: LogoutQuery }>(LOGOUT_PATH, { ...options, schema: { hide: true, querystring: LogoutQuery } }, (request, reply) => logout(app, request.query, false, request, reply))
  app.post<{ Body: LogoutForm }>(
    LOGOUT_PATH,
    {
      ...options,
      schema: { hide: true, body: LogoutForm },
      // The answer to our question carries a CSRF token, checked here (a wrong one: «Страница устарела»,
      // nothing happens); a journal posting its own parameters sends none, and is treated as a GET.
      preHandler: (request, reply, done) => (request.body._csrf === undefined ? done() : app.csrfProtection(request, reply, done)),
    },
    (request, reply) => logout(app, request.body, request.body._csrf !== undefined, request, reply),
  )
  app.get(DONE_PATH, { ...options, schema: { hide: true, querystring: Type.Object({}, { additionalProperties: true }) } }, (request, reply) => logoutDone(app, request, reply))
}
