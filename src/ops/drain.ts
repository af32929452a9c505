import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Set once a graceful stop has begun: /readyz answers 503 from then on. */
    lifecycle: { draining: boolean }
  }
}

/**
 * While draining, every answer carries `Connection: close`: a client that keeps connections open
 * (a journal's backend, a proxy's keep-alive pool, a Kubernetes Service's sticky TCP) reconnects
 * for its next request and lands on another instance.
 */
export const drainPlugin = fp(
  async (app) => {
    app.decorate('lifecycle', { draining: false })
    // Callback-style: an async hook would cost every request a promise for a flag check.
    app.addHook('onRequest', (_request, reply, done) => {
      if (app.lifecycle.draining) reply.header('connection', 'close')
      done()
    })
  },
  { name: 'drain' },
)

/**
 * The first half of a graceful stop (the second is `app.close()`: the listener closes and the
 * requests in flight finish). /readyz turns 503 at once, so a balancer that watches it stops
 * sending; for `delayMs` everything is still served, because noticing takes the balancer a moment
 * (Kubernetes removes a terminating pod from its endpoints while SIGTERM is already on its way; a
 * proxy polls). A request that arrives in that time is answered normally, not refused.
 */
export async function startDraining(app: { lifecycle: { draining: boolean } }, delayMs: number): Promise<void> {
  app.lifecycle.draining = true
  if (delayMs > 0) await sleep(delayMs)
}
