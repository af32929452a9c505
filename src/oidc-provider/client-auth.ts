import type { FastifyRequest } from 'fastify'
import { parseBasicAuth } from '../http/auth.js'
import type { JournalClient } from './clients.js'
import { OAuthError } from './oauth-errors.js'

/**
 * Client authentication at the token endpoint: `client_secret_basic` or `client_secret_post`
 * (RFC 6749 §2.3.1), exactly one of them. Failures are RFC 6749 `invalid_client` (401, with a
 * `WWW-Authenticate` challenge when the client tried Basic).
 */
export interface ClientCredentialsBody {
  client_id?: string
  client_secret?: string
}

type Presented = { id: string; secret: string; method: 'basic' | 'post' }

function presentedCredentials(request: FastifyRequest, body: ClientCredentialsBody): Presented | OAuthError {
  const header = request.headers.authorization
  if (header !== undefined) {
    const basic = parseBasicAuth(header)
    if (!basic) return new OAuthError(401, 'invalid_client', 'Authorization header is not valid HTTP Basic', { 'www-authenticate': 'Basic realm="esia-bridge"' })
    if (body.client_secret !== undefined) return new OAuthError(400, 'invalid_request', 'Use one client authentication method, not Basic and client_secret together')
    if (body.client_id !== undefined && body.client_id !== basic.id) return new OAuthError(400, 'invalid_request', 'client_id in the body differs from the Basic credentials')
    return { ...basic, method: 'basic' }
  }
  if (body.client_id !== undefined && body.client_secret !== undefined) return { id: body.client_id, secret: body.client_secret, method: 'post' }
  return new OAuthError(401, 'invalid_client', 'Client authentication is required (client_secret_basic or client_secret_post)')
}

/** The authenticated client, or the OAuthError to answer with. */
export function authenticateTokenClient(request: FastifyRequest, body: ClientCredentialsBody): JournalClient | OAuthError {
  const presented = presentedCredentials(request, body)
  if (presented instanceof OAuthError) return presented
  const client = request.server.clients.authenticate(presented.id, presented.secret)
  if (client) return client
  const challenge: Record<string, string> = presented.method === 'basic' ? { 'www-authenticate': 'Basic realm="esia-bridge"' } : {}
  return new OAuthError(401, 'invalid_client', 'Client authentication failed', challenge)
}
