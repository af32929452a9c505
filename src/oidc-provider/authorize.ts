import { Type, type Static } from 'typebox'
import type { ClientRegistry, JournalClient } from './clients.js'

/**
 * The journal's authorization request (OpenID Connect Core §3.1.2, RFC 6749 §4.1, RFC 7636,
 * RFC 9700 §2), checked in the order RFC 6749 §4.1.2.1 prescribes: until the client and its exact
 * redirect_uri are known, nothing may go back on the redirect (a page says what went wrong); from
 * then on every refusal is an OAuth error on the redirect with `state` and RFC 9207 `iss`.
 *
 * What we require beyond the letter of the specifications, and why:
 * - PKCE with S256 for every client, confidential ones too (RFC 9700 §2.1.1: the defence against
 *   code injection; `plain` would put the verifier in the browser's history).
 * - `state`: journals bind the response to their own session with it (RFC 9700 §4.7); a journal
 *   that forgets it gets `invalid_request` at once rather than a silent CSRF gap.
 * - `nonce`: the ID token replay defence of ASVS 5.0 V10.5.1; openid-client always sends one.
 */

/** The parameters read; others are ignored (OIDC Core §3.1.2.1). Repeated parameters fail the schema. */
const param = (maxLength: number) => Type.Optional(Type.String({ maxLength }))
export const AuthorizeQuery = Type.Object(
  {
    client_id: param(4096),
    redirect_uri: param(4096),
    response_type: param(4096),
    response_mode: param(4096),
    scope: param(4096),
    state: param(4096),
    nonce: param(4096),
    code_challenge: param(4096),
    code_challenge_method: param(4096),
    prompt: param(4096),
    request: param(4096),
    request_uri: param(4096),
    registration: param(4096),
  },
  { additionalProperties: true },
)
export type AuthorizeQuery = Static<typeof AuthorizeQuery>

/** What the login flow keeps while the person is at Госуслуги (flow_states.authorize_request). */
export interface LoginRequest {
  clientId: string
  redirectUri: string
  state: string
  nonce: string
  codeChallenge: string
  /** `prompt=select_account`: show the chooser even for one journal user. */
  selectAccount: boolean
  /** Scope `children`: the ID token and userinfo carry a parent's children confirmed by Госуслуги. */
  children: boolean
}

/** Before the redirect can be trusted: the journal's registration does not allow this request. */
export type UntrustedRedirect = 'unknown_client' | 'invalid_redirect_uri'

/** An OAuth error that goes back to the journal on its (registered) redirect_uri. */
export interface AuthorizationError {
  redirectUri: string
  state: string | undefined
  error: 'invalid_request' | 'unsupported_response_type' | 'invalid_scope' | 'login_required' | 'request_not_supported' | 'request_uri_not_supported' | 'registration_not_supported'
  description: string
}

export type AuthorizeCheck =
  | { ok: true; client: JournalClient; request: LoginRequest }
  | { ok: false; page: UntrustedRedirect }
  | { ok: false; redirect: AuthorizationError }

// Lengths generous for any real journal and small enough to keep rows and URLs bounded.
const MAX_STATE = 512
const MAX_NONCE = 512
// S256 of a verifier is 32 bytes: exactly 43 base64url characters (RFC 7636 §4.2).
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/
// RFC 6749 §A.5 / A.10: printable ASCII; a longer value is no one's real state.
const PRINTABLE = /^[\x20-\x7e]+$/

// `login` and `consent` are accepted without effect: the bridge cannot make Госуслуги ask again, and
// says so by not listing them in discovery; the ID token's auth_time is Госуслуги's own.
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account'])

/** Checks the request against the client registry; never throws for bad input. */
export function checkAuthorizeRequest(clients: ClientRegistry, q: AuthorizeQuery): AuthorizeCheck {
  const client = q.client_id ? clients.get(q.client_id) : undefined
  if (!client) return { ok: false, page: 'unknown_client' }
  // Exact string comparison (RFC 9700 §2.1); OIDC Core §3.1.2.1 makes redirect_uri mandatory.
  if (!q.redirect_uri || !client.redirectUris.has(q.redirect_uri)) return { ok: false, page: 'invalid_redirect_uri' }

  const redirectUri = q.redirect_uri
  const state = q.state && q.state.length <= MAX_STATE && PRINTABLE.test(q.state) ? q.state : undefined
  const refuse = (error: AuthorizationError['error'], description: string): AuthorizeCheck => ({ ok: false, redirect: { redirectUri, state, error, description } })

  if (q.request !== undefined) return refuse('request_not_supported', 'Request objects are not supported')
  if (q.request_uri !== undefined) return refuse('request_uri_not_supported', 'request_uri is not supported')
  if (q.registration !== undefined) return refuse('registration_not_supported', 'Dynamic registration is not supported')
  if (!q.response_type) return refuse('invalid_request', 'response_type is required')
  if (q.response_type !== 'code') return refuse('unsupported_response_type', 'Only response_type=code is supported')
  if (q.response_mode !== undefined && q.response_mode !== 'query') return refuse('invalid_request', 'Only response_mode=query is supported')
  const scopes = (q.scope ?? '').split(' ')
  if (!scopes.includes('openid')) return refuse('invalid_scope', 'scope must include openid')
  if (!q.state) return refuse('invalid_request', 'state is required')
  if (!state) return refuse('invalid_request', `state must be at most ${MAX_STATE} printable ASCII characters`)
  if (!q.nonce) return refuse('invalid_request', 'nonce is required')
  if (q.nonce.length > MAX_NONCE || !PRINTABLE.test(q.nonce)) return refuse('invalid_request', `nonce must be at most ${MAX_NONCE} printable ASCII characters`)
  if (!q.code_challenge) return refuse('invalid_request', 'code_challenge is required (PKCE with S256)')
  if (q.code_challenge_method !== 'S256') return refuse('invalid_request', 'code_challenge_method must be S256')
  if (!S256_CHALLENGE.test(q.code_challenge)) return refuse('invalid_request', 'code_challenge must be the 43-character base64url S256 of the code_verifier')

  const prompts = new Set((q.prompt ?? '').split(' ').filter(Boolean))
  for (const p of prompts) if (!PROMPTS.has(p)) return refuse('invalid_request', `prompt value ${p.slice(0, 40)} is not supported`)
  if (prompts.has('none')) {
    // OIDC Core §3.1.2.1: `none` with anything else is an error; alone, it asks for a login without
    // any page — impossible here, since the bridge keeps no session of its own (docs/integration.md).
    if (prompts.size > 1) return refuse('invalid_request', 'prompt=none cannot be combined with other values')
    return refuse('login_required', 'The bridge keeps no session: every login goes through ESIA (Gosuslugi)')
  }

  return {
    ok: true,
    client,
    request: { clientId: client.clientId, redirectUri, state, nonce: q.nonce, codeChallenge: q.code_challenge, selectAccount: prompts.has('select_account'), children: scopes.includes('children') },
  }
}

/** The saved request back from flow_states, or undefined when the row does not hold one. */
export function loginRequestOf(saved: Record<string, unknown> | null): LoginRequest | undefined {
  if (!saved) return undefined
  const { clientId, redirectUri, state, nonce, codeChallenge, selectAccount, children } = saved
  if (typeof clientId !== 'string' || typeof redirectUri !== 'string' || typeof state !== 'string') return undefined
  if (typeof nonce !== 'string' || typeof codeChallenge !== 'string' || typeof selectAccount !== 'boolean') return undefined
  return { clientId, redirectUri, state, nonce, codeChallenge, selectAccount, children: children === true }
}

/**
 * The authorization response on the journal's registered redirect_uri (RFC 6749 §4.1.2, §4.1.2.1)
 * with RFC 9207 `iss`, the mix-up defence discovery announces.
 */
export function authorizationResponse(issuer: string, redirectUri: string, params: { code: string; state: string } | { error: string; description: string; state: string | undefined }): string {
  const url = new URL(redirectUri)
  if ('code' in params) {
    url.searchParams.set('code', params.code)
  } else {
    url.searchParams.set('error', params.error)
    url.searchParams.set('error_description', params.description)
  }
  if (params.state !== undefined) url.searchParams.set('state', params.state)
  url.searchParams.set('iss', issuer)
  return url.href
}
