import type { FastifyReply } from 'fastify'

/**
 * Aborted when the client closes the connection before the answer is complete (a support person
 * closes the tab, a journal's HTTP client times out): long work for that request — a report query
 * (src/db/report-query.ts) — is cancelled instead of running on for nobody.
 */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'))
  }
  res.once('close', onClose)
  return controller.signal
}
