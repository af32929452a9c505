import type { KeyObject } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { defaultTestKeyFile, loadOrCreateTestKeyFile, type TestKeyPair } from '../upstream/signers/test-key.js'
import type { MockClientRegistration } from './clients.js'
import { MOCK_ESIA_CLIENT_ID } from './constants.js'
import { startMockEsia, type RunningMockEsia } from './index.js'

export { MOCK_ESIA_CLIENT_ID } from './constants.js'

/** Where ЕСИА sends the browser back to the bridge (DESIGN.md §Flows: `GET /auth/callback`). */
export const bridgeCallbackUrl = (config: Config): string => `${config.publicUrl}/auth/callback`

/** The bridge as an ИС registered at the mock: its callback, its test key, and OIDC credentials if configured. */
export function bridgeRegistration(config: Config, publicKey: KeyObject): MockClientRegistration {
  const { esia, oidc } = config.idp
  return {
    clientId: esia.clientId ?? MOCK_ESIA_CLIENT_ID,
    name: 'Электронный журнал (мост ЕСИА)',
    redirectUris: [bridgeCallbackUrl(config)],
    publicKey,
    ...(esia.certHash ? { certHash: esia.certHash } : {}),
    ...(oidc.clientId && oidc.clientSecret ? { oidc: { clientId: oidc.clientId, clientSecret: oidc.clientSecret } } : {}),
  }
}

/**
 * `npm start` with IDP_KIND=mock: the test key under DATA_DIR (created on first run), the mock on
 * MOCK_ESIA_PORT with the bridge registered, and `config.idp.esia.url` pointed at it. Pass
 * `testKey.privateKey` to `createUpstreamAdapter(config, { testSigningKey })`.
 */
export async function startBundledMockEsia(config: Config, opts: { logger?: FastifyBaseLogger } = {}): Promise<RunningMockEsia & { testKey: TestKeyPair }> {
  const testKey = await loadOrCreateTestKeyFile(config.idp.esia.testKeyFile ?? defaultTestKeyFile(config.dataDir))
  const mock = await startMockEsia({
    port: config.mockEsiaPort,
    host: config.host,
    clients: [bridgeRegistration(config, testKey.publicKey)],
    ...(opts.logger ? { logger: opts.logger } : {}),
  })
  config.idp.esia.url = mock.url
  return Object.assign(mock, { testKey })
}
