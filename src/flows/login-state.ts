import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { UpstreamTransaction } from '../upstream/types.js'
import type { BrowserHash } from './browser.js'
import { FLOW_STATE_TTL_S } from './flow-state.js'

/**
 * A login's transaction with the upstream, kept in the browser instead of a row
 * (docs/decisions/0016-login-flow-state-in-a-sealed-cookie.md). Two parts:
 *
 * - the `state` sent to ЕСИА: a UUID in the v4 format ЕСИА demands, whose bits carry the issue time
 *   and a truncated HMAC, so the callback knows without the database whether we issued it and when;
 * - a cookie named after that state, scoped to the callback path, holding the nonce, the PKCE
 *   verifier, the journal's authorize request and the browser it belongs to, sealed with
 *   AES-256-GCM (the state is its associated data, so a cookie cannot be moved to another state).
 *
 * Both keys are derived (HKDF-SHA256) from COOKIE_SECRET, the secret of the bridge's other cookies.
 * Written with node:crypto's one-shot calls: jose's JWE is asynchronous and several times dearer on
 * a path every login takes.
 */
export interface LoginStateKeys {
  mac: KeyObject
  seal: KeyObject
}

export function loginStateKeys(cookieSecret: string): LoginStateKeys {
  const derive = (info: string) => createSecretKey(Buffer.from(hkdfSync('sha256', cookieSecret, 'esia-bridge', info, 32)))
  return { mac: derive('login state mac v1'), seal: derive('login flow cookie v1') }
}

// Random bytes drawn from a pool refilled 4 KiB at a time: one call into the CSPRNG per couple of
// hundred logins instead of two per login (each a job object and a trip into C++).
const pool = Buffer.alloc(4096)
let poolOffset = pool.length
function randomInto(target: Buffer, offset: number, length: number): void {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  pool.copy(target, offset, poolOffset, poolOffset + length)
  pool.fill(0, poolOffset, poolOffset + length)
  poolOffset += length
}

// The 16 bytes of the state: 0–3 issue time (Unix seconds), 4–9 random (with the UUID's version
// nibble in byte 6 and variant bits in byte 8: 42 random bits), 10–15 the first 48 bits of
// HMAC-SHA256(mac key, bytes 0–9). A forged state passes with odds of 2⁻⁴⁸, and gains only the
// choice of which refusal page to see: everything a login relies on is in the sealed cookie.
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const macOf = (keys: LoginStateKeys, head: Buffer) => createHmac('sha256', keys.mac).update(head).digest().subarray(0, 6)

const uuidOf = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`

/** A new state issued now (seconds since the epoch). */
export function issueLoginState(keys: LoginStateKeys, nowS = Math.floor(Date.now() / 1000)): string {
  const bytes = Buffer.allocUnsafe(16)
  bytes.writeUInt32BE(nowS >>> 0, 0)
  randomInto(bytes, 4, 6)
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  macOf(keys, bytes.subarray(0, 10)).copy(bytes, 10)
  return uuidOf(bytes.toString('hex'))
}

/** When a state we issued was issued (seconds), or undefined for a state that is not ours. */
export function loginStateIssuedAt(keys: LoginStateKeys, state: string): number | undefined {
  if (state.length !== 36 || !UUID_V4.test(state)) return undefined
  const bytes = Buffer.from(state.replaceAll('-', ''), 'hex')
  if (!timingSafeEqual(macOf(keys, bytes.subarray(0, 10)), bytes.subarray(10))) return undefined
  return bytes.readUInt32BE(0)
}

/** Past FLOW_STATE_TTL_S: the person took too long at Госуслуги. */
export const loginStateExpired = (issuedAt: number, nowS = Math.floor(Date.now() / 1000)) => nowS - issuedAt > FLOW_STATE_TTL_S

/** One cookie per flow, so two tabs logging in at once each keep their own. */
export const loginCookiePrefix = (https: boolean) => `${https ? '__Secure-' : ''}bridge-login-`
export const loginCookieName = (state: string, https: boolean) => `${loginCookiePrefix(https)}${state.replaceAll('-', '')}`

/** The state a login cookie's name was made from, or undefined for a name no state makes. */
export function loginStateOfCookie(name: string, https: boolean): string | undefined {
  const hex = name.slice(loginCookiePrefix(https).length)
  return /^[0-9a-f]{32}$/.test(hex) ? uuidOf(hex) : undefined
}

/**
 * The Set-Cookie line of a login's cookie, written as a string: name (hex) and value (base64url)
 * need no encoding, and @fastify/cookie's generic path (options merged, validated, serialised in
 * an onSend hook) was the largest item of the cookie's cost. `sealed` undefined: the line that
 * removes it.
 */
export function loginCookieHeader(name: string, sealed: string | undefined, https: boolean, path: string): string {
  const attributes = `; Path=${path}; HttpOnly; SameSite=Lax${https ? '; Secure' : ''}`
  return sealed === undefined ? `${name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${attributes}` : `${name}=${sealed}; Max-Age=${FLOW_STATE_TTL_S}${attributes}`
}

/** What the sealed cookie holds: everything the callback needs besides the state itself. */
export interface SealedLogin {
  browser: BrowserHash
  transaction: UpstreamTransaction
  authorizeRequest: Record<string, unknown>
}

interface Payload {
  b: string
  n: string
  v: string | null
  r: Record<string, unknown>
}

/**
 * At most how long the cookie (name and value) of this journal request will be, known before the
 * upstream transaction exists: the request's JSON, plus the browser hash (43), the nonce and the
 * PKCE verifier (under 64 each) and the keys and quotes, sealed (IV and tag, 28 bytes), base64url.
 */
export function loginCookieBound(authorizeRequest: Record<string, unknown>): number {
  const json = Buffer.byteLength(JSON.stringify(authorizeRequest)) + 43 + 64 + 64 + 40
  return loginCookiePrefix(true).length + 32 + 1 + Math.ceil(((28 + json) * 4) / 3)
}

/** base64url(iv ‖ tag ‖ ciphertext) of the payload's JSON, the state as associated data. */
export function sealLogin(keys: LoginStateKeys, login: SealedLogin): string {
  const iv = Buffer.allocUnsafe(12)
  randomInto(iv, 0, 12)
  const cipher = createCipheriv('aes-256-gcm', keys.seal, iv)
  cipher.setAAD(Buffer.from(login.transaction.state, 'latin1'))
  const payload: Payload = { b: login.browser.toString('base64url'), n: login.transaction.nonce, v: login.transaction.codeVerifier, r: login.authorizeRequest }
  const body = cipher.update(JSON.stringify(payload), 'utf8')
  const last = cipher.final()
  return Buffer.concat([iv, cipher.getAuthTag(), body, last]).toString('base64url')
}

/** The sealed login for this state, or undefined when the cookie was not sealed by us for it. */
export function openLogin(keys: LoginStateKeys, state: string, sealed: string): SealedLogin | undefined {
  const raw = Buffer.from(sealed, 'base64url')
  if (raw.length < 29) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.seal, raw.subarray(0, 12))
    decipher.setAAD(Buffer.from(state, 'latin1'))
    decipher.setAuthTag(raw.subarray(12, 28))
    const json = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    const p = JSON.parse(json) as Payload
    return { browser: Buffer.from(p.b, 'base64url'), transaction: { state, nonce: p.n, codeVerifier: p.v }, authorizeRequest: p.r }
  } catch {
    return undefined
  }
}
