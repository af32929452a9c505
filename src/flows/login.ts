import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { withTransaction } from '../db/pool.js'
import { publicRateLimit } from '../http/rate-limit.js'
import { RETRY_AFTER_S, retryLater, unavailablePart } from '../http/unavailable.js'
import { accountReason } from '../matching/match.js'
import { describeReason, upstreamErrorReason } from '../matching/messages.js'
import { outcomeDescription } from '../matching/outcome.js'
import { AuthorizeQuery, authorizationResponse, checkAuthorizeRequest, loginRequestOf, type LoginRequest } from '../oidc-provider/authorize.js'
import { ACR } from '../oidc-provider/codes.js'
import { UpstreamError, type VerifiedPerson } from '../upstream/types.js'
import { bindBrowser, browserHash, type BrowserHash } from './browser.js'
import { registerCallbackFinisher, type CallbackContext } from './callback.js'
import { chooserPage, rememberChoice, rememberedChoice } from './chooser.js'
import { checkChildrenAtLogin, recheckHours } from './guardians.js'
import { autoLink, linkedCards, type LinkedCard } from './login-cards.js'
import { badJournalRequestPage, loginFailedPage, loginGonePage, startFailedPage } from './login-pages.js'
import { purgePendingLogins, savePendingLogin, takePendingLogin, viewPendingLogin, type AnsweredRequest, type LoginAuth, type PendingLogin } from './login-pending.js'
import { issueLoginCode, purgeConsumedLoginStates, recordLoginFailure, type FailedLogin, type SuccessfulLogin } from './login-record.js'
import { flowMetrics, type FlowMetrics } from './metrics.js'
import { htmlErrorHandler, messagePage, OTHER_BROWSER, sendPage, SITUATIONS, type Situation } from './pages.js'
import { personOf, startLoginUpstream } from './upstream-leg.js'

/**
 * «Войти через Госуслуги» (docs/architecture.md, «How a login travels»): the bridge is the journal's OpenID provider and
 * Госуслуги is the person's. Step by step:
 *
 *   1. authorize  GET  /oauth2/authorize        the journal's request checked (oidc-provider/authorize.ts), then to
 *                                               Госуслуги with our own state (a UUID carrying its time and an HMAC)
 *                                               and the transaction sealed into a browser-bound cookie (login-state.ts);
 *                                               nothing written to the database
 *   2. callback   GET  /auth/callback           (callback.ts) opens the cookie, checks the browser and the state's
 *                                               age, records the state as used (a replay stops there) and clears the
 *                                               cookie, then asks the upstream → finishLogin
 *   3. account    may this account log in at all? (the upstream's refusal; a child without the parent's consent)
 *   4. cards      the journal users linked to the subject; none → auto-link by strong evidence (login-cards.ts);
 *                 a parent's children compared with Госуслуги again when due (guardians.ts)
 *   5. decide     one card → finish; several, or prompt=select_account → the chooser; none → the failure page
 *   6. choose     GET  /login/{id}  «Выберите организацию» (chooser.ts); POST /login/{id}/choose checks the
 *                                   choice against the candidates kept server-side
 *   7. finish     code, last login and audit event in one statement (login-record.ts) → redirect_uri?code&state&iss;
 *                 a returning person's 4, 5 and 7 are that one statement: the cards read, and with one card the code
 *      return     POST /login/{id}/return       from a failure page or «Отменить» → redirect_uri?error=access_denied
 *
 * The journal redeems the code at /oauth2/token (PKCE checked there) for the ID token and an access
 * token for /oauth2/userinfo; /oauth2/logout ends the login (src/flows/logout.ts).
 *
 * A returning person costs three statements — at the callback the state recorded as used (2), then
 * the cards read with the code, last login and audit written (4–7), and at the token endpoint the
 * code redeemed — the upstream's two tokens verified and our ID token signed
 * (docs/decisions/0016-login-flow-state-in-a-sealed-cookie.md).
 */

const PendingParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) })
type PendingParams = Static<typeof PendingParams>
const ChoiceBody = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })), journal_user_id: Type.Optional(Type.String({ maxLength: 128 })) })
type ChoiceBody = Static<typeof ChoiceBody>
type PendingRequest = FastifyRequest<{ Params: PendingParams }>

/** `acr` says honestly what the account is now (docs/architecture.md, «How a login travels»; values listed in discovery). */
export function acrOf(person: Pick<VerifiedPerson, 'level' | 'trusted'>): string {
  if (person.level === 'KD') return ACR.child
  return person.trusted ? ACR.confirmed : ACR.unconfirmed
}

/** The journal still has this redirect_uri registered (the registry may change while the person is away). */
const stillRegistered = (app: FastifyInstance, request: Pick<LoginRequest, 'clientId' | 'redirectUri'>) => app.clients.hasRedirectUri(request.clientId, request.redirectUri)

// ── 1. authorize ────────────────────────────────────────────────────────────────────────────────

async function authorize(app: FastifyInstance, metrics: FlowMetrics, request: FastifyRequest, reply: FastifyReply, params: AuthorizeQuery) {
  const check = checkAuthorizeRequest(app.clients, params)
  if (!check.ok) {
    if ('page' in check) {
      request.log.warn({ problem: check.page, client: params.client_id?.slice(0, 128) }, 'authorization request refused without a redirect')
      return sendPage(reply, 400, badJournalRequestPage(check.page))
    }
    const { redirectUri, state, error, description } = check.redirect
    request.log.info({ error, client: params.client_id }, 'authorization request refused')
    return reply.redirect(authorizationResponse(app.config.publicUrl, redirectUri, { error, description, state }), 303)
  }
  const login = check.request
  let upstreamUrl: string
  try {
    upstreamUrl = await startLoginUpstream(app, request, reply, bindBrowser(request, reply), { ...login })
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err
    request.log.warn({ kind: err.kind, code: err.code }, 'could not start the upstream login')
    reply.header('retry-after', String(RETRY_AFTER_S))
    return cannotStartNow(app, reply, params, login, describeReason(upstreamErrorReason(err), 'login'), 'ESIA (Gosuslugi) could not be reached; try again later')
  }
  metrics.started('login')
  return reply.redirect(upstreamUrl, 303)
}

/** A 503 page: «Попробовать ещё раз», or back to the journal with RFC 6749's temporarily_unavailable. */
function cannotStartNow(app: FastifyInstance, reply: FastifyReply, params: AuthorizeQuery, login: LoginRequest, message: Situation, description: string) {
  const backUrl = authorizationResponse(app.config.publicUrl, login.redirectUri, { error: 'temporarily_unavailable', description, state: login.state })
  // «Попробовать ещё раз» repeats the journal's request as a GET, whichever way it came.
  const retryUrl = `/oauth2/authorize?${new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'))}`
  return sendPage(reply, 503, startFailedPage({ message, retryUrl, backUrl }))
}

/**
 * Errors of /oauth2/authorize: schema failures (a repeated or absurdly long parameter) get a page,
 * not JSON; an outage of ours still lets the person take the journal's request back to it, marked
 * temporarily_unavailable, when the request is one we may answer on its redirect_uri.
 */
function authorizeErrorHandler(app: FastifyInstance) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.validation) return sendPage(reply, 400, badJournalRequestPage('malformed'))
    const unavailable = unavailablePart(error)
    const params = (request.method === 'POST' ? request.body : request.query) as AuthorizeQuery
    const check = unavailable ? checkAuthorizeRequest(app.clients, params) : undefined
    if (unavailable && check?.ok) {
      retryLater(request, reply, unavailable, error)
      return cannotStartNow(app, reply, params, check.request, SITUATIONS.unavailable, 'The service is temporarily unavailable; try again later')
    }
    return htmlErrorHandler('login')(error, request, reply)
  }
}

// ── 2 → 5. the callback's finisher ──────────────────────────────────────────────────────────────

async function finishLogin(app: FastifyInstance, metrics: FlowMetrics, { request, reply, browser, flow, upstream }: CallbackContext) {
  const login = loginRequestOf(flow.authorizeRequest)
  if (!login || !stillRegistered(app, login)) return sendPage(reply, 400, loginGonePage())
  const fail = (failure: Omit<FailedLogin, 'clientId'>) => recordFailure(app, metrics, { request, reply, browser, login }, { ...failure, clientId: login.clientId })

  // 3. account: the upstream refused, or a child account has no parent's consent (docs/sources.md: Камчатка slides). A child
  // without consent is refused even with links: the consent is what lets the child's data be used.
  // Only a child account's data is fetched here — ЕСИА shows the consent by releasing it; a
  // returning adult with links logs in on the verified token alone (no /rs/prns call).
  const failUpstream = (error: UpstreamError) => fail({ person: null, reasons: [upstreamErrorReason(error)], rejections: [], details: { upstream_error: error.kind } })
  if (!upstream.ok) return failUpstream(upstream.error)
  const { account } = upstream.login
  let person: VerifiedPerson | undefined
  if (account.level === 'KD') {
    const fetched = await personOf(upstream)
    if (!fetched.ok) return failUpstream(fetched.error)
    person = fetched.person
    if (accountReason(person) === 'child_consent_required') return fail({ person, reasons: ['child_consent_required'], rejections: [] })
  }

  // 4.–5. cards, and for a returning person with one card the code, in one statement (login-record.ts).
  // An unconfirmed account that holds links still logs in through them: the link was made when the
  // account was confirmed (the link flow requires it) and the subject is the same account; `acr`
  // tells the journal what the account is now, so a journal that requires esia:confirmed can.
  const answered: AnsweredRequest = { clientId: login.clientId, redirectUri: login.redirectUri, state: login.state, nonce: login.nonce, codeChallenge: login.codeChallenge, children: login.children }
  const authAs = (method: LoginAuth['method'], by: Pick<VerifiedPerson, 'level' | 'trusted'>): LoginAuth => ({ auth_time: account.authTime ?? Math.floor(Date.now() / 1000), acr: acrOf(by), method })
  let auth = authAs('link', person ?? account)
  let cards: LinkedCard[]
  if (login.selectAccount) {
    cards = await linkedCards(app.db, account.subject)
  } else {
    const returning = { request: answered, subject: account.subject, auth, details: { method: 'link', chooser: false } }
    // A parent's card whose children are due a comparison with Госуслуги gets no code yet (below).
    const childrenRecheck = upstream.login.childrenAccess === 'given' ? recheckHours(app) : undefined
    const issued = await issueLoginCode(app.db, returning, { asCard: null, ...sessionOf(app, browser, login.clientId), childrenRecheck })
    if (issued.code) return loggedIn(app, metrics, request, reply, returning, issued.code)
    // One card and no code, nothing due: its link was removed a moment ago.
    if (issued.cards.length === 1 && !issued.childrenDue) return sendPage(reply, 410, loginGonePage())
    cards = issued.cards
  }

  if (cards.length === 0) {
    if (!person) {
      const fetched = await personOf(upstream)
      if (!fetched.ok) return failUpstream(fetched.error)
      person = fetched.person
    }
    const refusal = accountReason(person) ?? (app.config.autoLinkOnLogin ? null : 'not_found')
    if (refusal) return fail({ person, reasons: [refusal], rejections: [] })
    const auto = await autoLink(app, person, login.clientId)
    if (auto.cards.length === 0) return fail({ person, reasons: auto.reasons, rejections: auto.rejections })
    // Some schools' cards could not be linked: their support sees why, while the person goes on.
    if (auto.rejections.length > 0) {
      const seen = person
      await withTransaction(app.db, (tx) => recordLoginFailure(tx, app.config.secrets.snilsHmacKey, { clientId: login.clientId, person: seen, reasons: [], rejections: auto.rejections, details: { partial: true } }))
    }
    cards = auto.cards
    auth = authAs('auto', person)
  }

  // A parent's children compared with Госуслуги again, when due (guardians.ts); never for anyone else.
  await checkChildrenAtLogin(app, { subject: account.subject, ...upstream.login }, cards, login.clientId).catch((err: unknown) => {
    request.log.warn({ err }, 'children could not be compared at login')
  })

  // 5. one card: finish; several, or prompt=select_account: the chooser
  if (cards.length === 1 && !login.selectAccount) {
    return finish(app, metrics, request, reply, { request: answered, subject: account.subject, auth, details: { method: auth.method, chooser: false } }, cards[0]!.journalUserId)
  }
  const id = await savePendingLogin(app.db, browser, { kind: 'choose', request: answered, subject: account.subject, auth, candidates: cards.map((c) => c.journalUserId) })
  return reply.redirect(`/login/${id}`, 303)
}

/** A failed login: audit events and failed attempts with the page's pending row, then the page (post/redirect/get). */
async function recordFailure(
  app: FastifyInstance,
  metrics: FlowMetrics,
  { request, reply, browser, login }: { request: FastifyRequest; reply: FastifyReply; browser: BrowserHash; login: LoginRequest },
  failure: FailedLogin,
) {
  const id = await withTransaction(app.db, async (tx) => {
    await recordLoginFailure(tx, app.config.secrets.snilsHmacKey, failure)
    return savePendingLogin(tx, browser, { kind: 'failed', request: login, reasons: failure.reasons })
  })
  metrics.finished('login', 'failed')
  metrics.failed('login', failure.reasons)
  request.log.info({ result: 'failed', reasons: failure.reasons, client: login.clientId }, 'login finished')
  return reply.redirect(`/login/${id}`, 303)
}

// ── 6. the pending page: chooser or failure ─────────────────────────────────────────────────────

/** The candidates of a chooser that are still linked to the person, with what the page shows. */
async function chooserCards(app: FastifyInstance, pending: PendingLogin & { kind: 'choose' }): Promise<LinkedCard[]> {
  return (await linkedCards(app.db, pending.subject)).filter((c) => pending.candidates.includes(c.journalUserId))
}

async function showChooser(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, pending: PendingLogin & { kind: 'choose' }, nothingChosen = false) {
  const cards = await chooserCards(app, pending)
  if (cards.length === 0) return sendPage(reply, 410, loginGonePage())
  const journalName = app.clients.get(pending.request.clientId)?.name ?? pending.request.clientId
  const body = chooserPage({ pendingId: pending.id, journalName, cards, preselected: rememberedChoice(request), csrfToken: reply.generateCsrf(), nothingChosen })
  return sendPage(reply, nothingChosen ? 400 : 200, body)
}

async function show(app: FastifyInstance, request: PendingRequest, reply: FastifyReply) {
  const view = await viewPendingLogin(app.db, request.params.id, browserHash(request))
  switch (view.state) {
    case 'unknown':
    case 'gone':
      return sendPage(reply, 410, loginGonePage())
    case 'other_browser':
      return sendPage(reply, 403, messagePage([OTHER_BROWSER.login]))
    case 'ready':
      if (view.pending.kind === 'failed') return sendPage(reply, 200, loginFailedPage({ pendingId: view.pending.id, reasons: view.pending.reasons, csrfToken: reply.generateCsrf() }))
      return showChooser(app, request, reply, view.pending)
  }
}

async function choose(app: FastifyInstance, metrics: FlowMetrics, request: FastifyRequest<{ Params: PendingParams; Body: ChoiceBody }>, reply: FastifyReply) {
  const browser = browserHash(request)
  const choice = request.body.journal_user_id
  // Taken only with a choice that is one of the candidates kept for this browser.
  const pending = choice ? await takePendingLogin(app.db, request.params.id, browser, choice) : undefined
  if (!choice || !pending || pending.kind !== 'choose') {
    const view = await viewPendingLogin(app.db, request.params.id, browser)
    if (view.state === 'ready' && view.pending.kind === 'choose') return showChooser(app, request, reply, view.pending, true)
    return reply.redirect(`/login/${request.params.id}`, 303)
  }
  const { method } = pending.auth
  const chosen = { request: pending.request, subject: pending.subject, auth: pending.auth, details: { method, chooser: true, candidates: pending.candidates.length } }
  return finish(app, metrics, request, reply, chosen, choice, () => rememberChoice(request, reply, choice))
}

// ── 7. finish, or go back ───────────────────────────────────────────────────────────────────────

/** Back-Channel Logout 1.0: the session is recorded for a client that will want to hear its end. */
const sessionOf = (app: FastifyInstance, browser: BrowserHash | undefined, clientId: string) =>
  ({ browser, recordSession: app.clients.get(clientId)?.backchannelLogout !== undefined })

/** The code for this card (still linked, the journal's redirect_uri still registered), or «start again». */
async function finish(app: FastifyInstance, metrics: FlowMetrics, request: FastifyRequest, reply: FastifyReply, login: SuccessfulLogin, journalUserId: string, onSuccess?: () => void) {
  const { code } = stillRegistered(app, login.request)
    ? await issueLoginCode(app.db, login, { asCard: journalUserId, ...sessionOf(app, browserHash(request), login.request.clientId) })
    : { code: undefined }
  // The journal dropped this redirect_uri, or support removed the link a moment ago: start again.
  if (!code) return sendPage(reply, 410, loginGonePage())
  onSuccess?.()
  return loggedIn(app, metrics, request, reply, login, code)
}

function loggedIn(app: FastifyInstance, metrics: FlowMetrics, request: FastifyRequest, reply: FastifyReply, login: SuccessfulLogin, code: string) {
  metrics.finished('login', 'logged_in')
  // Debug, not info: this is the hot path (thousands a minute at 8 a.m.), the request log already has
  // the callback, the audit trail the login, /metrics the counts; and each info line costs CPU.
  request.log.debug({ result: 'logged_in', method: login.details.method, client: login.request.clientId }, 'login finished')
  return reply.redirect(authorizationResponse(app.config.publicUrl, login.request.redirectUri, { code, state: login.request.state }), 303)
}

/** «Вернуться в журнал» on a failure page, «Отменить» on the chooser: the journal hears access_denied. */
async function returnToJournal(app: FastifyInstance, metrics: FlowMetrics, request: PendingRequest, reply: FastifyReply) {
  const pending = await takePendingLogin(app.db, request.params.id, browserHash(request))
  if (!pending) return reply.redirect(`/login/${request.params.id}`, 303)
  if (pending.kind === 'choose') metrics.finished('login', 'cancelled')
  // Reason codes are protocol constants, never personal data: the journal may word its own message.
  // `<category>: <codes>` (src/matching/outcome.ts): cancelled, account, mismatch, not_found, unavailable, error.
  const description = outcomeDescription(pending.kind === 'failed' ? pending.reasons : ['cancelled'])
  if (!stillRegistered(app, pending.request)) return sendPage(reply, 410, loginGonePage())
  return reply.redirect(authorizationResponse(app.config.publicUrl, pending.request.redirectUri, { error: 'access_denied', description, state: pending.request.state }), 303)
}

// ── routes ──────────────────────────────────────────────────────────────────────────────────────

export async function loginFlowRoutes(app: FastifyInstance): Promise<void> {
  const metrics = flowMetrics(app)
  app.housekeeping.add({ name: 'pending_logins', run: () => purgePendingLogins(app.db) })
  app.housekeeping.add({ name: 'consumed_login_states', run: () => purgeConsumedLoginStates(app.db) })
  registerCallbackFinisher(app, 'login', (ctx) => finishLogin(app, metrics, ctx))

  // OIDC Core §3.1.2.1: the authorization endpoint takes GET and form POST alike. No CSRF token on
  // the POST: it is the journal's cross-site request, answered exactly as the GET would be.
  const authorizeRoute = { config: publicRateLimit(app), errorHandler: authorizeErrorHandler(app) }
  app.get<{ Querystring: AuthorizeQuery }>('/oauth2/authorize', { ...authorizeRoute, schema: { hide: true, querystring: AuthorizeQuery } }, (request, reply) =>
    authorize(app, metrics, request, reply, request.query),
  )
  app.post<{ Body: AuthorizeQuery }>('/oauth2/authorize', { ...authorizeRoute, schema: { hide: true, body: AuthorizeQuery } }, (request, reply) =>
    authorize(app, metrics, request, reply, request.body),
  )

  const page = { schema: { hide: true, params: PendingParams }, config: publicRateLimit(app), errorHandler: htmlErrorHandler('login') }
  app.get<{ Params: PendingParams }>('/login/:id', page, (request, reply) => show(app, request, reply))
  app.post<{ Params: PendingParams; Body: ChoiceBody }>(
    '/login/:id/choose',
    { ...page, schema: { ...page.schema, body: ChoiceBody }, preHandler: app.csrfProtection },
    (request, reply) => choose(app, metrics, request, reply),
  )
  app.post<{ Params: PendingParams }>('/login/:id/return', { ...page, preHandler: app.csrfProtection }, (request, reply) => returnToJournal(app, metrics, request, reply))
}
