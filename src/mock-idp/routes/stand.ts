import type { FastifyInstance } from 'fastify'
import type { MockEsiaApp } from '../app-types.js'
import { MOCK_COLOUR, serveFavicon } from '../../web/favicon.js'
import { frame } from '../pages.js'
import { standPage } from '../stand-page.js'

/** `/`: the test stand's own page (the personas and what each checks), and its icon. */
export async function standRoutes(app: MockEsiaApp): Promise<void> {
  serveFavicon(app as unknown as FastifyInstance, MOCK_COLOUR)
  let page: string | undefined
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    page ??= standPage([...app.esia.personas.values()], frame)
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page)
  })
}
