import { hkdfSync } from 'node:crypto'
import { CompactEncrypt, calculateJwkThumbprint, compactDecrypt, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import { withTransaction, type Pool, type Queryable } from '../db/pool.js'

/**
 * The provider's ES256 signing keys (docs/operations.md, «Secrets and their rotation»).
 * ES256 because signing is our cost and it is 4× cheaper than RS256 here (decision record
 * docs/decisions/0007-es256-one-shot-signing-with-node-crypto.md); `kid` is the JWK thumbprint. Rows live in `signing_keys`, private halves encrypted.
 *
 * Rotation follows panva's order (docs/decisions/0010-small-hand-written-parts.md): the new key is published in the JWKS
 * at once but signs only after ACTIVATION_DELAY, longer than any verifier keeps a JWKS cached (our
 * `Cache-Control` and jose's default `cacheMaxAge` of 10 minutes), so no journal ever sees a `kid`
 * it has not fetched yet. The old key stops signing at that moment and stays published until its
 * last token has expired, plus the cache time.
 */
export const ALG = 'ES256'
/** `Cache-Control: max-age` of /oauth2/jwks and the discovery document. */
export const JWKS_MAX_AGE_S = 300
/** jose's default `cacheMaxAge` (10 min): verifiers may keep a JWKS at least this long. */
const VERIFIER_CACHE_S = 600
/** Running instances re-read the table at least this often, so a rotation made elsewhere reaches them. */
export const MAX_REFRESH_S = 60
/** Every instance publishes a new key, then every cache has fetched it, before it signs. */
export const ACTIVATION_DELAY_S = MAX_REFRESH_S + VERIFIER_CACHE_S + JWKS_MAX_AGE_S
/** Longest lifetime of a token we sign (ID token 10 min; link token 5 min). */
export const MAX_TOKEN_TTL_S = 600
/** How long a retired key stays published after it stopped signing. */
export const RETIRED_KEY_GRACE_S = MAX_TOKEN_TTL_S + VERIFIER_CACHE_S

// One lock for generation and rotation, so several instances starting at once create one key.
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('esia-bridge:signing_keys'))`

export interface SigningKey {
  kid: string
  key: CryptoKey
}

interface KeyRow {
  kid: string
  public_jwk: JWK
  private_jwk_jwe: string
  created_at: Date
  activates_at: Date
  retires_at: Date | null
  expires_at: Date | null
}

interface LoadedKey {
  kid: string
  publicJwk: JWK
  createdAt: number
  activatesAt: number
  retiresAt: number | null
  expiresAt: number | null
  /** Imported only while the key may still sign. */
  privateKey: CryptoKey | null
}

/** AES-256-GCM key for the private JWKs, derived so KEYS_ENCRYPTION_KEY is never used raw. */
function deriveEncryptionKey(secret: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, 'esia-bridge', 'signing-keys/v1', 32))
}

async function encryptPrivateJwk(jwk: JWK, kid: string, encKey: Uint8Array): Promise<string> {
  // The kid sits in the protected header, which GCM authenticates: a ciphertext moved to another
  // row fails to decrypt instead of signing under the wrong kid.
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid }).encrypt(encKey)
}

async function decryptPrivateJwk(jwe: string, kid: string, encKey: Uint8Array): Promise<JWK> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, encKey, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] })
  if (protectedHeader.kid !== kid) throw new Error(`Signing key ${kid}: encrypted private key belongs to another kid`)
  return JSON.parse(new TextDecoder().decode(plaintext)) as JWK
}

async function newKeyRow(encKey: Uint8Array): Promise<{ kid: string; publicJwk: JWK; privateJwe: string }> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(publicJwk)
  const published: JWK = { ...publicJwk, kid, alg: ALG, use: 'sig' }
  return { kid, publicJwk: published, privateJwe: await encryptPrivateJwk(await exportJWK(privateKey), kid, encKey) }
}

const ms = (d: Date | null) => (d ? d.getTime() : null)
const canSignAt = (k: Pick<LoadedKey, 'activatesAt' | 'retiresAt'>, t: number) => k.activatesAt <= t && (k.retiresAt === null || k.retiresAt > t)
const publishedAt = (k: Pick<LoadedKey, 'createdAt' | 'expiresAt'>, t: number) => k.createdAt <= t && (k.expiresAt === null || k.expiresAt > t)

export interface SigningKeysOptions {
  db: Pool
  encryptionSecret: string
  /** The clock every key decision and token time uses; tests set their own. */
  now?: () => Date
  /** How often the table is re-read (at most MAX_REFRESH_S). */
  refreshMs?: number
}

/**
 * Keys as the running instance sees them: imported once, kept in memory, re-read every minute or
 * SIGNING_KEYS_REFRESH_SECONDS — on a timer while the app runs (`start`), so an idle instance does not
 * sign or publish from an old view, and in the background when a request finds the view older
 * (stale-while-revalidate: signing never waits for the refresh unless no key can sign). /oauth2/jwks
 * alone waits for a stale view to be re-read: what it publishes is cached for JWKS_MAX_AGE_S, and
 * ACTIVATION_DELAY_S counts on every instance publishing a new key within MAX_REFRESH_S of its
 * creation. Nothing touches the database until the first use, so building the app stays offline.
 */
export class SigningKeys {
  /** Replaceable clock (tests move time instead of sleeping). */
  now: () => Date
  readonly #db: Pool
  readonly #encKey: Uint8Array
  readonly #refreshMs: number
  #keys: LoadedKey[] = []
  #loadedAt = -Infinity
  #loading: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(opts: SigningKeysOptions) {
    this.#db = opts.db
    this.#encKey = deriveEncryptionKey(opts.encryptionSecret)
    this.now = opts.now ?? (() => new Date())
    this.#refreshMs = Math.min(opts.refreshMs ?? MAX_REFRESH_S * 1000, MAX_REFRESH_S * 1000)
  }

  /** The key that signs now; generates the first key on first start. */
  async current(): Promise<SigningKey> {
    if (this.now().getTime() - this.#loadedAt > this.#refreshMs) {
      const refresh = this.refresh()
      if (this.#keys.length === 0) await refresh
      else refresh.catch(() => {})
    }
    let signer = this.#pick(this.now().getTime())
    if (!signer) {
      await this.refresh()
      signer = this.#pick(this.now().getTime())
    }
    if (!signer) {
      await this.#generateFirstKey()
      await this.refresh()
      signer = this.#pick(this.now().getTime())
    }
    if (!signer?.privateKey) throw new Error('No signing key can sign now')
    return { kid: signer.kid, key: signer.privateKey }
  }

  /** Public keys to publish now: pending, active and retired-but-not-expired; never from a stale view. */
  async jwks(): Promise<{ keys: JWK[] }> {
    if (this.now().getTime() - this.#loadedAt > this.#refreshMs) await this.refresh()
    await this.current()
    const t = this.now().getTime()
    return { keys: this.#keys.filter((k) => publishedAt(k, t)).map((k) => k.publicJwk) }
  }

  /** Re-reads the table every refresh interval from now on, once keys have been used (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => {
      if (this.#keys.length > 0) this.refresh().catch(() => {})
    }, this.#refreshMs)
    this.#timer.unref()
  }

  /** Stops the timer, after a re-read in progress (the pool may close next). */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#loading?.catch(() => {})
  }

  /** Re-reads the table (deduplicated when several requests ask at once). */
  refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined
    })
    return this.#loading
  }

  /**
   * Starts a rotation: the new key is published now and signs from `activatesAt`; every key still
   * signing retires then and stays published for RETIRED_KEY_GRACE_S more.
   */
  async rotate(): Promise<{ kid: string; activatesAt: Date }> {
    const now = this.now()
    const result = await withTransaction(this.#db, async (tx) => {
      await tx.query(LOCK_SQL)
      const live = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys WHERE retires_at IS NULL')
      // With no key in use nobody can have cached one: the first key signs at once.
      const activatesAt = new Date(now.getTime() + (live.rows[0]!.n > 0 ? ACTIVATION_DELAY_S * 1000 : 0))
      const expiresAt = new Date(activatesAt.getTime() + RETIRED_KEY_GRACE_S * 1000)
      await tx.query('UPDATE signing_keys SET retires_at = $1, expires_at = $2 WHERE retires_at IS NULL', [activatesAt, expiresAt])
      const kid = await this.#insertKey(tx, now, activatesAt)
      return { kid, activatesAt }
    })
    await this.refresh()
    return result
  }

  /** Deletes keys past their publication; returns how many went (housekeeping). */
  async purgeExpired(): Promise<number> {
    const { rowCount } = await this.#db.query('DELETE FROM signing_keys WHERE expires_at <= $1', [this.now()])
    return rowCount ?? 0
  }

  #pick(t: number): LoadedKey | undefined {
    let best: LoadedKey | undefined
    for (const k of this.#keys) if (canSignAt(k, t) && (!best || k.activatesAt > best.activatesAt)) best = k
    return best
  }

  async #load(): Promise<void> {
    const t = this.now()
    const { rows } = await this.#db.query<KeyRow>(
      `SELECT kid, public_jwk, private_jwk_jwe, created_at, activates_at, retires_at, expires_at
       FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1 ORDER BY activates_at`,
      [t],
    )
    const known = new Map(this.#keys.map((k) => [k.kid, k]))
    const next: LoadedKey[] = []
    for (const r of rows) {
      const k: LoadedKey = {
        kid: r.kid,
        publicJwk: r.public_jwk,
        createdAt: r.created_at.getTime(),
        activatesAt: r.activates_at.getTime(),
        retiresAt: ms(r.retires_at),
        expiresAt: ms(r.expires_at),
        privateKey: null,
      }
      if (k.retiresAt === null || k.retiresAt > t.getTime()) {
        // Decrypt and import each key once per process, not on every refresh.
        k.privateKey = known.get(k.kid)?.privateKey ?? ((await importJWK(await decryptPrivateJwk(r.private_jwk_jwe, r.kid, this.#encKey), ALG)) as CryptoKey)
      }
      next.push(k)
    }
    this.#keys = next
    this.#loadedAt = t.getTime()
  }

  async #generateFirstKey(): Promise<void> {
    const now = this.now()
    await withTransaction(this.#db, async (tx) => {
      await tx.query(LOCK_SQL)
      // Another instance may have created it while we waited for the lock.
      const { rows } = await tx.query<{ kid: string }>(
        'SELECT kid FROM signing_keys WHERE activates_at <= $1 AND (retires_at IS NULL OR retires_at > $1) LIMIT 1',
        [now],
      )
      if (rows.length === 0) await this.#insertKey(tx, now, now)
    })
  }

  async #insertKey(tx: Queryable, createdAt: Date, activatesAt: Date): Promise<string> {
    const { kid, publicJwk, privateJwe } = await newKeyRow(this.#encKey)
    await tx.query(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_jwe, created_at, activates_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [kid, ALG, JSON.stringify(publicJwk), privateJwe, createdAt, activatesAt],
    )
    return kid
  }
}
