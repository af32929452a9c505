import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { Type, type Static } from 'typebox'
import type { MockEsiaApp } from '../app-types.js'
import type { MockClient } from '../clients.js'
import { EsiaRefusal } from '../esia-errors.js'
import { checkClientSecret, checkState, checkTimestamp, requireParams, signedMessage } from '../esia-rules.js'
import type { Grant } from '../grants.js'
import type { MockEsiaState } from '../state.js'

const Optional = Type.Optional(Type.String())
const TeBody = Type.Object({
  client_id: Optional, code: Optional, grant_type: Optional, client_secret: Optional, client_certificate_hash: Optional,
  state: Optional, redirect_uri: Optional, scope: Optional, scope_org: Optional, timestamp: Optional, token_type: Optional,
  refresh_token: Optional, code_verifier: Optional,
})
type TeBody = Static<typeof TeBody>

const TokenResponse = Type.Object({
  access_token: Type.String(),
  id_token: Type.Optional(Type.String()),
  refresh_token: Type.Optional(Type.String()),
  state: Type.String(),
  token_type: Type.String(),
  expires_in: Type.Union([Type.Integer(), Type.String()]),
})
export const OAuthErrorBody = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()), state: Type.Optional(Type.String()) })

/** Not JSON at all, though labelled so: what a cut connection or a broken proxy hands a client. */
const MALFORMED_JSON = '{"access_token":"eyJ2ZXIiOjEsInR5cCI6IkpXVCJ9.'
export const sendMalformedJson = (reply: FastifyReply) => reply.code(200).type('application/json').send(MALFORMED_JSON)

function clientFor(state: MockEsiaState, clientId: string, certHash: string | undefined): MockClient {
  const client = state.clients.byMnemonic(clientId)
  if (!client) throw new EsiaRefusal('ESIA-007002')
  if (certHash !== undefined && certHash.toUpperCase() !== client.certHash) throw new EsiaRefusal('ESIA-007053')
  return client
}

/** The code exchange (docs/esia.md, «Token request (v3/te)»): the secret now also covers the code. */
async function exchangeCode(state: MockEsiaState, b: TeBody): Promise<{ grant: Grant; requestState: string }> {
  const p = requireParams(b, ['client_id', 'code', 'grant_type', 'client_secret', 'client_certificate_hash', 'state', 'redirect_uri', 'scope', 'timestamp'])
  const client = clientFor(state, p.client_id, p.client_certificate_hash)
  checkState(p.state)
  checkTimestamp(p.timestamp, state.timestampSkewSeconds)
  await checkClientSecret(p.client_secret, [signedMessage({ clientId: p.client_id, scope: p.scope, scopeOrg: b.scope_org, timestamp: p.timestamp, state: p.state, redirectUri: p.redirect_uri, code: p.code })], client)
  // Single use: taken out of the store whatever happens next, so a replay finds nothing.
  const grant = state.codes.take(p.code)
  if (!grant || grant.dialect !== 'esia' || grant.client !== client || grant.redirectUri !== p.redirect_uri) throw new EsiaRefusal('ESIA-007011')
  if (grant.codeChallenge) {
    const expected = b.code_verifier ? createHash('sha256').update(b.code_verifier).digest('base64url') : undefined
    if (expected !== grant.codeChallenge) throw new EsiaRefusal('ESIA-007040')
  } else if (b.code_verifier) {
    throw new EsiaRefusal('ESIA-007039')
  }
  return { grant, requestState: p.state }
}

/**
 * Refresh (docs/esia.md, «The mock, and how it differs from ЕСИА»): two field sets are in use and neither is confirmed against the
 * official text, so both signed strings are accepted — ilimurzin's (no refresh token in it) and
 * AISGorod's (`client_id + scope + timestamp + state + refresh_token`).
 */
async function refresh(state: MockEsiaState, b: TeBody): Promise<{ grant: Grant; requestState: string }> {
  const p = requireParams(b, ['client_id', 'grant_type', 'refresh_token', 'client_secret', 'state', 'scope', 'timestamp'])
  const client = clientFor(state, p.client_id, b.client_certificate_hash)
  checkState(p.state)
  checkTimestamp(p.timestamp, state.timestampSkewSeconds)
  await checkClientSecret(p.client_secret, [
    signedMessage({ clientId: p.client_id, scope: p.scope, scopeOrg: b.scope_org, timestamp: p.timestamp, state: p.state, redirectUri: b.redirect_uri ?? '' }),
    p.client_id + p.scope + p.timestamp + p.state + p.refresh_token,
  ], client)
  const grant = state.refreshTokens.take(p.refresh_token)
  if (!grant || grant.client !== client) throw new EsiaRefusal('ESIA-007011')
  return { grant, requestState: p.state }
}

export async function esiaTokenRoutes(app: MockEsiaApp) {
  const state = app.esia

  app.post('/aas/oauth2/v3/te', {
    schema: { hide: true, body: TeBody, response: { 200: TokenResponse, 400: OAuthErrorBody, 503: OAuthErrorBody } },
    attachValidation: true,
  }, async (request, reply) => {
    await state.delay()
    const b: TeBody = request.body ?? {}
    const faults = state.faults
    if (faults.tokenUnavailable) return reply.code(503).send(new EsiaRefusal('ESIA-007008').body(b.state))
    let result: { grant: Grant; requestState: string }
    try {
      if (request.validationError) throw new EsiaRefusal('ESIA-007003')
      switch (b.grant_type) {
        case undefined:
        case '':
          throw new EsiaRefusal('ESIA-007014', 'grant_type')
        case 'authorization_code':
          result = await exchangeCode(state, b)
          break
        case 'refresh_token':
          result = await refresh(state, b)
          break
        case 'client_credentials':
          // Organisation data by system authority is not something this mock's ИС is allowed.
          throw new EsiaRefusal('ESIA-007005')
        default:
          throw new EsiaRefusal('ESIA-007009')
      }
    } catch (err) {
      if (!(err instanceof EsiaRefusal)) throw err
      return reply.code(400).send(err.body(b.state))
    }
    if (faults.malformedJson === 'token') return sendMalformedJson(reply)
    const { grant } = result
    const [accessToken, idToken] = await Promise.all([
      state.tokens.esiaAccessToken(grant),
      grant.scopes.includes('openid') ? state.tokens.esiaIdToken(grant) : undefined,
    ])
    let refreshToken: string | undefined
    if (grant.offline) {
      refreshToken = randomUUID()
      state.refreshTokens.set(refreshToken, grant)
    }
    return reply.send({
      access_token: accessToken,
      ...(idToken ? { id_token: idToken } : {}),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      state: faults.tamper === 'state-mismatch' ? randomUUID() : result.requestState,
      token_type: 'Bearer',
      expires_in: faults.expiresInAsString ? '3600' : 3600,
    })
  })
}
