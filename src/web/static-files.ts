import { readFileSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'

const STYLE = readFileSync(new URL('./static/style.css', import.meta.url))

/** The one stylesheet of our pages; small enough to keep in memory. */
export const staticFiles: FastifyPluginAsync = async (app) => {
  app.get('/static/style.css', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8')
    return STYLE
  })
}
