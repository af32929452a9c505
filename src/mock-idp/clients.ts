import { createPublicKey, timingSafeEqual, createHash, type KeyObject } from 'node:crypto'
import { testKeyCertificateHash } from '../upstream/signers/test-key.js'

/**
 * An information system (ИС) registered at the mock, as on ЕСИА's tech portal: mnemonic, allowed
 * redirect URIs, the public key of its signing certificate and the certificate's hash. The same
 * registration may also act as a client of the mock's standard OIDC side.
 */
export interface MockClientRegistration {
  /** ЕСИА mnemonic (`client_id`), e.g. `ESIABRIDGE`. */
  clientId: string
  /** Shown on the consent page. */
  name?: string
  /** Exact redirect URIs (ЕСИА: «разрешённые redirect_uri» of the ИС). */
  redirectUris: string[]
  /** Ed25519 public key standing in for the ИС's GOST certificate (KeyObject or SPKI PEM). */
  publicKey: KeyObject | string
  /** `client_certificate_hash` the ИС must send; derived from the key when omitted. */
  certHash?: string
  /** The ИС accepts only confirmed accounts: others get ESIA-007055 (research/esia.md §8). */
  confirmedOnly?: boolean
  /** Standard OIDC side: client_secret_basic credentials. */
  oidc?: { clientId: string; clientSecret: string }
}

export interface MockClient {
  clientId: string
  name: string
  redirectUris: ReadonlySet<string>
  /** Origins of the redirect URIs: where the logout page may send the browser back. */
  origins: ReadonlySet<string>
  publicKey: KeyObject
  certHash: string
  confirmedOnly: boolean
  oidc: { clientId: string; secretSha256: Buffer } | undefined
}

const sha256 = (s: string) => createHash('sha256').update(s).digest()

export class MockClientRegistry {
  readonly #esia = new Map<string, MockClient>()
  readonly #oidc = new Map<string, MockClient>()

  register(reg: MockClientRegistration): MockClient {
    const publicKey = typeof reg.publicKey === 'string' ? createPublicKey(reg.publicKey) : reg.publicKey
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`Mock client ${reg.clientId}: the test key must be Ed25519`)
    const client: MockClient = {
      clientId: reg.clientId,
      name: reg.name ?? reg.clientId,
      redirectUris: new Set(reg.redirectUris),
      origins: new Set(reg.redirectUris.map((u) => new URL(u).origin)),
      publicKey: publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey,
      certHash: (reg.certHash ?? testKeyCertificateHash(publicKey)).toUpperCase(),
      confirmedOnly: reg.confirmedOnly ?? false,
      oidc: reg.oidc ? { clientId: reg.oidc.clientId, secretSha256: sha256(reg.oidc.clientSecret) } : undefined,
    }
    this.#esia.set(client.clientId, client)
    if (client.oidc) this.#oidc.set(client.oidc.clientId, client)
    return client
  }

  byMnemonic(clientId: string): MockClient | undefined {
    return this.#esia.get(clientId)
  }

  byOidcId(clientId: string): MockClient | undefined {
    return this.#oidc.get(clientId)
  }

  /** client_secret_basic check, constant time on the secret. */
  authenticateOidc(clientId: string, secret: string): MockClient | undefined {
    const client = this.#oidc.get(clientId)
    if (!client?.oidc) return undefined
    return timingSafeEqual(client.oidc.secretSha256, sha256(secret)) ? client : undefined
  }
}
