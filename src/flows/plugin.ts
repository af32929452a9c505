import type { FastifyPluginAsync } from 'fastify'
import { linkApiRoutes } from './link-api.js'
import { linkFlowRoutes } from './link.js'
import { loginFlowRoutes } from './login.js'
import { logoutRoutes } from './logout.js'

/**
 * The link capability: the journal's API (link intents, link state) and the person's pages and
 * callback finisher. Registered after `callbackRoutes` (src/flows/callback.ts), which it plugs into.
 */
export const linkFlow: FastifyPluginAsync = async (app) => {
  await app.register(linkApiRoutes)
  await app.register(linkFlowRoutes)
}

/**
 * The login capability, «Войти через Госуслуги»: /oauth2/authorize, the callback finisher, the
 * chooser and failure pages, and /oauth2/logout. The token, userinfo and discovery endpoints it
 * relies on belong to the provider (src/oidc-provider/plugin.ts). Registered after `callbackRoutes`.
 */
export const loginFlow: FastifyPluginAsync = async (app) => {
  await app.register(loginFlowRoutes)
  await app.register(logoutRoutes)
}
