import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import * as oidc from 'openid-client'

/**
 * Everything a journal needs to talk to esia-bridge, through its public contract only: standard
 * OpenID Connect for «Войти через Госуслуги» (openid-client, nothing bespoke), and for
 * «Привязать пользователя портала гос. услуг» one API call plus a signed link token.
 * The README and docs/integration.md quote this file.
 */
export interface BridgeSettings {
  /** The bridge's issuer, e.g. http://localhost:3000 */
  issuer: string
  clientId: string
  clientSecret: string
  /** Where the bridge sends the browser back after login and after linking. */
  loginRedirectUri: string
  linkRedirectUri: string
  postLogoutRedirectUri: string
}

export interface LoginTransaction {
  state: string
  nonce: string
  codeVerifier: string
}

/** A link event the bridge told us about (a verified Security Event Token). */
export interface LinkEventReceived {
  jti: string
  /** urn:esia-bridge:event:link-created, …:link-removed or …:link-moved */
  type: string
  /** The journal user the event is about (`sub_id`). */
  journalUserId: string
  data: Record<string, unknown>
}

/** A verified logout token: end the session `sid`, or every session of `sub` when there is no sid. */
export interface LogoutRequest {
  jti: string
  sub: string | undefined
  sid: string | undefined
}

const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout'

export interface LinkResult {
  result: 'linked' | 'failed' | 'cancelled'
  reasons: string[]
  evidence: string[]
  replaced: boolean
}

export class BridgeClient {
  #config: oidc.Configuration | undefined
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>

  constructor(readonly settings: BridgeSettings) {
    this.#jwks = createRemoteJWKSet(new URL('/oauth2/jwks', settings.issuer))
  }

  /** Discovery on first use, so the journal may start before the bridge answers. */
  async configuration(): Promise<oidc.Configuration> {
    if (!this.#config) {
      const { issuer, clientId, clientSecret } = this.settings
      this.#config = await oidc.discovery(new URL(issuer), clientId, clientSecret, oidc.ClientSecretBasic(clientSecret), {
        // The demo runs on plain http://localhost; a real deployment uses https and drops this.
        ...(issuer.startsWith('http://') ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
    }
    return this.#config
  }

  // ── «Войти через Госуслуги»: the authorization code flow with PKCE, state and nonce ──

  async startLogin(opts: { selectAccount?: boolean } = {}): Promise<{ url: URL; transaction: LoginTransaction }> {
    const config = await this.configuration()
    const transaction = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() }
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.loginRedirectUri,
      scope: 'openid',
      state: transaction.state,
      nonce: transaction.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(transaction.codeVerifier),
      code_challenge_method: 'S256',
      ...(opts.selectAccount ? { prompt: 'select_account' } : {}),
    })
    return { url, transaction }
  }

  /** Checks state, iss, nonce and PKCE (openid-client does), returns the verified ID token claims. */
  async finishLogin(currentUrl: URL, transaction: LoginTransaction): Promise<{ claims: oidc.IDToken; idToken: string }> {
    // `claims.sid` names the bridge's session: keep it with ours, a logout token will name it.
    const config = await this.configuration()
    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: transaction.codeVerifier,
      expectedState: transaction.state,
      expectedNonce: transaction.nonce,
      idTokenExpected: true,
    })
    return { claims: tokens.claims()!, idToken: tokens.id_token! }
  }

  async logoutUrl(idToken: string | undefined): Promise<URL> {
    return oidc.buildEndSessionUrl(await this.configuration(), {
      post_logout_redirect_uri: this.settings.postLogoutRedirectUri,
      ...(idToken ? { id_token_hint: idToken } : {}),
    })
  }

  // ── «Привязать пользователя портала гос. услуг»: link intent → browser → link token ──

  #basicAuth(): string {
    const { clientId, clientSecret } = this.settings
    return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`
  }

  /** Asks the bridge for a single-use link page for this journal user; send the browser to `url`. */
  async createLinkIntent(journalUserId: string, state: string): Promise<{ url: string; expiresAt: string }> {
    const res = await fetch(new URL('/api/v1/link-intents', this.settings.issuer), {
      method: 'POST',
      headers: { authorization: this.#basicAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ journal_user_id: journalUserId, redirect_uri: this.settings.linkRedirectUri, state }),
    })
    if (!res.ok) throw new Error(`link intent refused: ${res.status} ${await res.text()}`)
    const body = (await res.json()) as { url: string; expires_at: string }
    return { url: body.url, expiresAt: body.expires_at }
  }

  /**
   * The browser is back from the bridge with `code`, `state`, `iss`: check them, exchange the code
   * for the link token and verify it (signature against the bridge's JWKS, type, issuer, audience,
   * subject = the journal user who started the link).
   */
  async finishLink(currentUrl: URL, expected: { state: string; journalUserId: string }): Promise<LinkResult> {
    const params = currentUrl.searchParams
    if (params.get('state') !== expected.state) throw new Error('state does not match the link we started')
    if (params.get('iss') !== this.settings.issuer) throw new Error('iss is not our bridge')
    const code = params.get('code')
    if (!code) throw new Error(`no code: ${params.get('error') ?? 'unknown error'}`)
    const res = await fetch(new URL('/oauth2/token', this.settings.issuer), {
      method: 'POST',
      headers: { authorization: this.#basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.settings.linkRedirectUri }),
    })
    if (!res.ok) throw new Error(`token endpoint refused: ${res.status} ${await res.text()}`)
    const { link_token: linkToken } = (await res.json()) as { link_token: string }
    const { payload } = await jwtVerify<JWTPayload & LinkResult>(linkToken, this.#jwks, {
      issuer: this.settings.issuer,
      audience: this.settings.clientId,
      typ: 'link+jwt',
      algorithms: ['ES256'],
      subject: expected.journalUserId,
    })
    return { result: payload.result, reasons: payload.reasons ?? [], evidence: payload.evidence ?? [], replaced: payload.replaced ?? false }
  }

  // ── What the bridge tells us on its own: link events (RFC 8417 SETs) and back-channel logout ──

  /**
   * A Security Event Token pushed to our events endpoint (RFC 8935) or polled (RFC 8936): signed
   * with the bridge's keys, `typ: secevent+jwt`, from our bridge (`iss`), for us (`aud`), one event.
   * The caller deduplicates by `jti` (delivery is at least once) and answers 202, or 400 with
   * `{err, description}` when this throws.
   */
  async verifySecurityEvent(token: string): Promise<LinkEventReceived> {
    const { payload } = await jwtVerify(token, this.#jwks, {
      issuer: this.settings.issuer,
      audience: this.settings.clientId,
      typ: 'secevent+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['iat', 'jti', 'events'],
    })
    // A SET is not a login (RFC 8417 §4.3): a nonce means an ID token is being replayed here.
    if (payload.nonce !== undefined) throw new Error('not a security event token')
    const subject = payload.sub_id as { format?: unknown; id?: unknown } | undefined
    const events = Object.entries((payload.events ?? {}) as Record<string, unknown>)
    if (subject?.format !== 'opaque' || typeof subject.id !== 'string' || events.length !== 1) throw new Error('malformed security event token')
    const [type, data] = events[0]!
    if (typeof data !== 'object' || data === null) throw new Error('malformed event')
    return { jti: payload.jti!, type, journalUserId: subject.id, data: data as Record<string, unknown> }
  }

  /**
   * A logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): checked like an ID token —
   * signature, `iss`, `aud`, `iat`, `exp` — plus `typ: logout+jwt`, the back-channel logout event,
   * a `sub` or a `sid`, and no `nonce` (an ID token replayed here would carry one).
   */
  async verifyLogoutToken(token: string): Promise<LogoutRequest> {
    const { payload } = await jwtVerify(token, this.#jwks, {
      issuer: this.settings.issuer,
      audience: this.settings.clientId,
      typ: 'logout+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
      maxTokenAge: '5 minutes',
    })
    const events = payload.events as Record<string, unknown> | undefined
    if (typeof events?.[BACKCHANNEL_LOGOUT] !== 'object' || events[BACKCHANNEL_LOGOUT] === null) throw new Error('not a logout token: the back-channel logout event is missing')
    if (payload.nonce !== undefined) throw new Error('a logout token must not contain a nonce')
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined
    if (!payload.sub && !sid) throw new Error('a logout token names a sub or a sid')
    return { jti: payload.jti!, sub: payload.sub, sid }
  }

  /** Current link state of a journal user (for the settings page). */
  async linkStatus(journalUserId: string): Promise<{ linked: boolean; linkedAt: string | null }> {
    const res = await fetch(new URL(`/api/v1/links/${encodeURIComponent(journalUserId)}`, this.settings.issuer), {
      headers: { authorization: this.#basicAuth() },
    })
    if (!res.ok) throw new Error(`link status refused: ${res.status}`)
    const body = (await res.json()) as { linked: boolean; linked_at?: string | null }
    return { linked: body.linked, linkedAt: body.linked_at ?? null }
  }

  /** «Отвязать учётную запись Госуслуг», pressed by the person signed in as this user. */
  async unlink(journalUserId: string): Promise<void> {
    const res = await fetch(new URL(`/api/v1/links/${encodeURIComponent(journalUserId)}`, this.settings.issuer), {
      method: 'DELETE',
      headers: { authorization: this.#basicAuth() },
    })
    if (!res.ok) throw new Error(`unlink refused: ${res.status}`)
  }
}
