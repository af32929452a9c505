import { Type } from 'typebox'
import type { MockEsiaApp } from '../app-types.js'
import { TOKEN_TAMPERS, type MockFaults } from '../faults.js'

const Faults = Type.Object({
  latencyMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  tokenUnavailable: Type.Boolean(),
  malformedJson: Type.Union([Type.Literal('none'), Type.Literal('token'), Type.Literal('person'), Type.Literal('kids')]),
  tamper: Type.Unsafe<MockFaults['tamper']>({ type: 'string', enum: ['none', ...TOKEN_TAMPERS] }),
  expiresInAsString: Type.Boolean(),
  oidAsString: Type.Boolean(),
  echoNonce: Type.Boolean(),
}, { additionalProperties: false })
const FaultsPatch = Type.Partial(Faults, { additionalProperties: false })
const Rotated = Type.Object({ kid: Type.String(), published: Type.Array(Type.String()) })
const PersonaSummary = Type.Array(Type.Object({ id: Type.String(), oid: Type.Integer(), label: Type.String(), level: Type.String(), trusted: Type.Boolean() }))

/**
 * The mock's control panel for reliability tests (also callable in-process through the handle
 * `startMockEsia` returns). Never part of the bridge; the mock itself is refused in production.
 */
export async function adminRoutes(app: MockEsiaApp) {
  const state = app.esia
  app.get('/mock/faults', { schema: { hide: true, response: { 200: Faults } } }, async () => state.faults)
  app.put('/mock/faults', { schema: { hide: true, body: FaultsPatch, response: { 200: Faults } } }, async (request) => state.setFaults(request.body))
  app.delete('/mock/faults', { schema: { hide: true, response: { 200: Faults } } }, async () => state.resetFaults())
  app.post('/mock/keys/rotate', {
    schema: { hide: true, body: Type.Optional(Type.Object({ keepPrevious: Type.Optional(Type.Boolean()) }, { additionalProperties: false })), response: { 200: Rotated } },
  }, async (request) => {
    const key = await state.keys.rotate({ keepPrevious: request.body?.keepPrevious ?? true })
    return { kid: key.kid, published: state.keys.all().map((k) => k.kid) }
  })
  app.get('/mock/personas', { schema: { hide: true, response: { 200: PersonaSummary } } }, async () =>
    state.personaList.map(({ id, oid, label, level, trusted }) => ({ id, oid, label, level, trusted })))
}
