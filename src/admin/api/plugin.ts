import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { callerFromBearer } from '../caller.js'
import { accountRoutes } from './accounts.js'
import { attemptRoutes } from './attempts.js'
import { auditRoutes } from './audit.js'
import { importRoutes } from './imports.js'
import { reportRoutes } from './reports.js'
import { subjectRoutes } from './subjects.js'
import { userRoutes } from './users.js'

/**
 * The admin API under /api/v1/admin: JSON for automation, authenticated by a bearer token (a
 * support account's API token, or BOOTSTRAP_ADMIN_TOKEN). Console sessions are not accepted here,
 * so a browser cookie can never drive the API across sites.
 */
export const adminApi: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => {
    request.supportCaller = await callerFromBearer(request)
  })
  await app.register(accountRoutes)
  await app.register(userRoutes)
  await app.register(attemptRoutes)
  await app.register(auditRoutes)
  await app.register(importRoutes)
  await app.register(reportRoutes)
  await app.register(subjectRoutes)
}
