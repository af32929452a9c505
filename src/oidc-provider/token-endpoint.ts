import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { publicRateLimit } from '../http/rate-limit.js'
import { authenticateTokenClient } from './client-auth.js'
import { ACCESS_TOKEN_TTL_S, redeemAuthorizationCode, type RedeemFailure } from './codes.js'
import { noStore, OAuthError, OAuthErrorBody, oauthErrorHandler } from './oauth-errors.js'
import { signIdToken, signLinkToken } from './tokens.js'

/**
 * POST /oauth2/token — one endpoint for both flows (docs/architecture.md, «How a link travels» and «How a login travels»): a `link` code
 * redeems `{link_token}`, a `login` code `{id_token, access_token, token_type, expires_in}`.
 * Cost on the login path: one SQL statement (code redeemed and access token stored together) and
 * one ES256 signature.
 */
const TokenRequest = Type.Object({
  grant_type: Type.String({ maxLength: 100 }),
  code: Type.String({ minLength: 1, maxLength: 200 }),
  redirect_uri: Type.String({ minLength: 1, maxLength: 2000 }),
  // RFC 7636 §4.1: 43–128 unreserved characters.
  code_verifier: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._~-]{43,128}$' })),
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  client_secret: Type.Optional(Type.String({ maxLength: 500 })),
})
type TokenRequest = Static<typeof TokenRequest>

const LinkTokenResponse = Type.Object({ link_token: Type.String() }, { additionalProperties: false })
const LoginTokenResponse = Type.Object(
  { id_token: Type.String(), access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() },
  { additionalProperties: false },
)

const FAILURES: Record<RedeemFailure, string> = {
  unknown: 'The authorization code is unknown',
  reused: 'The authorization code was already used; tokens issued from it are revoked',
  expired: 'The authorization code expired',
  wrong_client: 'The authorization code was issued to another client',
  wrong_redirect_uri: 'redirect_uri does not match the one the code was issued for',
  pkce_mismatch: 'code_verifier does not match the code_challenge of the authorization request',
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/**
 * Per-IP limit for callers that fail client authentication only: a journal's backend sends every
 * login of a region from a few addresses, and must never be throttled, while secret guessing is.
 * Checked after the body is parsed so client_secret_post counts as authenticated too.
 */
function tokenRateLimit(app: FastifyInstance) {
  const limit = publicRateLimit(app).rateLimit
  if (!limit) return {}
  const allowList = (request: FastifyRequest) => !(authenticateTokenClient(request, (request.body ?? {}) as TokenRequest) instanceof OAuthError)
  return { rateLimit: { ...limit, hook: 'preHandler' as const, allowList } }
}

export const tokenEndpoint: FastifyPluginAsync = async (app) => {
  app.post<{ Body: TokenRequest }>(
    '/oauth2/token',
    {
      schema: {
        tags: ['oauth2'],
        summary: 'Redeem an authorization code: a link token (link flow) or ID + access token (login)',
        consumes: ['application/x-www-form-urlencoded'],
        security: [{ journalClient: [] }],
        body: TokenRequest,
        response: { 200: Type.Union([LinkTokenResponse, LoginTokenResponse]), '4xx': OAuthErrorBody, '5xx': OAuthErrorBody },
      },
      config: tokenRateLimit(app),
      errorHandler: oauthErrorHandler,
    },
    async (request, reply) => {
      const body = request.body
      noStore(reply)
      const client = authenticateTokenClient(request, body)
      if (client instanceof OAuthError) throw client
      if (body.grant_type !== 'authorization_code') throw new OAuthError(400, 'unsupported_grant_type', 'Only grant_type=authorization_code is supported')

      const redeemed = await redeemAuthorizationCode(app.db, {
        code: body.code,
        clientId: client.clientId,
        redirectUri: body.redirect_uri,
        codeChallenge: body.code_verifier ? s256(body.code_verifier) : null,
      })
      if (!redeemed.ok) throw new OAuthError(400, 'invalid_grant', FAILURES[redeemed.failure])

      const issuer = app.config.publicUrl
      const code = redeemed.code
      if (code.kind === 'link') {
        return { link_token: await signLinkToken(app.signingKeys, { issuer, clientId: client.clientId, journalUserId: code.journalUserId, outcome: code.outcome }) }
      }
      const idToken = await signIdToken(app.signingKeys, { issuer, clientId: client.clientId, journalUserId: code.journalUserId, nonce: code.nonce, claims: code.claims })
      return { id_token: idToken, access_token: code.accessToken, token_type: 'Bearer' as const, expires_in: ACCESS_TOKEN_TTL_S }
    },
  )
}
