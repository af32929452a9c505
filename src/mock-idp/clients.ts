import { createPublicKey, timingSafeEqual, createHash, type KeyObject } from 'node:crypto'
import { gostCertificateHash, gostPublicKey } from '../upstream/signers/openssl-gost.js'
import { testKeyCertificateHash } from '../upstream/signers/test-key.js'

/** The algorithms an ИС may choose for its tokens on the tech portal (docs/esia.md, «Token shapes and the checks made»). */
export type TokenAlg = 'RS256' | 'GOST3410_2012_256'

/** An ИС's GOST certificate as ЕСИА holds it: read once, when the ИС is registered. */
export interface GostClientCertificate {
  certificatePem: string
  /** Its public key (SPKI PEM), which `client_secret` is checked with. */
  publicKeyPem: string
  /** GOST R 34.11-2012 (256) of the DER certificate, upper-case hex: what `client_certificate_hash` must be. */
  certHash: string
}

/** Reads a GOST certificate with OpenSSL's GOST engine (which the caller has checked is there). */
export async function gostClientCertificate(certificatePem: string): Promise<GostClientCertificate> {
  const [publicKeyPem, certHash] = await Promise.all([gostPublicKey(certificatePem), gostCertificateHash(certificatePem)])
  return { certificatePem, publicKeyPem, certHash }
}

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
  /** The ИС's GOST certificate, where OpenSSL's GOST engine is present: `client_secret` is real GOST. */
  gost?: GostClientCertificate
  /** Otherwise an Ed25519 public key standing in for the GOST certificate (KeyObject or SPKI PEM). */
  publicKey?: KeyObject | string
  /** `client_certificate_hash` the ИС must send; derived from the certificate or key when omitted. */
  certHash?: string
  /** How the mock signs this ИС's tokens, as chosen on the tech portal; RS256 unless said. */
  tokenAlg?: TokenAlg
  /** The ИС accepts only confirmed accounts: others get ESIA-007055 (docs/esia.md, «Errors»). */
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
  /** What `client_secret` is checked with: the GOST public key (PEM), or the Ed25519 stand-in. */
  secretKey: { kind: 'gost'; publicKeyPem: string } | { kind: 'ed25519'; key: KeyObject }
  certHash: string
  tokenAlg: TokenAlg
  confirmedOnly: boolean
  oidc: { clientId: string; secretSha256: Buffer } | undefined
}

const sha256 = (s: string) => createHash('sha256').update(s).digest()

function secretKey(reg: MockClientRegistration): Pick<MockClient, 'secretKey' | 'certHash'> {
  if (reg.gost) return { secretKey: { kind: 'gost', publicKeyPem: reg.gost.publicKeyPem }, certHash: (reg.certHash ?? reg.gost.certHash).toUpperCase() }
  if (!reg.publicKey) throw new Error(`Mock client ${reg.clientId}: a GOST certificate or an Ed25519 test key is required`)
  const publicKey = typeof reg.publicKey === 'string' ? createPublicKey(reg.publicKey) : reg.publicKey
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`Mock client ${reg.clientId}: the test key must be Ed25519`)
  return {
    secretKey: { kind: 'ed25519', key: publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey },
    certHash: (reg.certHash ?? testKeyCertificateHash(publicKey)).toUpperCase(),
  }
}

export class MockClientRegistry {
  readonly #esia = new Map<string, MockClient>()
  readonly #oidc = new Map<string, MockClient>()

  register(reg: MockClientRegistration): MockClient {
    const client: MockClient = {
      clientId: reg.clientId,
      name: reg.name ?? reg.clientId,
      redirectUris: new Set(reg.redirectUris),
      origins: new Set(reg.redirectUris.map((u) => new URL(u).origin)),
      ...secretKey(reg),
      tokenAlg: reg.tokenAlg ?? 'RS256',
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
