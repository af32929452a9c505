import type { FastifyPluginAsync } from 'fastify'
import { linkApiRoutes } from './link-api.js'
import { linkFlowRoutes } from './link.js'

/**
 * The link capability: the journal's API (link intents, link state) and the person's pages and
 * callback finisher. Registered after `callbackRoutes` (src/flows/callback.ts), which it plugs into.
 */
export const linkFlow: FastifyPluginAsync = async (app) => {
  await app.register(linkApiRoutes)
  await app.register(linkFlowRoutes)
}
