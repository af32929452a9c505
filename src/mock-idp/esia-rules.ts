import { verify } from 'node:crypto'
import { gostVerify } from '../upstream/signers/openssl-gost.js'
import type { MockClient } from './clients.js'
import { EsiaRefusal } from './esia-errors.js'

/**
 * The checks ЕСИА applies to an authorization or token request, written on the mock's side
 * independently of the adapter that builds the request: a mistake shared by both would hide.
 */

/** `yyyy.MM.dd HH:mm:ss Z`, e.g. `2025.09.02 13:00:29 +0300` (docs/esia.md, «Authorization request (v2/ac)»). */
const TIMESTAMP = /^(\d{4})\.(\d{2})\.(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/

/** The instant a ЕСИА timestamp names, in ms; null when the format is wrong or the day unreal. */
export function parseEsiaTimestamp(value: string): number | null {
  const m = TIMESTAMP.exec(value)
  if (!m) return null
  const [, y, mo, d, h, mi, s, , oh, om] = m.map(Number) as number[]
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59 || om! > 59) return null
  const utc = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)
  if (new Date(utc).getUTCDate() !== d) return null
  const offsetMs = ((oh! * 60 + om!) * 60_000) * (m[7] === '-' ? -1 : 1)
  return utc - offsetMs
}

export function checkTimestamp(value: string, skewSeconds: number, now = Date.now()): void {
  const at = parseEsiaTimestamp(value)
  if (at === null) throw new EsiaRefusal('ESIA-007015', 'timestamp')
  if (Math.abs(at - now) > skewSeconds * 1000) throw new EsiaRefusal('ESIA-007015', 'timestamp')
}

/** ЕСИА wants `state` to be a UUID (AISGorod: «согласно правилам ЕСИА», docs/esia.md, «Authorization request (v2/ac)»). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i
export function checkState(state: string): void {
  if (!UUID.test(state)) throw new EsiaRefusal('ESIA-007003', 'state')
}

export function requireParams<K extends string>(params: Partial<Record<K, string>>, names: readonly K[]): Record<K, string> {
  for (const name of names) {
    if (params[name] === undefined || params[name] === '') throw new EsiaRefusal('ESIA-007014', name)
  }
  return params as Record<K, string>
}

/**
 * The string ЕСИА's v2/ac and v3/te sign, in this exact order with no separators
 * (docs/esia.md, «The signed `client_secret`»): client_id + scope + scope_org + timestamp + state + redirect_uri
 * (+ code at the token endpoint). An empty scope_org contributes nothing.
 */
export function signedMessage(p: { clientId: string; scope: string; scopeOrg?: string | undefined; timestamp: string; state: string; redirectUri: string; code?: string | undefined }): string {
  return p.clientId + p.scope + (p.scopeOrg ?? '') + p.timestamp + p.state + p.redirectUri + (p.code ?? '')
}

/**
 * `client_secret` is base64url of the raw signature; standard base64 is accepted too (AISGorod
 * sends it). With a GOST certificate it is checked as ЕСИА does: GOST R 34.10-2012 (256)
 * with the Streebog-256 digest over the UTF-8 message, 64 bytes in OpenSSL's order (s‖r,
 * big-endian), so CryptoPro's unreversed bytes fail; without the engine an Ed25519 key stands in.
 */
export async function checkClientSecret(clientSecret: string, messages: string[], client: Pick<MockClient, 'secretKey'>): Promise<void> {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(clientSecret)) throw new EsiaRefusal('ESIA-007053')
  const signature = Buffer.from(clientSecret, 'base64')
  if (signature.length !== 64) throw new EsiaRefusal('ESIA-007053')
  const key = client.secretKey
  for (const message of messages) {
    const bytes = Buffer.from(message, 'utf8')
    const ok = key.kind === 'gost' ? await gostVerify(key.publicKeyPem, bytes, signature) : verify(null, bytes, key.key, signature)
    if (ok) return
  }
  throw new EsiaRefusal('ESIA-007053')
}
