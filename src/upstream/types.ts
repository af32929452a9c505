/**
 * The contract between the upstream identity provider and the rest of the bridge (DESIGN.md
 * §Upstream). Every adapter — ЕСИА dialect, generic OIDC, the bundled mock — turns a login into one
 * `VerifiedPerson` or a typed `UpstreamError`.
 */

/** ЕСИА account level: `PR` подтверждённая, `P` упрощённая/стандартная, `KD` детская. */
export type AccountLevel = 'PR' | 'P' | 'KD'

export interface PersonName {
  lastName: string
  firstName: string
  middleName: string | null
}

export interface VerifiedChild extends PersonName {
  /** 'YYYY-MM-DD' or null when not granted. */
  birthDate: string | null
  /** 11 digits, or null when absent/not granted. Never logged, never stored in clear. */
  snils: string | null
}

export interface VerifiedPerson extends PersonName {
  /** Stable upstream subject: the ЕСИА oid (as a decimal string) or the OIDC `sub`. */
  subject: string
  /** Issuer the subject belongs to (mix-up defence: a subject is only meaningful with it). */
  issuer: string
  /** Confirmed («подтверждённая») account. */
  trusted: boolean
  level: AccountLevel
  /** For a `KD` child account: has a parent given consent («Согласия и доверенности»)? */
  childConsent: boolean
  birthDate: string | null
  snils: string | null
  /** Children, when `kid_*` scopes were granted. */
  kids?: VerifiedChild[]
  /** How the person authenticated upstream (ЕСИА `amr`: PWD, DS …), for our `amr`/`acr`. */
  authMethods: string[]
  /** Upstream `auth_time` in seconds, when given. */
  authTime: number | null
}

/** What the flow keeps server-side between start and finish (DESIGN.md §Security). */
export interface UpstreamTransaction {
  /** Sent upstream as `state`; a UUID for ЕСИА. */
  state: string
  nonce: string
  /** PKCE verifier, where the provider supports PKCE. */
  codeVerifier: string | null
}

export interface UpstreamStart {
  /** Where to send the browser. */
  url: string
  transaction: UpstreamTransaction
}

export type UpstreamErrorKind =
  /** The person declined or ЕСИА refused for the person (ESIA-007004 and the like). */
  | 'denied'
  /** The provider answered with an error code on the redirect or at the token endpoint. */
  | 'provider_error'
  /** The provider is down, slow or answered garbage: the person should try again later. */
  | 'unavailable'
  /** A token, signature, state or claim failed verification: possible attack, never retried. */
  | 'invalid_response'
  /** Our own configuration or signer failed. */
  | 'configuration'

export class UpstreamError extends Error {
  override name = 'UpstreamError'
  constructor(
    readonly kind: UpstreamErrorKind,
    /** ЕСИА code such as `ESIA-007004`, an OAuth error, or our check's name (e.g. `state_mismatch`). */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export interface UpstreamAdapter {
  readonly kind: 'esia' | 'oidc' | 'mock'
  readonly issuer: string
  /** Builds the authorization redirect for a new flow; the caller stores the transaction. */
  start(opts: { redirectUri: string }): Promise<UpstreamStart>
  /** Callback URL (with its query) + the stored transaction → the verified person. */
  finish(opts: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<VerifiedPerson>
  /** Where to send the browser to end the upstream session, if the provider has such a page. */
  logoutUrl?(opts: { redirectUrl: string }): string | undefined
}
