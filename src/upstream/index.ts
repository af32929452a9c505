import type { KeyObject } from 'node:crypto'
import type { Config } from '../config.js'
import { MOCK_ESIA_CLIENT_ID, MOCK_KEYS_PATH } from '../mock-idp/constants.js'
import { EsiaAdapter } from './esia/adapter.js'
import { checkCertHash } from './esia/cert-hash.js'
import { tokenKeySource, TokenVerifier } from './esia/token-keys.js'
import { OidcAdapter } from './oidc/adapter.js'
import { boundedCommandSigner, createSigner, createTestKeySigner, defaultTestKeyFile, readTestKeyFile, testKeyCertificateHash, type EsiaSigner, type GostTestKey } from './signers/index.js'
import { opensslGostSignCommand } from './signers/openssl-gost.js'
import { UpstreamError, type UpstreamAdapter } from './types.js'

export * from './types.js'
export { EsiaAdapter, type EsiaAdapterOptions } from './esia/adapter.js'
export { OidcAdapter, type OidcAdapterOptions } from './oidc/adapter.js'
export { tokenKeySource, TokenVerifier } from './esia/token-keys.js'
export * from './signers/index.js'

export interface UpstreamDeps {
  /** The test-key signer's private key, when the caller holds it (npm start, tests); else read from ESIA_TEST_KEY_FILE. */
  testSigningKey?: KeyObject
  /** IDP_KIND=mock with real GOST (npm start where OpenSSL has the gost engine): sign with this key through OpenSSL. */
  gostTestKey?: GostTestKey
  fetch?: typeof fetch
  /** How soon a remote key set may be fetched again for an unknown key (default 30 s; 1 s for the mock). */
  tokenKeysCooldownMs?: number
  /** Back-channel timeout per call to the provider (default 10 s). */
  timeoutMs?: number
}

/**
 * The adapter IDP_KIND names (docs/operations.md, «Changing the upstream»): `esia` for a direct ЕСИА connection, `oidc`
 * for a broker speaking standard OpenID Connect, `mock` — the `esia` adapter pointed at the
 * bundled mock (config.idp.esia.url) with the test-key signer and the mock's published keys.
 */
export async function createUpstreamAdapter(config: Config, deps: UpstreamDeps = {}): Promise<UpstreamAdapter> {
  const { kind, esia, oidc } = config.idp
  const fetchOpt = deps.fetch ? { fetch: deps.fetch } : {}
  const timeoutOpt = deps.timeoutMs ? { timeoutMs: deps.timeoutMs } : {}
  if (kind === 'oidc') {
    if (!oidc.issuer || !oidc.clientId || !oidc.clientSecret) {
      throw new UpstreamError('configuration', 'oidc_incomplete', 'IDP_KIND=oidc needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET')
    }
    return new OidcAdapter({
      issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scopes: oidc.scopes, claims: oidc.claims, ...fetchOpt,
      ...(deps.timeoutMs ? { timeoutSeconds: Math.ceil(deps.timeoutMs / 1000) } : {}),
      ...(deps.tokenKeysCooldownMs !== undefined ? { jwksCooldownMs: deps.tokenKeysCooldownMs } : {}),
    })
  }
  if (!esia.url) throw new UpstreamError('configuration', 'esia_url_missing', kind === 'mock' ? 'IDP_KIND=mock: ESIA_URL must point at the bundled mock ЕСИА (startBundledMockEsia sets it)' : 'ESIA_URL is required')

  if (kind === 'mock') {
    const keys = await tokenKeySource(esia.tokenKeys ?? `${esia.url}${MOCK_KEYS_PATH}`, { ...fetchOpt, cooldownMs: deps.tokenKeysCooldownMs ?? 1000 })
    let signer: EsiaSigner
    let certHash: string
    if (deps.gostTestKey) {
      // The OpenSSL-GOST command of docs/operations.md, as a production system on that route runs it.
      signer = boundedCommandSigner({ command: opensslGostSignCommand(deps.gostTestKey.keyFile), timeoutMs: esia.signerTimeoutMs, reverse: false })
      certHash = deps.gostTestKey.certHash
    } else {
      const testKey = deps.testSigningKey ?? (await readTestKeyFile(esia.testKeyFile ?? defaultTestKeyFile(config.dataDir))).privateKey
      signer = createTestKeySigner(testKey, config.env)
      certHash = testKeyCertificateHash(testKey)
    }
    return new EsiaAdapter({
      kind: 'mock',
      url: esia.url,
      clientId: esia.clientId ?? MOCK_ESIA_CLIENT_ID,
      scopes: esia.scopes,
      certHash: esia.certHash ?? certHash,
      signer,
      verifier: new TokenVerifier(keys),
      ...fetchOpt,
      ...timeoutOpt,
    })
  }

  if (!esia.clientId || !esia.certHash || !esia.tokenKeys) {
    throw new UpstreamError('configuration', 'esia_incomplete', 'IDP_KIND=esia needs ESIA_CLIENT_ID, ESIA_CERT_HASH and ESIA_TOKEN_KEYS')
  }
  if (esia.certFile) await checkCertHash(esia.certFile, esia.certHash)
  const signer = await createSigner(config, deps)
  const keys = await tokenKeySource(esia.tokenKeys, { ...fetchOpt, cooldownMs: deps.tokenKeysCooldownMs ?? 30_000 })
  return new EsiaAdapter({
    kind: 'esia',
    url: esia.url,
    clientId: esia.clientId,
    scopes: esia.scopes,
    certHash: esia.certHash.toUpperCase(),
    signer,
    verifier: new TokenVerifier(keys, signer),
    pkce: esia.pkce,
    ...fetchOpt,
    ...timeoutOpt,
  })
}
