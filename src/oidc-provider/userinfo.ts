import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { bearerToken } from '../http/auth.js'
import { findAccessToken } from './codes.js'
import { noStore, OAuthError, OAuthErrorBody, oauthErrorHandler } from './oauth-errors.js'

/**
 * GET/POST /oauth2/userinfo (OIDC Core §5.3) with the opaque access token from a login: the
 * token's claims and `sub`. The response schema is the list of claims we release; anything else
 * stored with the token stays in.
 */
export const UserinfoClaims = Type.Object(
  {
    sub: Type.String(),
    org_id: Type.Optional(Type.String()),
    role: Type.Optional(Type.String()),
    family_name: Type.Optional(Type.String()),
    given_name: Type.Optional(Type.String()),
    middle_name: Type.Optional(Type.String()),
    children: Type.Optional(Type.Array(Type.String(), { description: 'Scope `children`, a parent card: journal user ids of the children Госуслуги confirmed' })),
    children_checked_at: Type.Optional(Type.Integer({ description: 'Scope `children`: when the children were last compared with Госуслуги (seconds since the epoch)' })),
  },
  { additionalProperties: false },
)

// RFC 6750 §3: the challenge names the error so clients know to log in again.
const invalidToken = (message: string) => new OAuthError(401, 'invalid_token', message, { 'www-authenticate': 'Bearer error="invalid_token"' })

async function userinfo(request: FastifyRequest, reply: FastifyReply) {
  noStore(reply)
  const fromBody = (request.body as { access_token?: string } | undefined)?.access_token
  const fromHeader = bearerToken(request.headers.authorization)
  // RFC 6750 §2: one method per request.
  if (fromBody !== undefined && fromHeader !== undefined) throw new OAuthError(400, 'invalid_request', 'Send the access token either in the header or in the body')
  const token = fromHeader ?? fromBody
  if (!token) throw new OAuthError(401, 'invalid_token', 'Bearer access token required', { 'www-authenticate': 'Bearer' })
  const found = await findAccessToken(request.server.db, token)
  if (!found) throw invalidToken('The access token is unknown, expired or revoked')
  return { ...found.claims, sub: found.journalUserId }
}

export const userinfoEndpoint: FastifyPluginAsync = async (app) => {
  const response = { 200: UserinfoClaims, '4xx': OAuthErrorBody, '5xx': OAuthErrorBody }
  app.get('/oauth2/userinfo', { schema: { tags: ['oauth2'], summary: 'Claims of the logged-in journal user', security: [{ bearer: [] }], response }, errorHandler: oauthErrorHandler }, userinfo)
  app.post(
    '/oauth2/userinfo',
    {
      schema: {
        tags: ['oauth2'],
        summary: 'Claims of the logged-in journal user (token in the form body)',
        security: [{ bearer: [] }],
        body: Type.Optional(Type.Object({ access_token: Type.Optional(Type.String({ maxLength: 200 })) })),
        response,
      },
      errorHandler: oauthErrorHandler,
    },
    userinfo,
  )
}
