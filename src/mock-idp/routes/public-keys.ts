import { Type } from 'typebox'
import type { MockEsiaApp } from '../app-types.js'
import { MOCK_GOST_CERT_PATH, MOCK_KEYS_PATH } from '../constants.js'
import { MOCK_CSS } from '../pages.js'

/**
 * Keys that verify the mock's tokens — its stand-in for ЕСИА's public `esia.zip`
 * (docs/esia.md, «Token shapes and the checks made»): a JWKS and the same keys as PEM, either of which ESIA_TOKEN_KEYS takes.
 */
export async function publicRoutes(app: MockEsiaApp) {
  const state = app.esia
  app.get(MOCK_KEYS_PATH, { schema: { hide: true, response: { 200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }) } } }, async (_request, reply) => {
    await state.delay()
    return reply.header('cache-control', 'public, max-age=60').send(state.keys.jwks())
  })
  app.get('/public/keys.pem', { schema: { hide: true } }, async (_request, reply) => {
    await state.delay()
    return reply.header('cache-control', 'public, max-age=60').type('application/x-pem-file').send(state.keys.pem())
  })
  // esia.zip holds ЕСИА's GOST certificate beside the RSA one; here it is made on first request.
  app.get(MOCK_GOST_CERT_PATH, { schema: { hide: true } }, async (_request, reply) => {
    await state.delay()
    const key = await state.gostKey().catch(() => undefined)
    if (!key) return reply.code(404).type('text/plain; charset=utf-8').send('no GOST key: OpenSSL has no GOST engine here')
    return reply.header('cache-control', 'public, max-age=60').type('application/x-pem-file').send(key.certificatePem)
  })
  app.get('/static/mock-esia.css', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(MOCK_CSS))
}
