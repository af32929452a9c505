import type { FastifyReply, FastifyRequest } from 'fastify'
import { databaseUnavailable } from '../db/failures.js'
import { ReportUnavailable } from '../db/report-query.js'
import { UpstreamError } from '../upstream/types.js'

/**
 * «Сервис временно не работает»: a part the bridge cannot work without is down — PostgreSQL above
 * all (unreachable, restarting, failing over, out of connections, slower than the pool's timeouts),
 * or the upstream IdP and its signer where a route cannot do without them. Nobody outside caused it
 * and nobody outside can fix it but by trying again, so it is a 503 with `Retry-After`, never a
 * 500. The error handlers (JSON API, OAuth endpoints, flow pages, console) each ask `unavailablePart`
 * once; no route catches these errors itself. `report`: a report ran past its statement timeout
 * (src/db/report-query.ts) — the database is there, the report is too heavy just now.
 */
export type UnavailablePart = 'database' | 'upstream' | 'report'

/** Seconds a client is told to wait: a restarted database or a failover is back within them. */
export const RETRY_AFTER_S = 30

/** The part that is down, when `err` (or an error it wraps) says so; undefined for any other error. */
export function unavailablePart(err: unknown): UnavailablePart | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof UpstreamError) return e.kind === 'unavailable' ? 'upstream' : undefined
    if (e instanceof ReportUnavailable) return 'report'
    if (databaseUnavailable(e)) return 'database'
  }
  return undefined
}

/** A 503 that says when to come back; the operator's log says which part is down. */
export function retryLater(request: FastifyRequest, reply: FastifyReply, part: UnavailablePart, err: unknown): FastifyReply {
  request.log.warn({ part, cause: (err as Error).message }, 'answered 503: a part the bridge needs is unavailable')
  return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).header('cache-control', 'no-store')
}
