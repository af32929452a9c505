import { randomUUID, sign, type KeyObject } from 'node:crypto'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'

/**
 * A bare-hands ЕСИА client for the mock's own tests: builds v2/ac and v3/te requests exactly as
 * docs/esia.md describes, and lets a test spoil any one field. Independent of
 * src/upstream, so a mistake shared by the adapter and the mock cannot hide.
 */
export interface EsiaTestClient {
  base: string
  clientId: string
  privateKey: KeyObject
  certHash: string
  redirectUri: string
}

const pad = (n: number) => String(n).padStart(2, '0')
export function timestamp(at = new Date(), offsetMinutes = 180): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000)
  const sign = offsetMinutes >= 0 ? '+' : '-'
  const off = Math.abs(offsetMinutes)
  return `${local.getUTCFullYear()}.${pad(local.getUTCMonth() + 1)}.${pad(local.getUTCDate())} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${sign}${pad(Math.floor(off / 60))}${pad(off % 60)}`
}

export const secret = (key: KeyObject, message: string): string => sign(null, Buffer.from(message, 'utf8'), key).toString('base64url')

export function authorizeUrl(c: EsiaTestClient, overrides: Record<string, string | undefined> = {}, signed?: (p: Record<string, string>) => string): URL {
  const p: Record<string, string> = {
    client_id: c.clientId,
    client_certificate_hash: c.certHash,
    redirect_uri: c.redirectUri,
    scope: 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils',
    response_type: 'code',
    state: randomUUID(),
    timestamp: timestamp(),
    access_type: 'online',
  }
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete p[k]; else p[k] = v
  const message = signed ? signed(p) : `${p.client_id}${p.scope}${p.scope_org ?? ''}${p.timestamp}${p.state}${p.redirect_uri}`
  const url = new URL(`${c.base}/aas/oauth2/v2/ac`)
  for (const [k, v] of Object.entries({ ...p, client_secret: overrides.client_secret ?? secret(c.privateKey, message) })) url.searchParams.set(k, v)
  if (overrides.client_secret === undefined && 'client_secret' in overrides) url.searchParams.delete('client_secret')
  return url
}

export async function exchange(c: EsiaTestClient, code: string, overrides: Record<string, string | undefined> = {}, signed?: (p: Record<string, string>) => string): Promise<{ status: number; body: Record<string, unknown>; sentState: string }> {
  const p: Record<string, string> = {
    client_id: c.clientId,
    code,
    grant_type: 'authorization_code',
    client_certificate_hash: c.certHash,
    state: randomUUID(),
    redirect_uri: c.redirectUri,
    scope: 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils',
    timestamp: timestamp(),
    token_type: 'Bearer',
  }
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete p[k]; else p[k] = v
  const message = signed ? signed(p) : `${p.client_id}${p.scope}${p.scope_org ?? ''}${p.timestamp}${p.state}${p.redirect_uri}${p.code}`
  const body = new URLSearchParams({ ...p, client_secret: overrides.client_secret ?? secret(c.privateKey, message) })
  if (overrides.client_secret === undefined && 'client_secret' in overrides) body.delete('client_secret')
  const response = await fetch(`${c.base}/aas/oauth2/v3/te`, { method: 'POST', body })
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, sentState: p.state ?? '' }
}

export const decodeJwt = (jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown> } => {
  const [h, p] = jwt.split('.')
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(p!, 'base64url').toString()) }
}

export const bearer = (base: string, path: string, token: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })

/** A mock with one registered ИС and a bare-hands client for it. */
export async function mockWithClient(redirectUri = 'https://rp.example/esia/callback', opts: { singleSignOn?: boolean } = {}): Promise<{ mock: TestMockEsia; rp: EsiaTestClient }> {
  const mock = await startTestMockEsia({ redirectUris: [redirectUri], ...opts })
  return { mock, rp: { base: mock.url, clientId: mock.clientId, privateKey: mock.testKey.privateKey, certHash: mock.testKey.certHash, redirectUri } }
}
