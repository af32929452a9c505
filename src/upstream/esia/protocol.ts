import { randomUUID } from 'node:crypto'

/**
 * The pieces of the ЕСИА v2/ac + v3/te dialect the adapter builds (docs/esia.md).
 */

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/**
 * `yyyy.MM.dd HH:mm:ss Z`. Written in UTC with `+0000` (as go-api-epgu does): libraries differ
 * between local offset and UTC and both are reported to work (docs/esia.md, «Known only from public examples, unverified on a real stand»), and UTC
 * does not depend on the server's time zone.
 */
export function esiaTimestamp(at = new Date()): string {
  return `${at.getUTCFullYear()}.${pad(at.getUTCMonth() + 1)}.${pad(at.getUTCDate())} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`
}

/** ЕСИА requires `state` to be a UUID (docs/esia.md, «Authorization request (v2/ac)»). */
export const esiaState = (): string => randomUUID()

/**
 * The string `client_secret` signs (docs/esia.md, «The signed `client_secret`»), no separators, in this order:
 * client_id + scope + scope_org + timestamp + state + redirect_uri, then + code at the token
 * endpoint. The legacy v1 order (scope + timestamp + client_id + state) is a known source of
 * ESIA-007053 and is not used.
 */
export function clientSecretMessage(p: { clientId: string; scope: string; scopeOrg: string; timestamp: string; state: string; redirectUri: string; code?: string }): string {
  return `${p.clientId}${p.scope}${p.scopeOrg}${p.timestamp}${p.state}${p.redirectUri}${p.code ?? ''}`
}

/** The issuers ЕСИА's tokens may carry for a host: `http://host/` as in real tokens, and its https twin
 * (docs/esia.md, «Token shapes and the checks made»). */
export function esiaIssuers(esiaUrl: string): { canonical: string; accepted: ReadonlySet<string> } {
  const host = new URL(esiaUrl).host
  const canonical = `http://${host}/`
  return { canonical, accepted: new Set([canonical, `https://${host}/`]) }
}

/** Granted scope names from the access token's `scope` (`fullname?oid=…` → `fullname`). */
export function grantedScopeNames(scope: unknown): Set<string> {
  if (typeof scope !== 'string') return new Set()
  return new Set(scope.split(' ').filter(Boolean).map((s) => s.split('?')[0]!))
}

/** oid as ЕСИА sends it — number or string — as a decimal string, or null. */
export function oidString(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value)
  if (typeof value === 'string' && /^[1-9]\d{0,19}$/.test(value)) return value
  return null
}

/**
 * A kid scope (`kid_fullname`, `kid_snils` …). How ЕСИА writes a granted kid scope in the access
 * token is unverified (docs/esia.md, «Children (`/kids`)»): the bare name, or a URI form ending in it.
 */
export const isKidScope = (scope: string): boolean => /(?:^|\/)kid_[a-z_]+$/.test(scope)
