import type { KeyObject } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { gostEngineAvailable } from '../upstream/signers/openssl-gost.js'
import { defaultGostTestKeyFile, defaultTestKeyFile, loadOrCreateGostTestKeyFile, loadOrCreateTestKeyFile, type GostTestKey, type TestKeyPair } from '../upstream/signers/test-key.js'
import { gostClientCertificate, type GostClientCertificate, type MockClientRegistration } from './clients.js'
import { MOCK_ESIA_CLIENT_ID } from './constants.js'
import { startMockEsia, type RunningMockEsia } from './index.js'

export { MOCK_ESIA_CLIENT_ID } from './constants.js'

/** Where ЕСИА sends the browser back to the bridge (`GET /auth/callback`, docs/esia.md, «Endpoints»). */
export const bridgeCallbackUrl = (config: Config): string => `${config.publicUrl}/auth/callback`

/** The bridge as an ИС registered at the mock: its callback, its test key, and OIDC credentials if configured. */
export function bridgeRegistration(config: Config, publicKey: KeyObject, gost?: GostClientCertificate): MockClientRegistration {
  const { esia, oidc } = config.idp
  return {
    clientId: esia.clientId ?? MOCK_ESIA_CLIENT_ID,
    name: 'Электронный журнал (мост ЕСИА)',
    redirectUris: [bridgeCallbackUrl(config)],
    publicKey,
    ...(gost ? { gost } : {}),
    ...(esia.certHash ? { certHash: esia.certHash } : {}),
    ...(oidc.clientId && oidc.clientSecret ? { oidc: { clientId: oidc.clientId, clientSecret: oidc.clientSecret } } : {}),
  }
}

/**
 * `npm start` with IDP_KIND=mock: the test keys under DATA_DIR (created on first run), the mock on
 * MOCK_ESIA_PORT with the bridge registered, and `config.idp.esia.url` pointed at it. Where
 * OpenSSL has the gost engine the bridge's ИС has a real GOST key and `client_secret` is real GOST;
 * otherwise the Ed25519 test key stands in. Pass both to `createUpstreamAdapter(config,
 * { testSigningKey: testKey.privateKey, gostTestKey })`; `signature` says which is in use.
 */
export async function startBundledMockEsia(config: Config, opts: { logger?: FastifyBaseLogger } = {}): Promise<RunningMockEsia & { testKey: TestKeyPair; gostTestKey: GostTestKey | undefined; signature: string }> {
  const testKey = await loadOrCreateTestKeyFile(config.idp.esia.testKeyFile ?? defaultTestKeyFile(config.dataDir))
  const gostTestKey = (await gostEngineAvailable()) ? await loadOrCreateGostTestKeyFile(defaultGostTestKeyFile(config.dataDir)) : undefined
  const mock = await startMockEsia({
    port: config.mockEsiaPort,
    host: config.host,
    clients: [bridgeRegistration(config, testKey.publicKey, gostTestKey ? await gostClientCertificate(gostTestKey.certificatePem) : undefined)],
    ...(opts.logger ? { logger: opts.logger } : {}),
  })
  config.idp.esia.url = mock.url
  const signature = gostTestKey
    ? `client_secret: GOST R 34.10-2012 through OpenSSL's gost engine (key ${gostTestKey.keyFile})`
    : 'client_secret: Ed25519 standing in for GOST (OpenSSL has no gost engine here: apt-get install libengine-gost-openssl)'
  return Object.assign(mock, { testKey, gostTestKey, signature })
}

/**
 * IDP_KIND=mock with ESIA_URL set: a mock started separately (`npm run mock-esia`) with the same
 * DATA_DIR. The bridge starts no mock of its own and signs with the test keys that mock registered;
 * with another DATA_DIR the keys differ and the mock refuses `client_secret`, which it says.
 */
export async function useSeparateMockEsia(config: Config): Promise<{ url: string; testKey: TestKeyPair; gostTestKey: GostTestKey | undefined; signature: string }> {
  const testKey = await loadOrCreateTestKeyFile(config.idp.esia.testKeyFile ?? defaultTestKeyFile(config.dataDir))
  const gostTestKey = (await gostEngineAvailable()) ? await loadOrCreateGostTestKeyFile(defaultGostTestKeyFile(config.dataDir)) : undefined
  const signature = `separate mock at ${config.idp.esia.url ?? ''}: keys from ${config.dataDir} (start it with the same DATA_DIR)`
  return { url: config.idp.esia.url ?? '', testKey, gostTestKey, signature }
}
