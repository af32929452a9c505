import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { pendingMigrations } from '../db/migrate.js'

const Status = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) })

/** /healthz: the process answers. /readyz: it can do its job (database reachable, schema current). */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', { schema: { tags: ['ops'], response: { 200: Status } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { tags: ['ops'], response: { 200: Status, 503: Status } } }, async (_request, reply) => {
    // A graceful stop has begun (src/ops/drain.ts): the balancer must stop sending here.
    if (app.lifecycle.draining) return reply.code(503).send({ status: 'draining' })
    const checks: Record<string, string> = {}
    try {
      await app.db.query('SELECT 1')
      checks.database = 'ok'
      const pending = await pendingMigrations(app.db)
      checks.migrations = pending.length === 0 ? 'ok' : `pending: ${pending.join(', ')}`
    } catch (err) {
      checks.database = `unreachable: ${(err as Error).message}`
    }
    const ready = Object.values(checks).every((v) => v === 'ok') && 'migrations' in checks
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks })
  })
}
