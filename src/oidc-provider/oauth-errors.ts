import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { RETRY_AFTER_S, retryLater, unavailablePart } from '../http/unavailable.js'

/**
 * RFC 6749 §5.2 error responses for the token and userinfo endpoints: `{error, error_description}`,
 * never cached. The rest of the API answers `{error, message}` (src/http/errors.ts); OAuth clients
 * such as openid-client expect this shape here.
 */
export const OAuthErrorBody = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) })

export class OAuthError extends Error {
  override name = 'OAuthError'
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store').header('pragma', 'no-cache')

/** Route-level error handler: schema errors, our OAuthErrors, rate limits and outages in the RFC shape; 5xx without detail. */
export function oauthErrorHandler(error: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply) {
  noStore(reply)
  if (error instanceof OAuthError) {
    return reply.code(error.statusCode).headers(error.headers).send({ error: error.code, error_description: error.message })
  }
  if (error.validation) {
    const first = error.validation[0]
    const field = first?.instancePath ? first.instancePath.slice(1) : (first?.params as { missingProperty?: string } | undefined)?.missingProperty
    return reply.code(400).send({ error: 'invalid_request', error_description: `${field ?? 'request'} ${first?.message ?? 'is invalid'}` })
  }
  if (error.statusCode === 429) return reply.code(429).send({ error: 'rate_limited', error_description: 'Too many requests; try again in a minute' })
  if ((error.statusCode ?? 500) < 500) return reply.code(error.statusCode ?? 400).send({ error: 'invalid_request', error_description: error.message })
  // RFC 6749 §4.1.2.1 names this error for a server that cannot answer now; the status says the same.
  const unavailable = unavailablePart(error)
  if (unavailable) return retryLater(request, reply, unavailable, error).send({ error: 'temporarily_unavailable', error_description: `Try again in ${RETRY_AFTER_S} seconds` })
  request.log.error({ err: error }, 'oauth endpoint failed')
  return reply.code(500).send({ error: 'server_error', error_description: `Internal error; quote request id ${request.id} to the operator` })
}
