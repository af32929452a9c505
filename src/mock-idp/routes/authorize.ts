import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { MockEsiaApp } from '../app-types.js'
import { EsiaRefusal } from '../esia-errors.js'
import { checkClientSecret, checkState, checkTimestamp, requireParams, signedMessage } from '../esia-rules.js'
import { ESIA_KID_SCOPES, isKnownEsiaScope, OIDC_SCOPES, splitScopes, type Grant } from '../grants.js'
import { errorPage, loginPage } from '../pages.js'
import type { Persona } from '../personas.js'
import type { MockEsiaState, PendingAuthorization } from '../state.js'

const BROWSER_COOKIE = 'esia_browser'
const SSO_COOKIE = 'esia_sso'
const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const }

const Optional = Type.Optional(Type.String())
const AcQuery = Type.Object({
  client_id: Optional, client_secret: Optional, client_certificate_hash: Optional, redirect_uri: Optional,
  scope: Optional, scope_org: Optional, response_type: Optional, state: Optional, timestamp: Optional,
  access_type: Optional, nonce: Optional, code_challenge: Optional, code_challenge_method: Optional,
  permissions: Optional, obj_type: Optional, roles: Optional,
})
const OidcAuthorizeQuery = Type.Object({
  client_id: Optional, redirect_uri: Optional, response_type: Optional, scope: Optional, state: Optional,
  nonce: Optional, code_challenge: Optional, code_challenge_method: Optional, prompt: Optional,
})
const LoginBody = Type.Object({ tx: Type.String({ maxLength: 64 }), persona: Optional, action: Type.Optional(Type.Union([Type.Literal('login'), Type.Literal('decline')])) })
const html = { 200: Type.String(), 400: Type.String() }

/** A refusal that cannot go back on the redirect (unknown client, foreign redirect): a page. */
function refusalPage(reply: FastifyReply, refusal: EsiaRefusal) {
  return reply.code(400).type('text/html; charset=utf-8').send(errorPage('Ошибка входа', refusal.code, refusal.description))
}

function redirectWith(reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>) {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  return reply.redirect(url.href, 302)
}

/**
 * Asks the person to pick a persona, remembering which browser asked (cookie). With single
 * sign-on switched on, a browser that logged in before goes straight back with a code, as at
 * ЕСИА when its session is alive (and benchmarks skip the page).
 */
function showLogin(state: MockEsiaState, request: FastifyRequest, reply: FastifyReply, pending: Omit<PendingAuthorization, 'browser'>) {
  let browser = request.cookies[BROWSER_COOKIE]
  if (!browser || !/^[A-Za-z0-9_-]{16,64}$/.test(browser)) {
    browser = randomBytes(16).toString('base64url')
    reply.setCookie(BROWSER_COOKIE, browser, cookieOptions)
  }
  const remembered = request.cookies[SSO_COOKIE]
  const signedIn = state.singleSignOn && remembered ? state.personas.get(remembered) : undefined
  if (signedIn) return completeLogin(reply, state, { ...pending, browser }, signedIn)
  const tx = randomBytes(16).toString('base64url')
  state.pending.set(tx, { ...pending, browser })
  return reply.type('text/html; charset=utf-8').send(loginPage({
    tx,
    clientName: pending.client.name,
    scopes: pending.scopes,
    personas: state.personaList,
    remembered,
  }))
}

export async function authorizeRoutes(app: MockEsiaApp) {
  const state = app.esia

  /**
   * ЕСИА's authorization endpoint (docs/esia.md, «Authorization request (v2/ac)»). Problems that make the redirect target
   * untrustworthy (no or unknown client, a redirect_uri not registered) are answered with a page;
   * every other refusal goes back on the redirect with `error`, `error_description`, `state`.
   */
  app.get('/aas/oauth2/v2/ac', { schema: { hide: true, querystring: AcQuery, response: html }, attachValidation: true }, async (request, reply) => {
    const q = request.query
    if (request.validationError) return refusalPage(reply, new EsiaRefusal('ESIA-007003'))
    if (!q.client_id) return refusalPage(reply, new EsiaRefusal('ESIA-007014', 'client_id'))
    const client = state.clients.byMnemonic(q.client_id)
    if (!client) return refusalPage(reply, new EsiaRefusal('ESIA-007002'))
    if (!q.redirect_uri) return refusalPage(reply, new EsiaRefusal('ESIA-007014', 'redirect_uri'))
    if (!client.redirectUris.has(q.redirect_uri)) return refusalPage(reply, new EsiaRefusal('ESIA-007023'))
    try {
      const p = requireParams(q, ['client_secret', 'client_certificate_hash', 'scope', 'response_type', 'state', 'timestamp'])
      if (p.response_type !== 'code') throw new EsiaRefusal('ESIA-007012')
      checkState(p.state)
      // ЕСИА picks the certificate that checks client_secret by this hash (docs/esia.md, «Authorization request (v2/ac)»).
      if (p.client_certificate_hash.toUpperCase() !== client.certHash) throw new EsiaRefusal('ESIA-007053')
      checkTimestamp(p.timestamp, state.timestampSkewSeconds)
      await checkClientSecret(p.client_secret, [signedMessage({ clientId: client.clientId, scope: p.scope, scopeOrg: q.scope_org, timestamp: p.timestamp, state: p.state, redirectUri: q.redirect_uri })], client)
      const scopes = splitScopes(p.scope)
      if (scopes.some((s) => !isKnownEsiaScope(s))) throw new EsiaRefusal('ESIA-007006')
      if (q.code_challenge && (q.code_challenge_method ?? 'S256') !== 'S256') throw new EsiaRefusal('ESIA-007003', 'code_challenge_method')
      return showLogin(state, request, reply, {
        dialect: 'esia', client, redirectUri: q.redirect_uri, scopes, scopeOrg: q.scope_org ?? '', state: p.state,
        nonce: q.nonce, codeChallenge: q.code_challenge, offline: q.access_type === 'offline',
      })
    } catch (err) {
      if (!(err instanceof EsiaRefusal)) throw err
      return redirectWith(reply, q.redirect_uri, err.body(q.state))
    }
  })

  /** Standard OIDC authorization endpoint, for the `oidc` adapter and stock clients. */
  app.get('/oidc/authorize', { schema: { hide: true, querystring: OidcAuthorizeQuery, response: html }, attachValidation: true }, async (request, reply) => {
    const q = request.query
    const client = q.client_id ? state.clients.byOidcId(q.client_id) : undefined
    if (request.validationError || !client || !q.redirect_uri || !client.redirectUris.has(q.redirect_uri)) {
      return reply.code(400).type('text/html; charset=utf-8').send(errorPage('Ошибка входа', 'invalid_request', 'Неизвестная система-клиент или недопустимый адрес возврата (redirect_uri)'))
    }
    const refuse = (error: string, description: string) => redirectWith(reply, q.redirect_uri!, { error, error_description: description, state: q.state, iss: state.oidcIssuer })
    if (q.response_type !== 'code') return refuse('unsupported_response_type', 'only response_type=code is supported')
    const scopes = splitScopes(q.scope ?? '')
    if (!scopes.includes('openid')) return refuse('invalid_scope', 'scope must include openid')
    if (scopes.some((s) => !OIDC_SCOPES.has(s))) return refuse('invalid_scope', 'unknown scope')
    if (q.code_challenge && q.code_challenge_method !== 'S256') return refuse('invalid_request', 'code_challenge_method must be S256')
    return showLogin(state, request, reply, {
      dialect: 'oidc', client, redirectUri: q.redirect_uri, scopes, scopeOrg: '', state: q.state ?? '',
      nonce: q.nonce, codeChallenge: q.code_challenge, offline: false,
    })
  })

  /** The persona picked (or «Отказать» pressed): back to the client with a code or an error. */
  app.post('/login', { schema: { hide: true, body: LoginBody, response: html } }, async (request, reply) => {
    const { tx, persona: personaId, action } = request.body
    const pending = state.pending.get(tx)
    if (!pending || pending.browser !== request.cookies[BROWSER_COOKIE]) {
      return reply.code(400).type('text/html; charset=utf-8').send(errorPage('Время ожидания истекло', 'ESIA-007011', 'Сеанс входа не найден или устарел'))
    }
    const persona = personaId ? state.personas.get(personaId) : undefined
    if (action !== 'decline' && !persona) {
      return reply.code(400).type('text/html; charset=utf-8').send(loginPage({
        tx, clientName: pending.client.name, scopes: pending.scopes, personas: state.personaList, remembered: undefined,
        problem: 'Выберите учётную запись, под которой войти.',
      }))
    }
    state.pending.take(tx)
    if (action === 'decline' || !persona) return decline(reply, state, pending)
    return completeLogin(reply, state, pending, persona)
  })
}

/** The person is known: refusals the person or the ИС settings cause, or a code. */
async function completeLogin(reply: FastifyReply, state: MockEsiaState, pending: PendingAuthorization, persona: Persona) {
  if (persona.behaviour === 'decline') return decline(reply, state, pending)
  if (pending.client.confirmedOnly && !persona.trusted && pending.dialect === 'esia') {
    return redirectWith(reply, pending.redirectUri, new EsiaRefusal('ESIA-007055').body(pending.state))
  }
  const scopes = persona.behaviour === 'decline-kids' ? pending.scopes.filter((s) => !ESIA_KID_SCOPES.has(s)) : pending.scopes
  const grant: Grant = { ...pending, scopes, persona, authTime: Math.floor(Date.now() / 1000), sid: randomUUID() }
  reply.setCookie(SSO_COOKIE, persona.id, cookieOptions)
  const code = grant.dialect === 'esia' ? await state.tokens.esiaCode(grant, state.codeLifetimeSeconds) : randomBytes(32).toString('base64url')
  state.codes.set(code, grant)
  return redirectWith(reply, grant.redirectUri, grant.dialect === 'esia'
    ? { code, state: grant.state }
    : { code, state: grant.state || undefined, iss: state.oidcIssuer })
}

function decline(reply: FastifyReply, state: MockEsiaState, pending: PendingAuthorization) {
  if (pending.dialect === 'esia') return redirectWith(reply, pending.redirectUri, new EsiaRefusal('ESIA-007004').body(pending.state))
  return redirectWith(reply, pending.redirectUri, { error: 'access_denied', error_description: 'The resource owner denied the request', state: pending.state || undefined, iss: state.oidcIssuer })
}

export { SSO_COOKIE, BROWSER_COOKIE, cookieOptions }
