import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { bearerToken, parseBasicAuth } from '../../http/auth.js'
import { parseDate } from '../../matching/dates.js'
import type { MockEsiaApp } from '../app-types.js'
import { OIDC_SCOPES } from '../grants.js'
import type { Persona } from '../personas.js'
import { loggedOutPage } from '../pages.js'
import { sendMalformedJson, OAuthErrorBody } from './esia-token.js'
import { cookieOptions, SSO_COOKIE } from './authorize.js'

const Optional = Type.Optional(Type.String())
const TokenBody = Type.Object({ grant_type: Optional, code: Optional, redirect_uri: Optional, code_verifier: Optional, client_id: Optional })
const TokenResponse = Type.Object({ access_token: Type.String(), id_token: Type.String(), token_type: Type.String(), expires_in: Type.Integer(), scope: Type.String() })
const UserInfo = Type.Object({
  sub: Type.String(),
  family_name: Type.Optional(Type.String()),
  given_name: Type.Optional(Type.String()),
  middle_name: Type.Optional(Type.String()),
  birthdate: Type.Optional(Type.String()),
  snils: Type.Optional(Type.String()),
  trusted: Type.Boolean(),
  children: Type.Optional(Type.Array(Type.Object({
    family_name: Type.Optional(Type.String()),
    given_name: Type.Optional(Type.String()),
    middle_name: Type.Optional(Type.String()),
    birthdate: Type.Optional(Type.String()),
    snils: Type.Optional(Type.String()),
  }))),
})
const Json = Type.Object({}, { additionalProperties: true })

/**
 * The standard OpenID Connect face of the mock — what a broker fronting ЕСИА (docs/esia.md, «The `oidc` adapter (a broker in front of ЕСИА)»,
 * `oidc`) offers: discovery, authorize (see authorize.ts), token with client_secret_basic and
 * PKCE S256, JWKS, userinfo with the person's data in OIDC claim names plus `snils` and `trusted`.
 */
export async function oidcRoutes(app: MockEsiaApp) {
  const state = app.esia

  app.get('/oidc/.well-known/openid-configuration', { schema: { hide: true, response: { 200: Json } } }, async () => {
    const issuer = state.oidcIssuer
    return {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${issuer}/jwks`,
      end_session_endpoint: `${issuer}/logout`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: [...OIDC_SCOPES],
      claims_supported: ['sub', 'family_name', 'given_name', 'middle_name', 'birthdate', 'snils', 'trusted', 'children'],
      authorization_response_iss_parameter_supported: true,
    }
  })

  app.get('/oidc/jwks', { schema: { hide: true, response: { 200: Json } } }, async (_request, reply) => {
    await state.delay()
    return reply.header('cache-control', 'public, max-age=60').send(state.keys.jwks())
  })

  const tokenError = (reply: FastifyReply, status: number, error: string, description: string) =>
    reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description })

  app.post('/oidc/token', { schema: { hide: true, body: TokenBody, response: { 200: TokenResponse, 400: OAuthErrorBody, 401: OAuthErrorBody, 503: OAuthErrorBody } } }, async (request, reply) => {
    await state.delay()
    const faults = state.faults
    if (faults.tokenUnavailable) return tokenError(reply, 503, 'temporarily_unavailable', 'ESIA-007008: the service is overloaded or under maintenance')
    const basic = parseBasicAuth(request.headers.authorization)
    const client = basic ? state.clients.authenticateOidc(basic.id, basic.secret) : undefined
    if (!client) {
      reply.header('www-authenticate', 'Basic realm="mock-esia"')
      return tokenError(reply, 401, 'invalid_client', 'client authentication failed (client_secret_basic)')
    }
    const b = request.body
    if (b.grant_type !== 'authorization_code') return tokenError(reply, 400, 'unsupported_grant_type', 'only authorization_code')
    const grant = b.code ? state.codes.take(b.code) : undefined
    if (!grant || grant.dialect !== 'oidc' || grant.client !== client || grant.redirectUri !== b.redirect_uri) {
      return tokenError(reply, 400, 'invalid_grant', 'the code is unknown, used, expired, or was issued for another client or redirect_uri')
    }
    if (grant.codeChallenge) {
      const expected = b.code_verifier ? createHash('sha256').update(b.code_verifier).digest('base64url') : undefined
      if (expected !== grant.codeChallenge) return tokenError(reply, 400, 'invalid_grant', 'PKCE verification failed')
    }
    if (faults.malformedJson === 'token') return sendMalformedJson(reply)
    const [accessToken, idToken] = await Promise.all([state.tokens.oidcAccessToken(grant), state.tokens.oidcIdToken(grant)])
    return reply.header('cache-control', 'no-store').send({
      access_token: accessToken, id_token: idToken, token_type: 'Bearer', expires_in: 600, scope: grant.scopes.join(' '),
    })
  })

  const userinfo = async (request: { headers: { authorization?: string | undefined } }, reply: FastifyReply) => {
    await state.delay()
    const token = bearerToken(request.headers.authorization)
    const claims = token ? state.keys.verifyOwn(token) : null
    const persona = typeof claims?.sub === 'string' ? state.personasByOid.get(claims.sub) : undefined
    if (!claims || !persona || claims.iss !== state.oidcIssuer || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token', error_description: 'the access token is invalid or expired' })
    }
    if (state.faults.malformedJson === 'person') return sendMalformedJson(reply)
    const scopes = new Set(String(claims.scope ?? '').split(' '))
    const profile = scopes.has('profile')
    return reply.send({
      sub: state.faults.tamper === 'userinfo-subject-mismatch' ? '1000999999' : String(persona.oid),
      ...(profile ? { family_name: persona.lastName, given_name: persona.firstName } : {}),
      ...(profile && persona.middleName ? { middle_name: persona.middleName } : {}),
      // OIDC `birthdate` is ISO 8601 (YYYY-MM-DD), not ЕСИА's dd.MM.yyyy.
      ...(profile && persona.birthDate ? { birthdate: parseDate(persona.birthDate) ?? undefined } : {}),
      ...((profile || scopes.has('snils')) && persona.snils ? { snils: persona.snils } : {}),
      trusted: persona.trusted,
      ...childrenClaim(persona, scopes),
    })
  }
  const userinfoSchema = { schema: { hide: true, response: { 200: UserInfo, 401: OAuthErrorBody } } }
  app.get('/oidc/userinfo', userinfoSchema, (request, reply) => userinfo(request, reply))
  app.post('/oidc/userinfo', userinfoSchema, (request, reply) => userinfo(request, reply))

  const LogoutQuery = Type.Object({ client_id: Optional, post_logout_redirect_uri: Optional, state: Optional, id_token_hint: Optional })
  app.get('/oidc/logout', { schema: { hide: true, querystring: LogoutQuery } }, async (request, reply) => {
    reply.clearCookie(SSO_COOKIE, cookieOptions)
    const q = request.query
    const client = q.client_id ? state.clients.byOidcId(q.client_id) : undefined
    const target = q.post_logout_redirect_uri
    if (client && target && URL.canParse(target) && client.origins.has(new URL(target).origin)) {
      const url = new URL(target)
      if (q.state) url.searchParams.set('state', q.state)
      return reply.redirect(url.href, 302)
    }
    return reply.type('text/html; charset=utf-8').send(loggedOutPage())
  })
}

/**
 * A broker's `children` claim (the bridge's OIDC_CLAIM_CHILDREN): the persona's children with what
 * the kid scopes allow, in OIDC claim names and ISO dates. Absent without any kid scope.
 */
function childrenClaim(persona: Persona, scopes: Set<string>): { children?: Record<string, string>[] } {
  if (!['kid_fullname', 'kid_birthdate', 'kid_snils'].some((s) => scopes.has(s))) return {}
  return {
    children: (persona.kids ?? []).map((k) => ({
      ...(scopes.has('kid_fullname') ? { family_name: k.lastName, given_name: k.firstName, ...(k.middleName ? { middle_name: k.middleName } : {}) } : {}),
      ...(scopes.has('kid_birthdate') ? { birthdate: parseDate(k.birthDate) ?? '' } : {}),
      ...(scopes.has('kid_snils') && k.snils ? { snils: k.snils } : {}),
    })),
  }
}
