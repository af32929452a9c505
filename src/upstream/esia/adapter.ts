import { createHash, randomBytes } from 'node:crypto'
import { fetchBackChannel, isObject, keepAliveBackChannel, parseJson, upstreamRequest, type BackChannel } from '../http.js'
import type { EsiaSigner } from '../signers/types.js'
import { UpstreamError, type AccountLevel, type ChildrenAccess, type UpstreamAdapter, type UpstreamLogin, type UpstreamStart, type UpstreamTransaction, type VerifiedAccount, type VerifiedChild, type VerifiedPerson } from '../types.js'
import { checkAccessToken, checkIdToken } from './claims.js'
import { esiaError } from './errors.js'
import { childData, personData, type PersonData } from './person.js'
import { clientSecretMessage, esiaIssuers, esiaState, esiaTimestamp, grantedScopeNames, isKidScope } from './protocol.js'
import type { TokenVerifier } from './token-keys.js'

export interface EsiaAdapterOptions {
  kind: 'esia' | 'mock'
  /** ЕСИА's origin, e.g. https://esia.gosuslugi.ru (no trailing slash). */
  url: string
  clientId: string
  /** Space-separated; must include `openid` (trust and level come from the ID token). */
  scopes: string
  scopeOrg?: string
  certHash: string
  signer: EsiaSigner
  verifier: TokenVerifier
  fetch?: typeof fetch
  /** Back-channel timeout per call. */
  timeoutMs?: number
  /** Clock skew tolerated on token times. */
  skewSeconds?: number
  /** ЕСИА's PKCE support is unverified (docs/esia.md, «PKCE»): off unless asked for. */
  pkce?: boolean
}

const invalid = (code: string, message: string) => new UpstreamError('invalid_response', code, message)

/**
 * The ЕСИА dialect (docs/esia.md): v2/ac with a signed
 * `client_secret`, v3/te with a fresh state, timestamp and signature over the code, the ID and
 * access tokens verified once each, the person from `/rs/prns/{oid}`, children from `/kids` when `kid_*` was granted.
 * Written by hand rather than on openid-client: ЕСИА's numeric `sub`, `expires_in` as a string,
 * the echoed token-request `state` and the absent nonce each trip a standards-strict client.
 */
export class EsiaAdapter implements UpstreamAdapter {
  readonly kind: 'esia' | 'mock'
  readonly issuer: string
  readonly #issuers: ReadonlySet<string>
  readonly #http: BackChannel
  readonly #timeoutMs: number
  /** ESIA_SCOPES asks for children (`kid_fullname` …): only then can a person grant them. */
  readonly #asksForChildren: boolean

  constructor(private readonly opts: EsiaAdapterOptions) {
    if (!opts.scopes.split(' ').includes('openid')) {
      throw new UpstreamError('configuration', 'scope_without_openid', 'ESIA_SCOPES must include openid: the confirmed-account flag and the level come from the ID token')
    }
    this.kind = opts.kind
    const { canonical, accepted } = esiaIssuers(opts.url)
    this.issuer = canonical
    this.#issuers = accepted
    this.#http = opts.fetch ? fetchBackChannel(opts.fetch) : keepAliveBackChannel
    this.#timeoutMs = opts.timeoutMs ?? 10_000
    this.#asksForChildren = opts.scopes.split(' ').some(isKidScope)
  }

  async #clientSecret(p: { timestamp: string; state: string; redirectUri: string; code?: string }): Promise<string> {
    const message = clientSecretMessage({ clientId: this.opts.clientId, scope: this.opts.scopes, scopeOrg: this.opts.scopeOrg ?? '', ...p })
    return (await this.opts.signer.sign(message)).toString('base64url')
  }

  async start({ redirectUri, state = esiaState() }: { redirectUri: string; state?: string }): Promise<UpstreamStart> {
    const nonce = randomBytes(16).toString('base64url')
    const codeVerifier = this.opts.pkce ? randomBytes(32).toString('base64url') : null
    const timestamp = esiaTimestamp()
    const url = new URL(`${this.opts.url}/aas/oauth2/v2/ac`)
    const params: Record<string, string> = {
      client_id: this.opts.clientId,
      client_secret: await this.#clientSecret({ timestamp, state, redirectUri }),
      client_certificate_hash: this.opts.certHash,
      redirect_uri: redirectUri,
      scope: this.opts.scopes,
      ...(this.opts.scopeOrg ? { scope_org: this.opts.scopeOrg } : {}),
      response_type: 'code',
      state,
      timestamp,
      access_type: 'online',
      // Sent so ЕСИА may echo it; checked only if it comes back (docs/esia.md, «Token shapes and the checks made»).
      nonce,
      ...(codeVerifier ? { code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'), code_challenge_method: 'S256' } : {}),
    }
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    return { url: url.href, transaction: { state, nonce, codeVerifier } }
  }

  async authenticate({ callbackUrl, redirectUri, transaction }: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<UpstreamLogin> {
    const q = callbackUrl.searchParams
    const returnedState = q.get('state')
    // A state that is not ours means this callback belongs to another browser or was forged.
    if (returnedState !== null && returnedState !== transaction.state) throw invalid('state_mismatch', 'the callback state is not the one this browser sent')
    if (q.has('error')) throw esiaError(q.get('error') ?? undefined, q.get('error_description') ?? undefined, 'the authorization endpoint')
    if (returnedState === null) throw invalid('state_mismatch', 'the callback carries no state')
    const code = q.get('code')
    if (!code) throw invalid('code_missing', 'the callback carries neither code nor error')

    const tokens = await this.#exchange(code, redirectUri, transaction)
    // Both tokens through the one verifier (RS256 or, through the signer, GOST): the access token is
    // what the bridge shows ЕСИА's REST API, so it is held to ЕСИА's checks as much as the ID token.
    // One after the other: after a key rotation the first finds the new keys, the second reuses them.
    const skewSeconds = this.opts.skewSeconds ?? 60
    const facts = checkIdToken(await this.opts.verifier.verify(tokens.idToken), { issuers: this.#issuers, clientId: this.opts.clientId, nonce: transaction.nonce, skewSeconds })
    const access = checkAccessToken(await this.opts.verifier.verify(tokens.accessToken), { issuers: this.#issuers, clientId: this.opts.clientId, oid: facts.oid, skewSeconds })
    const granted = grantedScopeNames(access.scope)
    const account: VerifiedAccount = {
      subject: facts.oid,
      issuer: this.issuer,
      trusted: facts.trusted,
      level: facts.level ?? (facts.trusted ? 'PR' : 'P'),
      authMethods: facts.authMethods,
      authTime: facts.authTime,
    }
    const kidsGranted = [...granted].some(isKidScope)
    const childrenAccess: ChildrenAccess = !this.#asksForChildren ? 'not_asked' : kidsGranted ? 'given' : 'withheld'
    let fetched: Promise<VerifiedPerson> | undefined
    let kids: Promise<VerifiedChild[] | undefined> | undefined
    // A failed /kids never fails the login: the relations simply stay as they were (unchecked).
    const children = () => (kids ??= kidsGranted ? this.#kids(account.subject, tokens.accessToken).catch(() => undefined) : Promise.resolve(undefined))
    return {
      account,
      childrenAccess,
      children,
      person: () => (fetched ??= this.#verifiedPerson(account, facts.level, children(), tokens.accessToken)),
    }
  }

  async finish(opts: { callbackUrl: URL; redirectUri: string; transaction: UpstreamTransaction }): Promise<VerifiedPerson> {
    return (await this.authenticate(opts)).person()
  }

  /** /rs/prns (and, in parallel, /kids when `kid_*` was granted) with the login's access token. */
  async #verifiedPerson(account: VerifiedAccount, tokenLevel: AccountLevel | undefined, children: Promise<VerifiedChild[] | undefined>, accessToken: string): Promise<VerifiedPerson> {
    const [person, kids] = await Promise.all([this.#person(account.subject, accessToken, tokenLevel), children])
    const trusted = account.trusted && person?.trusted !== false
    const level = tokenLevel ?? (trusted ? 'PR' : 'P')
    return {
      ...account,
      trusted,
      level,
      // See #person: a child account whose data ЕСИА withholds has no parent's consent.
      childConsent: level !== 'KD' || person !== null,
      lastName: person?.lastName ?? '',
      firstName: person?.firstName ?? '',
      middleName: person?.middleName ?? null,
      birthDate: person?.birthDate ?? null,
      snils: person?.snils ?? null,
      ...(kids ? { kids } : {}),
    }
  }

  /** v3/te: a new state UUID, a new timestamp and a signature that also covers the code
   * (docs/esia.md, «Token request (v3/te)»). */
  async #exchange(code: string, redirectUri: string, transaction: UpstreamTransaction): Promise<{ accessToken: string; idToken: string }> {
    const state = esiaState()
    const timestamp = esiaTimestamp()
    const body = new URLSearchParams({
      client_id: this.opts.clientId,
      code,
      grant_type: 'authorization_code',
      client_secret: await this.#clientSecret({ timestamp, state, redirectUri, code }),
      client_certificate_hash: this.opts.certHash,
      state,
      redirect_uri: redirectUri,
      scope: this.opts.scopes,
      ...(this.opts.scopeOrg ? { scope_org: this.opts.scopeOrg } : {}),
      timestamp,
      token_type: 'Bearer',
      ...(transaction.codeVerifier ? { code_verifier: transaction.codeVerifier } : {}),
    })
    const response = await upstreamRequest(this.#http, `${this.opts.url}/aas/oauth2/v3/te`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
      timeoutMs: this.#timeoutMs,
    }, 'ЕСИА token endpoint')
    const json = parseJson(response, 'ЕСИА token endpoint')
    if (response.status !== 200) {
      if (isObject(json) && typeof json.error === 'string') {
        throw esiaError(json.error, typeof json.error_description === 'string' ? json.error_description : undefined, 'the token endpoint')
      }
      throw new UpstreamError(response.status >= 500 ? 'unavailable' : 'provider_error', `http_${response.status}`, `ЕСИА token endpoint answered ${response.status}`)
    }
    if (!isObject(json) || typeof json.access_token !== 'string') throw invalid('token_response_invalid', 'the token response has no access_token')
    // ЕСИА echoes the token request's state; another value means a response meant for someone else.
    if (json.state !== state) throw invalid('state_mismatch', 'the token response state is not the one we sent')
    if (typeof json.token_type === 'string' && json.token_type.toLowerCase() !== 'bearer') throw invalid('token_response_invalid', `unexpected token_type ${json.token_type}`)
    if (json.expires_in !== undefined && !Number.isFinite(Number(json.expires_in))) throw invalid('token_response_invalid', 'expires_in is neither a number nor a numeric string')
    if (typeof json.id_token !== 'string') throw invalid('token_response_invalid', 'the token response has no id_token (is openid in ESIA_SCOPES?)')
    return { accessToken: json.access_token, idToken: json.id_token }
  }

  async #rest(path: string, accessToken: string): Promise<{ status: number; body: unknown }> {
    const response = await upstreamRequest(this.#http, `${this.opts.url}${path}`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      timeoutMs: this.#timeoutMs,
    }, 'ЕСИА REST')
    if (response.status === 401 || response.status === 403 || response.status === 404) return { status: response.status, body: undefined }
    if (response.status !== 200) throw new UpstreamError('unavailable', `http_${response.status}`, `ЕСИА REST answered ${response.status}`)
    return { status: 200, body: parseJson(response, 'ЕСИА REST') }
  }

  /**
   * The person. null when ЕСИА answers 403 for a child account: the mock — like ЕСИА, as far as
   * public sources go (consent errors are ESIA-0367xx, docs/esia.md, «Errors») — lets a child
   * without the parent's consent («Согласия и доверенности», docs/sources.md: Камчатка slides) log in but releases none
   * of the child's data. For anyone else a refusal here is the provider's error.
   */
  async #person(oid: string, accessToken: string, level: string | undefined): Promise<PersonData | null> {
    const { status, body } = await this.#rest(`/rs/prns/${oid}`, accessToken)
    if (status === 200) return personData(body)
    if (status === 403 && level === 'KD') return null
    throw new UpstreamError('provider_error', `rest_${status}`, `ЕСИА REST refused the person (${status})`)
  }

  /**
   * Children with `embed=(elements)`; links are followed, but only on ЕСИА's own origin. The shape
   * of an element is known only from client code, never seen on a stand (docs/esia.md, «Children (`/kids`)»),
   * so everything is optional: an element without a name, a date and a SNILS is dropped.
   */
  async #kids(oid: string, accessToken: string): Promise<VerifiedChild[] | undefined> {
    const { status, body } = await this.#rest(`/rs/prns/${oid}/kids?embed=(elements)`, accessToken)
    if (status !== 200 || !isObject(body) || !Array.isArray(body.elements)) return undefined
    const origin = new URL(this.opts.url).origin
    const elements = await Promise.all(body.elements.slice(0, 20).map(async (element: unknown) => {
      if (typeof element !== 'string') return element
      if (!URL.canParse(element) || new URL(element).origin !== origin) return undefined
      const url = new URL(element)
      return (await this.#rest(url.pathname + url.search, accessToken)).body
    }))
    return elements.map(childData).filter((k): k is VerifiedChild => k !== null)
  }

  logoutUrl({ redirectUrl }: { redirectUrl: string }): string {
    const url = new URL(`${this.opts.url}/idp/ext/Logout`)
    url.searchParams.set('client_id', this.opts.clientId)
    // ЕСИА's parameter is redirect_url, not redirect_uri (docs/esia.md, «Endpoints»).
    url.searchParams.set('redirect_url', redirectUrl)
    return url.href
  }
}
