import { Type } from 'typebox'
import type { MockEsiaApp } from '../app-types.js'
import { loggedOutPage } from '../pages.js'
import { cookieOptions, SSO_COOKIE } from './authorize.js'

const LogoutQuery = Type.Object({ client_id: Type.Optional(Type.String()), redirect_url: Type.Optional(Type.String()) })

/**
 * ЕСИА logout (docs/esia.md, «Endpoints»): the parameter is `redirect_url`, not `redirect_uri`, and it
 * is optional. The browser goes back only to an origin the ИС registered (no open redirect).
 */
export async function esiaLogoutRoutes(app: MockEsiaApp) {
  const state = app.esia
  app.get('/idp/ext/Logout', { schema: { hide: true, querystring: LogoutQuery } }, async (request, reply) => {
    reply.clearCookie(SSO_COOKIE, cookieOptions)
    const { client_id: clientId, redirect_url: target } = request.query
    const client = clientId ? state.clients.byMnemonic(clientId) : undefined
    if (client && target && URL.canParse(target) && client.origins.has(new URL(target).origin)) return reply.redirect(target, 302)
    return reply.type('text/html; charset=utf-8').send(loggedOutPage())
  })
}
