import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { sha256, type JournalClient } from '../oidc-provider/clients.js'
import { ApiError } from './errors.js'

/** Who called an API route: a journal client, or automation holding BOOTSTRAP_ADMIN_TOKEN. */
export type ApiCaller = { kind: 'journal'; client: JournalClient } | { kind: 'bootstrap' }

// RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before Base64.
const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '))

export function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.toLowerCase().startsWith('basic ')) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) }
  } catch {
    return undefined
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  return header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() || undefined : undefined
}

export function tokenEquals(presented: string, expected: string | undefined): boolean {
  return expected !== undefined && timingSafeEqual(sha256(presented), sha256(expected))
}

const invalidClient = () => new ApiError(401, 'invalid_client', 'Client authentication failed')

/** HTTP Basic client authentication (and client_secret_post where `body` is given, as at the token endpoint). */
export function authenticateClient(request: FastifyRequest, body?: Record<string, unknown>): JournalClient {
  const basic = parseBasicAuth(request.headers.authorization)
  const id = basic?.id ?? (typeof body?.client_id === 'string' ? body.client_id : undefined)
  const secret = basic?.secret ?? (typeof body?.client_secret === 'string' ? body.client_secret : undefined)
  if (id === undefined || secret === undefined) throw invalidClient()
  const client = request.server.clients.authenticate(id, secret)
  if (!client) throw invalidClient()
  return client
}

/** Directory and other journal-facing APIs: a client's Basic credentials, or the bootstrap token. */
export function authenticateApiCaller(request: FastifyRequest): ApiCaller {
  const token = bearerToken(request.headers.authorization)
  if (token !== undefined) {
    if (tokenEquals(token, request.server.config.bootstrapAdminToken)) return { kind: 'bootstrap' }
    throw new ApiError(401, 'unauthorized', 'Unknown bearer token')
  }
  if (!request.headers.authorization) throw new ApiError(401, 'unauthorized', 'Send the journal client credentials (HTTP Basic) or a bearer token')
  return { kind: 'journal', client: authenticateClient(request) }
}
