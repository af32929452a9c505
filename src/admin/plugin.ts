import type { FastifyPluginAsync } from 'fastify'
import { adminApi } from './api/plugin.js'
import { adminConsole } from './console/plugin.js'
import { purgeLoginFailures } from './login-throttle.js'
import { purgeExpiredImports } from './pending-imports.js'
import { purgeExpiredSessions } from './sessions.js'

/**
 * Support staff's part of the bridge (docs/support.md): the admin API and the Russian console, with the
 * housekeeping of what they leave behind (expired sessions, old login failures, uploads never applied).
 */
export const adminPlugin: FastifyPluginAsync = async (app) => {
  app.decorateRequest('supportCaller', null)
  app.housekeeping.add({ name: 'support_sessions', run: () => purgeExpiredSessions(app.db) })
  app.housekeeping.add({ name: 'support_login_failures', run: () => purgeLoginFailures(app.db) })
  app.housekeeping.add({ name: 'support_pending_imports', run: () => purgeExpiredImports(app.db) })
  await app.register(adminApi, { prefix: '/api/v1/admin' })
  await app.register(adminConsole)
}
