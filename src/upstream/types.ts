/**
 * The contract between the upstream identity provider and the rest of the bridge (docs/architecture.md,
 * «The parts»). Every adapter — ЕСИА dialect, generic OIDC, the bundled mock — turns a login into one
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

/** Who logged in, as the upstream's verified token says: enough to log a linked person in. */
export interface VerifiedAccount {
  /** Stable upstream subject: the ЕСИА oid (as a decimal string) or the OIDC `sub`. */
  subject: string
  /** Issuer the subject belongs to (mix-up defence: a subject is only meaningful with it). */
  issuer: string
  /** Confirmed («подтверждённая») account. */
  trusted: boolean
  level: AccountLevel
  /** How the person authenticated upstream (ЕСИА `amr`: PWD, DS …), for our `amr`/`acr`. */
  authMethods: string[]
  /** Upstream `auth_time` in seconds, when given. */
  authTime: number | null
}

/** The account with the person's data: what matching needs. */
export interface VerifiedPerson extends VerifiedAccount, PersonName {
  /** For a `KD` child account: has a parent given consent («Согласия и доверенности»)? */
  childConsent: boolean
  birthDate: string | null
  snils: string | null
  /** Children, when `kid_*` scopes were granted and ЕСИА answered (an empty list: ЕСИА lists none). */
  kids?: VerifiedChild[]
}

/**
 * Whether this login can tell the person's children (docs/esia.md, «Children (`/kids`)»): the installation
 * does not ask for them (no `kid_*` in ESIA_SCOPES; a broker that sends no children claim), the
 * person did not grant the kid scopes, or they were granted.
 */
export type ChildrenAccess = 'not_asked' | 'withheld' | 'given'

/**
 * A login the upstream confirmed. The person's data is fetched only when asked for: a returning
 * person already linked needs none of it (152-ФЗ ст. 5: no more data than the purpose needs), and
 * ЕСИА is spared one REST call per login.
 */
export interface UpstreamLogin {
  account: VerifiedAccount
  /** Names, birth date, SNILS, children, child consent — fetched once; throws `UpstreamError`. */
  person(): Promise<VerifiedPerson>
  childrenAccess: ChildrenAccess
  /**
   * The person's children alone (ЕСИА `/kids`, without `/rs/prns`), fetched once and shared with
   * `person()`; undefined when the upstream gives none. Never throws: children are never a reason
   * for a link or a login to fail.
   */
  children(): Promise<VerifiedChild[] | undefined>
}

/** What the flow keeps server-side between start and finish (docs/security.md, «Controls, by area»). */
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
  /**
   * Builds the authorization redirect for a new flow; the caller stores the transaction. `state`:
   * the caller's own (a UUID: the login flow's self-authenticating state), else a random one.
   */
  start(opts: { redirectUri: string; state?: string }): Promise<UpstreamStart>
  /** Callback URL (with its query) + the stored transaction → the verified person. */
  authenticate(opts: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<UpstreamLogin>
  /** `authenticate` and then the person's data, for callers that always need it. */
  finish(opts: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<VerifiedPerson>
  /** Where to send the browser to end the upstream session, if the provider has such a page. */
  logoutUrl?(opts: { redirectUrl: string }): string | undefined
}
