import { createHash, createPublicKey, generateKeyPair, verify, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose'

const generateRsa = promisify(generateKeyPair)

/** One RS256 signing key of the mock: imported once, used for every token. */
export interface MockKey {
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
  publicJwk: JWK
  publicPem: string
  /** SHA-256 of the public key (SPKI DER), upper-case hex: the mock's `x5t#St256` (it has no certificate). */
  thumbprint: string
}

export async function describeKey(privateKey: KeyObject): Promise<MockKey> {
  const publicKey = createPublicKey(privateKey)
  const publicJwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(publicJwk)
  return {
    kid,
    privateKey,
    publicKey,
    publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' },
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    thumbprint: createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase(),
  }
}

export async function newRsaKey(): Promise<KeyObject> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048 })
  return privateKey
}

/**
 * The mock's token signing keys. ЕСИА rotates its keys (docs/operations.md, «Secrets and their rotation»; ekapusta/oauth2-esia#27), so
 * the mock can too: the new key signs at once, the previous one stays published (or is dropped)
 * for verifiers that cached it.
 */
export class MockSigningKeys {
  #keys: MockKey[]

  private constructor(keys: MockKey[]) {
    this.#keys = keys
  }

  static async create(initial?: KeyObject): Promise<MockSigningKeys> {
    return new MockSigningKeys([await describeKey(initial ?? (await newRsaKey()))])
  }

  get active(): MockKey {
    return this.#keys[0]!
  }

  all(): readonly MockKey[] {
    return this.#keys
  }

  async rotate(opts: { keepPrevious?: boolean; key?: KeyObject } = {}): Promise<MockKey> {
    const next = await describeKey(opts.key ?? (await newRsaKey()))
    this.#keys = opts.keepPrevious === false ? [next] : [next, ...this.#keys].slice(0, 3)
    return next
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => k.publicJwk) }
  }

  pem(): string {
    return this.#keys.map((k) => k.publicPem).join('')
  }

  /**
   * Verifies a compact RS256 JWS the mock issued (its own access tokens, on /rs and userinfo);
   * returns the payload or null. ЕСИА tokens carry no `kid`, so each published key is tried.
   */
  verifyOwn(token: string): Record<string, unknown> | null {
    const parts = token.split('.')
    if (parts.length !== 3) return null
    const [h, p, s] = parts as [string, string, string]
    let header: { alg?: unknown }
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown }
    } catch {
      return null
    }
    if (header.alg !== 'RS256') return null
    const input = Buffer.from(`${h}.${p}`)
    const signature = Buffer.from(s, 'base64url')
    if (!this.#keys.some((k) => verify('sha256', input, k.publicKey, signature))) return null
    try {
      return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
    } catch {
      return null
    }
  }
}
