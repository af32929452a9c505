import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { ACR } from './codes.js'
import { ALG, JWKS_MAX_AGE_S } from './keys.js'

/**
 * /.well-known/openid-configuration (OpenID Connect Discovery 1.0, RFC 8414) and /oauth2/jwks.
 * The issuer is PUBLIC_URL exactly; journals using a stock client (openid-client `discovery()`)
 * find every endpoint here. `authorization_response_iss_parameter_supported` announces RFC 9207
 * `iss` on our redirects, the mix-up defence of RFC 9700.
 */
export function discoveryDocument(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    jwks_uri: `${issuer}/oauth2/jwks`,
    end_session_endpoint: `${issuer}/oauth2/logout`,
    // `children`: a parent's children confirmed by Госуслуги (src/flows/guardians.ts).
    scopes_supported: ['openid', 'profile', 'children'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ALG],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    // Only claims we issue: the card's names come as family/given/middle, never as a composed `name`.
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'acr', 'sid', 'org_id', 'role', 'family_name', 'given_name', 'middle_name', 'children', 'children_checked_at'],
    acr_values_supported: Object.values(ACR),
    // select_account shows «Выберите организацию» even for one card; none is answered login_required
    // (no session here). login and consent are accepted but not listed: whether Госуслуги asks again
    // is Госуслуги's decision, and auth_time (its own) tells the journal how fresh the login is.
    prompt_values_supported: ['none', 'select_account'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens to a client's backchannel_logout_uri,
    // with `sid` (in the ID token too); link events go the same way (src/events/).
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  }
}

const strings = Type.Array(Type.String())
const DiscoveryDocument = Type.Object({
  issuer: Type.String(),
  authorization_endpoint: Type.String(),
  token_endpoint: Type.String(),
  userinfo_endpoint: Type.String(),
  jwks_uri: Type.String(),
  end_session_endpoint: Type.String(),
  scopes_supported: strings,
  response_types_supported: strings,
  response_modes_supported: strings,
  grant_types_supported: strings,
  subject_types_supported: strings,
  id_token_signing_alg_values_supported: strings,
  token_endpoint_auth_methods_supported: strings,
  code_challenge_methods_supported: strings,
  claims_supported: strings,
  acr_values_supported: strings,
  prompt_values_supported: strings,
  claims_parameter_supported: Type.Boolean(),
  request_parameter_supported: Type.Boolean(),
  request_uri_parameter_supported: Type.Boolean(),
  authorization_response_iss_parameter_supported: Type.Boolean(),
  backchannel_logout_supported: Type.Boolean(),
  backchannel_logout_session_supported: Type.Boolean(),
})

// Public EC keys only: a private parameter (`d`) can never leave through this schema.
const PublicJwk = Type.Object(
  { kty: Type.String(), crv: Type.String(), x: Type.String(), y: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() },
  { additionalProperties: false },
)

export const discoveryRoutes: FastifyPluginAsync = async (app) => {
  const document = discoveryDocument(app.config.publicUrl)
  const cacheControl = `public, max-age=${JWKS_MAX_AGE_S}`

  app.get(
    '/.well-known/openid-configuration',
    { schema: { tags: ['oauth2'], summary: 'OpenID Provider metadata', response: { 200: DiscoveryDocument } } },
    async (_request, reply) => {
      reply.header('cache-control', cacheControl)
      return document
    },
  )

  app.get(
    '/oauth2/jwks',
    { schema: { tags: ['oauth2'], summary: 'Public keys of link tokens and ID tokens (published before they sign, kept after)', response: { 200: Type.Object({ keys: Type.Array(PublicJwk) }) } } },
    async (_request, reply) => {
      // Shorter than the activation delay of a rotated key (keys.ts), so caches always hold a key before it signs.
      reply.header('cache-control', cacheControl)
      return app.signingKeys.jwks()
    },
  )
}
