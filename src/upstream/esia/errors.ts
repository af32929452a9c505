import { UpstreamError, type UpstreamErrorKind } from '../types.js'

/**
 * ЕСИА's error codes (docs/esia.md, «Errors») sorted by what the person can do about them.
 * The code travels in `UpstreamError.code` (the flows show `idp_error:<code>`).
 */
const PERSON_REFUSED = new Set([
  'ESIA-007004', // the person pressed «Отказать»
  'ESIA-007055', // the ИС accepts only confirmed accounts
  'ESIA-007046', // the scope needs a second factor the account cannot give
])
const TEMPORARY = new Set(['ESIA-007007', 'ESIA-007008'])

export function esiaErrorKind(code: string, oauthError: string | undefined): UpstreamErrorKind {
  if (PERSON_REFUSED.has(code) || code.startsWith('ESIA-0367')) return 'denied' // 0367xx: consent errors
  if (TEMPORARY.has(code)) return 'unavailable'
  if (code.startsWith('ESIA-')) return 'provider_error'
  if (oauthError === 'access_denied') return 'denied'
  if (oauthError === 'temporarily_unavailable' || oauthError === 'server_error') return 'unavailable'
  return 'provider_error'
}

/** An `error` / `error_description` pair (redirect or token endpoint) as a typed error. */
export function esiaError(error: string | undefined, description: string | undefined, where: string): UpstreamError {
  const code = /ESIA-\d{6}/.exec(description ?? '')?.[0] ?? error ?? 'unknown_error'
  const text = (description ?? error ?? '').slice(0, 300)
  return new UpstreamError(esiaErrorKind(code, error), code, `ЕСИА refused at ${where}: ${text}`)
}
