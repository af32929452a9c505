import { createHash, randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * The browser a flow belongs to (docs/security.md, «Controls, by area»; ASVS 5.0 V10.1.2: accept a code only from
 * the user agent that started the transaction). A random 256-bit id lives in an HttpOnly cookie;
 * the server keeps only its SHA-256, so a database read gives nobody a usable cookie.
 *
 * SameSite=Lax, not Strict: ЕСИА brings the person back with a cross-site top-level GET, which Lax
 * lets through (RFC 6265bis, «SameSite»). `__Host-` on https pins the cookie to our origin and
 * path `/`, so no sibling subdomain can plant one.
 */
export type BrowserHash = Buffer

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/

function cookieName(request: FastifyRequest): string {
  return isHttps(request) ? '__Host-bridge-browser' : 'bridge-browser'
}
export const isHttps = (request: FastifyRequest): boolean => request.server.config.publicUrl.startsWith('https://')
const hashOf = (id: string): BrowserHash => createHash('sha256').update(id).digest()

/** The hash of this browser's id, or undefined when the browser has none (or sent garbage). */
export function browserHash(request: FastifyRequest): BrowserHash | undefined {
  const id = request.cookies[cookieName(request)]
  return id && ID_PATTERN.test(id) ? hashOf(id) : undefined
}

/** The hash of this browser's id, giving the browser one first if it has none. */
export function bindBrowser(request: FastifyRequest, reply: FastifyReply): BrowserHash {
  const existing = browserHash(request)
  if (existing) return existing
  const id = randomBytes(32).toString('base64url')
  // A session cookie: it only has to outlive one trip to Госуслуги and back.
  reply.setCookie(cookieName(request), id, { path: '/', httpOnly: true, sameSite: 'lax', secure: isHttps(request) })
  return hashOf(id)
}
