import * as client from 'openid-client'
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { parseDate } from '../../matching/dates.js'
import { snilsDigits } from '../../matching/snils.js'
import { keepAliveFetch } from '../keep-alive-fetch.js'
import { providerKeys } from './provider-keys.js'
import { UpstreamError, type UpstreamAdapter, type UpstreamLogin, type UpstreamStart, type UpstreamTransaction, type VerifiedChild, type VerifiedPerson } from '../types.js'

export interface OidcAdapterOptions {
  issuer: string
  clientId: string
  clientSecret: string
  scopes: string
  /** Claim names of the broker for the fields ЕСИА has and OIDC does not name (docs/esia.md, «The `oidc` adapter (a broker in front of ЕСИА)»). */
  claims: { snils: string; birthdate: string; middleName: string; trusted: string; children: string }
  /** For tests and proxies; `keepAliveFetch` otherwise. */
  fetch?: typeof fetch
  /** Seconds for openid-client's HTTP calls. */
  timeoutSeconds?: number
  /** How soon the JWKS may be fetched again for an unknown `kid` (jose's default, 30 s). */
  jwksCooldownMs?: number
  /** Inside that cooldown, at most one extra fetch per this many ms for an unknown `kid` (10 s). */
  jwksUnknownKidRefetchMs?: number
}

/** Asymmetric algorithms an ID token may be signed with; never `none`, never HMAC. */
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']

/**
 * A standard OpenID Connect provider — a broker that fronts ЕСИА, or the mock's OIDC side — via
 * openid-client: discovery, client_secret_basic, PKCE S256, state and nonce, userinfo whose `sub`
 * must equal the ID token's. openid-client checks the ID token's claims but, per OIDC Core, not its
 * signature (OpenID Connect Core §3.1.3.7 leaves that to the client); we verify it once with jose against the provider's
 * JWKS, which is fetched again once when a `kid` is unknown (key rotation, provider-keys.ts).
 */
export class OidcAdapter implements UpstreamAdapter {
  readonly kind = 'oidc' as const
  readonly issuer: string
  #configuration: Promise<client.Configuration> | undefined
  #resolved: client.Configuration | undefined
  #jwks: JWTVerifyGetKey | undefined

  constructor(private readonly opts: OidcAdapterOptions) {
    this.issuer = opts.issuer
  }

  /** Discovery once, lazily: a provider down at our start-up must not stop the bridge. */
  #config(): Promise<client.Configuration> {
    this.#configuration ??= (async () => {
      const execute = new URL(this.opts.issuer).protocol === 'http:' ? [client.allowInsecureRequests] : []
      const config = await client.discovery(new URL(this.opts.issuer), this.opts.clientId, undefined, client.ClientSecretBasic(this.opts.clientSecret), {
        execute,
        timeout: this.opts.timeoutSeconds ?? 10,
        [client.customFetch]: this.opts.fetch ?? keepAliveFetch,
      })
      const jwksUri = config.serverMetadata().jwks_uri
      if (!jwksUri) throw new UpstreamError('configuration', 'jwks_missing', 'the OIDC provider publishes no jwks_uri: ID token signatures cannot be checked')
      this.#jwks = providerKeys(new URL(jwksUri), {
        fetch: this.opts.fetch ?? keepAliveFetch,
        cooldownMs: this.opts.jwksCooldownMs ?? 30_000,
        unknownKidRefetchMs: this.opts.jwksUnknownKidRefetchMs ?? 10_000,
      })
      this.#resolved = config
      return config
    })().catch((err: unknown) => {
      this.#configuration = undefined
      throw toUpstreamError(err, 'discovery')
    })
    return this.#configuration
  }

  async start({ redirectUri, state = client.randomState() }: { redirectUri: string; state?: string }): Promise<UpstreamStart> {
    const config = await this.#config()
    const nonce = client.randomNonce()
    const codeVerifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.opts.scopes,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    })
    return { url: url.href, transaction: { state, nonce, codeVerifier } }
  }

  /**
   * A broker may carry the trust flag in userinfo only, so the OIDC side fetches userinfo at once;
   * the person is complete when `authenticate` returns.
   */
  async authenticate(opts: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<UpstreamLogin> {
    const person = await this.finish(opts)
    const { kids } = person
    // A broker that sends no children claim cannot say whether it was asked or refused.
    return { account: person, person: async () => person, childrenAccess: kids ? 'given' : 'not_asked', children: async () => kids }
  }

  async finish({ callbackUrl, redirectUri, transaction }: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<VerifiedPerson> {
    const config = await this.#config()
    // openid-client takes redirect_uri from the URL it is given; build it from the registered one
    // so a proxy in front of us cannot change it.
    const current = new URL(redirectUri)
    current.search = callbackUrl.search
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
        ...(transaction.codeVerifier ? { pkceCodeVerifier: transaction.codeVerifier } : {}),
      })
    } catch (err) {
      throw toUpstreamError(err, 'token')
    }
    const idToken = tokens.id_token!
    const metadata = config.serverMetadata()
    const algorithms = (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter((a) => ASYMMETRIC.includes(a))
    let claims: Record<string, unknown>
    try {
      claims = (await jwtVerify(idToken, this.#jwks!, { issuer: metadata.issuer, audience: this.opts.clientId, algorithms, clockTolerance: 30 })).payload
    } catch (err) {
      throw joseToUpstreamError(err)
    }
    let userinfo: Record<string, unknown>
    try {
      userinfo = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub))
    } catch (err) {
      throw toUpstreamError(err, 'userinfo')
    }
    return this.#person({ ...claims, ...userinfo })
  }

  #person(claims: Record<string, unknown>): VerifiedPerson {
    const names = this.opts.claims
    const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null)
    const trustedClaim = claims[names.trusted]
    const trusted = trustedClaim === true || trustedClaim === 'true'
    const amr = claims.amr
    return {
      subject: String(claims.sub),
      issuer: this.issuer,
      trusted,
      // A broker does not say ЕСИА's level; a confirmed account is `PR` by definition.
      level: trusted ? 'PR' : 'P',
      childConsent: true,
      lastName: text(claims.family_name) ?? '',
      firstName: text(claims.given_name) ?? '',
      middleName: text(claims[names.middleName]),
      birthDate: parseDate(text(claims[names.birthdate])),
      snils: snilsDigits(text(claims[names.snils])),
      authMethods: (Array.isArray(amr) ? amr : amr === undefined ? [] : [amr]).filter((m): m is string => typeof m === 'string'),
      authTime: typeof claims.auth_time === 'number' ? claims.auth_time : null,
      ...this.#children(claims[names.children]),
    }
  }

  /**
   * `OIDC_CLAIM_CHILDREN`: an array of `{family_name, given_name, middle_name, birthdate, snils}`.
   * Brokers differ and none is documented, so each element is read leniently (at most 20, an
   * element without a name, a date and a SNILS dropped); a claim that is not an array is no claim.
   */
  #children(claim: unknown): { kids?: VerifiedChild[] } {
    if (!Array.isArray(claim)) return {}
    const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null)
    const kids: VerifiedChild[] = []
    for (const element of claim.slice(0, 20)) {
      if (typeof element !== 'object' || element === null) continue
      const c = element as Record<string, unknown>
      const kid: VerifiedChild = {
        lastName: text(c.family_name) ?? '',
        firstName: text(c.given_name) ?? '',
        middleName: text(c.middle_name),
        birthDate: parseDate(text(c.birthdate)),
        snils: snilsDigits(text(c.snils)),
      }
      if (kid.lastName || kid.firstName || kid.birthDate || kid.snils) kids.push(kid)
    }
    return { kids }
  }

  logoutUrl({ redirectUrl }: { redirectUrl: string }): string | undefined {
    if (!this.#resolved?.serverMetadata().end_session_endpoint) return undefined
    return client.buildEndSessionUrl(this.#resolved, { client_id: this.opts.clientId, post_logout_redirect_uri: redirectUrl }).href
  }
}

/** openid-client's errors by what they mean for the person (UpstreamErrorKind). */
function toUpstreamError(err: unknown, step: string): UpstreamError {
  if (err instanceof UpstreamError) return err
  if (err instanceof client.AuthorizationResponseError) {
    const code = /ESIA-\d{6}/.exec(err.error_description ?? '')?.[0] ?? err.error
    const kind = err.error === 'access_denied' ? 'denied' : err.error === 'temporarily_unavailable' || err.error === 'server_error' ? 'unavailable' : 'provider_error'
    return new UpstreamError(kind, code, `the provider refused at authorization: ${err.error}`, { cause: err })
  }
  if (err instanceof client.ResponseBodyError) {
    const kind = err.status >= 500 || err.error === 'temporarily_unavailable' ? 'unavailable' : 'provider_error'
    return new UpstreamError(kind, /ESIA-\d{6}/.exec(err.error_description ?? '')?.[0] ?? err.error, `the provider refused at ${step}: ${err.error}`, { cause: err })
  }
  if (err instanceof client.ClientError) {
    const cause = (err.cause as { cause?: { claim?: string } } | undefined)?.cause
    switch (err.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED': {
        const claim = cause?.claim
        const code = claim === 'iss' ? 'token_issuer_mismatch' : claim === 'aud' || claim === 'azp' ? 'token_audience_mismatch' : claim === 'nonce' ? 'nonce_mismatch' : 'token_claim_mismatch'
        return new UpstreamError('invalid_response', code, `ID token ${claim ?? 'claim'} check failed`, { cause: err })
      }
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return new UpstreamError('invalid_response', cause?.claim === 'exp' ? 'token_expired' : 'token_not_yet_valid', 'ID token time check failed', { cause: err })
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        return new UpstreamError('invalid_response', step === 'userinfo' ? 'userinfo_subject_mismatch' : 'response_mismatch', `${step} answer does not match`, { cause: err })
      case 'OAUTH_INVALID_RESPONSE': {
        const text = `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`
        if (/"alg"/.test(text)) return new UpstreamError('invalid_response', 'token_alg_not_allowed', 'ID token algorithm not allowed', { cause: err })
        if (/state/.test(text)) return new UpstreamError('invalid_response', 'state_mismatch', 'the callback state is not ours', { cause: err })
        return new UpstreamError('invalid_response', 'invalid_response', `invalid ${step} response: ${text.trim()}`, { cause: err })
      }
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        // An HTTP status the protocol does not allow here (a 503 from a proxy, say).
        const status = err.cause instanceof Response ? err.cause.status : 0
        return new UpstreamError(status >= 400 && status < 500 ? 'provider_error' : 'unavailable', status ? `http_${status}` : 'malformed_response', `${step}: the provider answered ${status || 'garbage'}`, { cause: err })
      }
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
      case 'OAUTH_PARSE_ERROR':
        return new UpstreamError('unavailable', 'malformed_response', `${step}: the provider answered garbage`, { cause: err })
      default:
        return new UpstreamError('invalid_response', err.code ?? 'invalid_response', `${step}: ${err.message}`, { cause: err })
    }
  }
  const e = err as Error
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new UpstreamError('unavailable', 'timeout', `${step}: the provider did not answer in time`, { cause: err })
  if (err instanceof TypeError) return new UpstreamError('unavailable', 'network_error', `${step}: ${e.message}`, { cause: err })
  return new UpstreamError('invalid_response', 'invalid_response', `${step}: ${e.message}`, { cause: err })
}

function joseToUpstreamError(err: unknown): UpstreamError {
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new UpstreamError('invalid_response', 'token_key_unknown', 'no published key has the ID token\'s kid', { cause: err })
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new UpstreamError('invalid_response', 'token_signature_invalid', 'the ID token signature does not verify', { cause: err })
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new UpstreamError('invalid_response', 'token_alg_not_allowed', 'ID token algorithm not allowed', { cause: err })
  if (err instanceof joseErrors.JWTExpired) return new UpstreamError('invalid_response', 'token_expired', 'the ID token has expired', { cause: err })
  if (err instanceof joseErrors.JWKSTimeout || (err as Error).name === 'TimeoutError') return new UpstreamError('unavailable', 'timeout', 'the provider\'s keys did not arrive in time', { cause: err })
  if (err instanceof joseErrors.JOSEError) return new UpstreamError('invalid_response', 'token_invalid', `ID token: ${(err as Error).message}`, { cause: err })
  return toUpstreamError(err, 'keys')
}
