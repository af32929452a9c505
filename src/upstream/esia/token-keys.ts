import { createPublicKey, verify as cryptoVerify, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fetchBackChannel, isObject, keepAliveBackChannel, parseJson, upstreamRequest, type BackChannel } from '../http.js'
import type { EsiaSigner } from '../signers/types.js'
import { UpstreamError } from '../types.js'

/**
 * Keys that verify ЕСИА's tokens (ESIA_TOKEN_KEYS), and the one signature check a login pays.
 *
 * ЕСИА publishes its keys in `esia.zip` — certificates (`RSA_PROD_2025.cer`, `ГОСТ_PROD_25_26.cer`)
 * and a JWK — and rotates them (docs/esia.md, «Token shapes and the checks made»). ESIA_TOKEN_KEYS takes any of:
 *  - inline PEM (certificates or public keys, several at once) or inline JSON (a JWK or a JWKS);
 *  - file or directory paths separated by commas (the unpacked esia.zip: .cer in PEM or DER, .pem,
 *    .jwk, .json);
 *  - an http(s) URL of a JWKS (the bundled mock, or a broker), refetched when a token's key is
 *    unknown — at most once per cooldown.
 * Keys are imported once (node:crypto KeyObjects), at start or at refetch, never per request.
 */
export const RS256 = 'RS256'
export const GOST_ALG = 'GOST3410_2012_256'

export interface TokenKey {
  alg: typeof RS256 | typeof GOST_ALG
  kid: string | undefined
  /** SHA-256 of the DER certificate, upper-case hex (ЕСИА's `x5t#St256`), when a certificate was given. */
  x5tS256: string | undefined
  /** RS256 keys: the imported public key. */
  key: KeyObject | undefined
  /** GOST keys: the certificate, for the signer's crypto to verify with. */
  certificate: string | undefined
}

export interface TokenKeySource {
  keys(): Promise<readonly TokenKey[]>
  /** Fetches the keys again (remote sources only); false when not possible now (cooldown). */
  refresh(): Promise<boolean>
}


function fromCertificate(cert: X509Certificate): TokenKey {
  const x5tS256 = cert.fingerprint256.replaceAll(':', '').toUpperCase()
  let publicKey: KeyObject | undefined
  try {
    publicKey = cert.publicKey
  } catch {
    // OpenSSL without the GOST engine cannot read a GOST public key: leave it to the signer's crypto.
  }
  if (publicKey?.asymmetricKeyType === 'rsa') return { alg: RS256, kid: undefined, x5tS256, key: publicKey, certificate: undefined }
  return { alg: GOST_ALG, kid: undefined, x5tS256, key: undefined, certificate: cert.toString() }
}

function fromJwk(jwk: Record<string, unknown>): TokenKey | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
  if (jwk.kty !== 'RSA' || (jwk.alg !== undefined && jwk.alg !== RS256)) return undefined
  const { d: _private, ...publicPart } = jwk
  const x5c = Array.isArray(jwk.x5c) && typeof jwk.x5c[0] === 'string' ? new X509Certificate(Buffer.from(jwk.x5c[0], 'base64')) : undefined
  return {
    alg: RS256,
    kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
    x5tS256: x5c?.fingerprint256.replaceAll(':', '').toUpperCase(),
    key: createPublicKey({ key: publicPart as JsonWebKey, format: 'jwk' }),
    certificate: undefined,
  }
}

async function fromJson(value: unknown): Promise<TokenKey[]> {
  const list = isObject(value) && Array.isArray(value.keys) ? value.keys : [value]
  const keys: TokenKey[] = []
  for (const jwk of list) {
    if (!isObject(jwk)) continue
    const key = fromJwk(jwk)
    if (key) keys.push(key)
  }
  return keys
}

async function fromPem(text: string): Promise<TokenKey[]> {
  const keys: TokenKey[] = []
  for (const [block, label] of text.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g)) {
    if (label === 'CERTIFICATE') keys.push(fromCertificate(new X509Certificate(block)))
    else if (label === 'PUBLIC KEY') {
      const publicKey = createPublicKey(block)
      if (publicKey.asymmetricKeyType !== 'rsa') throw new Error('a PUBLIC KEY that is not RSA: give GOST keys as certificates')
      keys.push({ alg: RS256, kid: undefined, x5tS256: undefined, key: publicKey, certificate: undefined })
    }
  }
  return keys
}

async function fromContent(content: Buffer): Promise<TokenKey[]> {
  const text = content.toString('utf8')
  if (text.includes('-----BEGIN')) return fromPem(text)
  if (/^\s*[[{]/.test(text)) return fromJson(JSON.parse(text))
  // esia.zip's .cer files may be DER.
  return [fromCertificate(new X509Certificate(content))]
}

async function fromPath(p: string): Promise<TokenKey[]> {
  if ((await stat(p)).isDirectory()) {
    const names = (await readdir(p)).filter((n) => /\.(cer|crt|pem|jwk|json)$/i.test(n)).sort()
    return (await Promise.all(names.map((n) => fromPath(path.join(p, n))))).flat()
  }
  return fromContent(await readFile(p))
}

class StaticKeys implements TokenKeySource {
  constructor(private readonly list: readonly TokenKey[]) {}
  async keys() {
    return this.list
  }
  async refresh() {
    return false
  }
}

class RemoteJwks implements TokenKeySource {
  #list: Promise<readonly TokenKey[]> | undefined
  #fetchedAt = 0

  constructor(private readonly url: string, private readonly http: BackChannel, private readonly cooldownMs: number) {}

  keys(): Promise<readonly TokenKey[]> {
    this.#list ??= this.#load()
    return this.#list
  }

  async refresh(): Promise<boolean> {
    if (Date.now() - this.#fetchedAt < this.cooldownMs) return false
    this.#list = this.#load()
    await this.#list
    return true
  }

  async #load(): Promise<readonly TokenKey[]> {
    this.#fetchedAt = Date.now()
    try {
      const response = await upstreamRequest(this.http, this.url, { headers: { accept: 'application/json' }, timeoutMs: 5000 }, 'token keys')
      if (response.status !== 200) throw new UpstreamError('unavailable', 'keys_unavailable', `token keys: ${this.url} answered ${response.status}`)
      return await fromJson(parseJson(response, 'token keys'))
    } catch (err) {
      this.#list = undefined // the next login tries again
      throw err
    }
  }
}

/** Parses ESIA_TOKEN_KEYS (see above). Files are read here, at start: a bad path stops start-up. */
export async function tokenKeySource(value: string, opts: { fetch?: typeof fetch; cooldownMs?: number } = {}): Promise<TokenKeySource> {
  const trimmed = value.trim()
  if (/^https?:\/\//.test(trimmed)) return new RemoteJwks(trimmed, opts.fetch ? fetchBackChannel(opts.fetch) : keepAliveBackChannel, opts.cooldownMs ?? 30_000)
  let keys: TokenKey[]
  try {
    keys = trimmed.includes('-----BEGIN') || /^[[{]/.test(trimmed)
      ? await fromContent(Buffer.from(trimmed))
      : (await Promise.all(trimmed.split(',').map((p) => p.trim()).filter(Boolean).map(fromPath))).flat()
  } catch (err) {
    throw new UpstreamError('configuration', 'token_keys_invalid', `ESIA_TOKEN_KEYS: ${(err as Error).message}`, { cause: err })
  }
  if (keys.length === 0) throw new UpstreamError('configuration', 'token_keys_invalid', 'ESIA_TOKEN_KEYS holds no usable key (RSA certificates, RSA public keys, RS256 JWKs or GOST certificates)')
  return new StaticKeys(keys)
}

const invalid = (code: string, message: string) => new UpstreamError('invalid_response', code, message)

/**
 * Verifies a token's signature and returns its payload bytes. The algorithm comes from an
 * allow-list (RS256; GOST only when the signer offers GOST verification) — never `none`, never
 * HMAC, whatever the header says. ЕСИА's tokens carry no `kid` (docs/esia.md, «Token shapes and the checks made»), so keys are
 * tried in order, the last one that worked first: one RSA verification per login in steady state.
 */
export class TokenVerifier {
  #lastGood: TokenKey | undefined

  constructor(private readonly source: TokenKeySource, private readonly signer: Pick<EsiaSigner, 'verifyGost'> = {}) {}

  async verify(token: string): Promise<Uint8Array> {
    const parts = token.split('.')
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw invalid('token_malformed', 'the token is not a compact JWS')
    let header: Record<string, unknown>
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>
    } catch {
      throw invalid('token_malformed', 'the token header is not JSON')
    }
    // No JWS extensions are understood, so a token that marks one critical is refused (RFC 7515 §4.1.11).
    if (header.crit !== undefined) throw invalid('token_malformed', 'the token header has crit extensions')
    const alg = header.alg
    if (alg !== RS256 && !(alg === GOST_ALG && this.signer.verifyGost)) throw invalid('token_alg_not_allowed', `token algorithm ${String(alg)} is not allowed`)

    const tried = new Set<TokenKey>()
    for (let attempt = 0; attempt < 2; attempt++) {
      const candidates = this.#candidates(await this.source.keys(), header).filter((k) => !tried.has(k))
      for (const key of candidates) {
        const payload = await this.#verifyWith(key, token, parts)
        if (payload) {
          this.#lastGood = key
          return payload
        }
        tried.add(key)
      }
      // A key we have never seen (rotation): fetch the keys again, once, and retry.
      if (attempt > 0 || !(await this.source.refresh())) break
    }
    if (typeof header.kid === 'string' && tried.size === 0) throw invalid('token_key_unknown', 'no configured key has the token\'s kid')
    throw invalid('token_signature_invalid', 'the token signature does not verify with any configured key')
  }

  #candidates(keys: readonly TokenKey[], header: Record<string, unknown>): TokenKey[] {
    let list = keys.filter((k) => k.alg === header.alg)
    if (typeof header.kid === 'string' && list.some((k) => k.kid !== undefined)) list = list.filter((k) => k.kid === header.kid)
    const thumb = header['x5t#St256'] ?? header['x5t#S256']
    const rank = (k: TokenKey) => (k === this.#lastGood ? 0 : typeof thumb === 'string' && k.x5tS256 === thumb.toUpperCase() ? 1 : 2)
    return list.sort((a, b) => rank(a) - rank(b))
  }

  async #verifyWith(key: TokenKey, token: string, parts: string[]): Promise<Uint8Array | undefined> {
    if (key.alg === RS256 && key.key) {
      // RSASSA-PKCS1-v1_5 with SHA-256 over `header.payload`, by node:crypto directly: measured
      // ≈ 0.03 ms against ≈ 0.15–0.2 ms through jose's WebCrypto path, on the one check every login pays.
      const ok = cryptoVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key.key, Buffer.from(parts[2]!, 'base64url'))
      return ok ? new Uint8Array(Buffer.from(parts[1]!, 'base64url')) : undefined
    }
    if (key.alg === GOST_ALG && key.certificate && this.signer.verifyGost) {
      const ok = await this.signer.verifyGost({
        alg: GOST_ALG,
        signingInput: Buffer.from(`${parts[0]}.${parts[1]}`),
        signature: Buffer.from(parts[2]!, 'base64url'),
        certificate: key.certificate,
      })
      return ok ? new Uint8Array(Buffer.from(parts[1]!, 'base64url')) : undefined
    }
    return undefined
  }
}
