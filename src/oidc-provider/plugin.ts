import fp from 'fastify-plugin'
import { purgeExpiredCodesAndTokens } from './codes.js'
import { discoveryRoutes } from './discovery.js'
import { SigningKeys } from './keys.js'
import { tokenEndpoint } from './token-endpoint.js'
import { userinfoEndpoint } from './userinfo.js'

declare module 'fastify' {
  interface FastifyInstance {
    signingKeys: SigningKeys
  }
}

/**
 * The bridge as an OpenID provider for journals: discovery, JWKS, token and userinfo endpoints,
 * and the signing keys they share. `/oauth2/authorize` and `/oauth2/logout` belong to the login
 * flow, which registers them itself.
 */
export const oidcProvider = fp(
  async (app) => {
    app.decorate('signingKeys', new SigningKeys({ db: app.db, encryptionSecret: app.config.secrets.keysEncryptionKey, refreshMs: app.config.signingKeysRefreshMs }))
    app.addHook('onReady', async () => app.signingKeys.start())
    app.addHook('onClose', () => app.signingKeys.stop())
    app.housekeeping.add({ name: 'authorization_codes', run: () => purgeExpiredCodesAndTokens(app.db) })
    app.housekeeping.add({ name: 'signing_keys', run: () => app.signingKeys.purgeExpired() })
    await app.register(discoveryRoutes)
    await app.register(tokenEndpoint)
    await app.register(userinfoEndpoint)
  },
  { name: 'oidc-provider', dependencies: ['housekeeping', 'metrics'] },
)
