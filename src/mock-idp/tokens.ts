import { createHmac, randomUUID, sign } from 'node:crypto'
import type { MockFaults } from './faults.js'
import type { Grant } from './grants.js'
import type { MockGostKey } from './gost-key.js'
import { describeKey, newRsaKey, type MockKey, type MockSigningKeys } from './keys.js'

const GOST_ALG = 'GOST3410_2012_256'
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

/** The same token with a byte of its signature flipped. */
function spoilSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  const sig = Buffer.from(s, 'base64url')
  sig[10]! ^= 0xff
  return `${h}.${p}.${sig.toString('base64url')}`
}

/**
 * Tokens shaped like the real ones (docs/esia.md, «Token shapes and the checks made»): RS256, or GOST3410_2012_256 for
 * an ИС that chose it (signed by OpenSSL's GOST engine, in ЕСИА's byte order), ЕСИА's header fields
 * (`ver`, `typ`, `sbt`, no `kid`), `iss` in the `http://…/` form, the access token without `aud`
 * but with `client_id` and numeric `urn:esia:sbj_id`, scopes suffixed `?oid=`, the ID token with
 * the `urn:esia:sbj` object (`is_tru` only for confirmed accounts). The standard OIDC side signs
 * with the same keys, with a `kid`.
 */
export class MockTokens {
  #foreignKey: Promise<MockKey> | undefined

  constructor(
    private readonly keys: MockSigningKeys,
    private readonly faults: () => MockFaults,
    private readonly issuers: () => { esia: string; oidc: string },
    private readonly gostKey: () => Promise<MockGostKey>,
  ) {}

  /** The ИС's token algorithm (tech portal setting): RS256, or GOST signed by the mock's GOST key. */
  #alg(grant: Grant): string {
    return grant.client.tokenAlg
  }

  /** `oid` as ЕСИА writes it: a JSON number, or a string under the `oidAsString` quirk. */
  #oid(grant: Grant): number | string {
    return this.faults().oidAsString ? String(grant.persona.oid) : grant.persona.oid
  }

  #subject(grant: Grant): Record<string, unknown> {
    const p = grant.persona
    return {
      'urn:esia:sbj:typ': 'P',
      // «Параметр отсутствует, если УЗ не подтверждена» (docs/esia.md, «Token shapes and the checks made»).
      ...(p.trusted ? { 'urn:esia:sbj:is_tru': true } : {}),
      'urn:esia:sbj:oid': this.#oid(grant),
      'urn:esia:sbj:nam': `OID.${p.oid}`,
      'urn:esia:sbj:lvl': p.level,
    }
  }

  /** Granted scopes as ЕСИА lists them: `openid` bare, the others `name?oid=<oid>`. */
  #scopeClaim(grant: Grant): string {
    return grant.scopes.map((s) => (s === 'openid' ? s : `${s}?oid=${grant.persona.oid}`)).join(' ')
  }

  /**
   * RS256 by node:crypto directly: three signatures per login are most of the mock's CPU, and this
   * path costs ≈ 0.27 ms each against ≈ 0.4 ms through WebCrypto (measured here); the mock must
   * keep up with a benchmark of the bridge on the same machine.
   */
  async #sign(header: Record<string, unknown>, claims: Record<string, unknown>, key = this.keys.active): Promise<string> {
    if (header.alg === GOST_ALG) {
      const gost = await this.gostKey()
      const input = `${b64({ ...header, 'x5t#St256': gost.thumbprint })}.${b64(claims)}`
      return `${input}.${(await gost.sign(input)).toString('base64url')}`
    }
    const input = `${b64(header)}.${b64(claims)}`
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`
  }

  /** The authorization code: a JWT like ЕСИА's (real 2025 sample, docs/esia.md «Token shapes and the checks made»), valid 240 s. */
  async esiaCode(grant: Grant, lifetimeSeconds: number): Promise<string> {
    const iat = now()
    const key = this.keys.active
    return this.#sign({ ver: 1, typ: 'JWT', 'x5t#St256': key.thumbprint, sbt: 'authorization_code', alg: this.#alg(grant) }, {
      nbf: iat,
      scope: this.#scopeClaim(grant),
      auth_time: grant.authTime,
      iss: this.issuers().esia,
      'urn:esia:sid': grant.sid,
      'urn:esia:client:state': grant.state,
      auth_mthd: 'PWD',
      'urn:esia:sbj': this.#subject(grant),
      params: {},
      client_id: grant.client.clientId,
      exp: iat + lifetimeSeconds,
      iat,
      // Not in ЕСИА's sample; makes two codes of one second distinct.
      jti: randomUUID(),
    }, key)
  }

  async esiaAccessToken(grant: Grant): Promise<string> {
    const tamper = this.faults().tamper
    const iat = tamper === 'access-token-expired' ? now() - 7200 : now()
    const token = await this.#sign({ ver: 1, typ: 'JWT', sbt: 'access', alg: this.#alg(grant) }, {
      nbf: iat,
      scope: this.#scopeClaim(grant),
      iss: this.issuers().esia,
      'urn:esia:sid': grant.sid,
      'urn:esia:sbj_id': tamper === 'subject-mismatch' ? 1000999999 : this.#oid(grant),
      exp: iat + 3600,
      iat,
      client_id: tamper === 'wrong-client-id' ? 'ANOTHER01' : grant.client.clientId,
    })
    return tamper === 'access-token-bad-signature' ? spoilSignature(token) : token
  }

  async esiaIdToken(grant: Grant): Promise<string> {
    const iat = now()
    const faults = this.faults()
    return this.#idToken({ ver: 0, typ: 'JWT', sbt: 'id', alg: this.#alg(grant) }, {
      aud: grant.client.clientId,
      sub: this.#oid(grant),
      nbf: iat,
      amr: 'PWD',
      'urn:esia:amd': 'PWD',
      auth_time: grant.authTime,
      iss: this.issuers().esia,
      exp: iat + 10800,
      iat,
      'urn:esia:sid': grant.sid,
      'urn:esia:sbj': this.#subject(grant),
      ...(grant.nonce && (faults.echoNonce || faults.tamper === 'nonce-mismatch') ? { nonce: grant.nonce } : {}),
    })
  }

  async oidcIdToken(grant: Grant): Promise<string> {
    const iat = now()
    return this.#idToken({ alg: 'RS256', typ: 'JWT', kid: this.keys.active.kid }, {
      iss: this.issuers().oidc,
      sub: String(grant.persona.oid),
      aud: grant.client.oidc?.clientId,
      exp: iat + 600,
      iat,
      auth_time: grant.authTime,
      amr: ['pwd'],
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      sid: grant.sid,
    })
  }

  async oidcAccessToken(grant: Grant): Promise<string> {
    const iat = now()
    return this.#sign({ alg: 'RS256', typ: 'at+jwt', kid: this.keys.active.kid }, {
      iss: this.issuers().oidc,
      sub: String(grant.persona.oid),
      aud: `${this.issuers().oidc}/userinfo`,
      client_id: grant.client.oidc?.clientId,
      scope: grant.scopes.join(' '),
      exp: iat + 600,
      iat,
      jti: randomUUID(),
    })
  }

  /** Signs an ID token, spoiled as the `tamper` switch says. */
  async #idToken(header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
    switch (this.faults().tamper) {
      case 'bad-signature':
        return spoilSignature(await this.#sign(header, claims))
      case 'wrong-issuer':
        return this.#sign(header, { ...claims, iss: 'http://esia.attacker.example/' })
      case 'wrong-audience':
        return this.#sign(header, { ...claims, aud: 'ANOTHER01' })
      case 'expired': {
        const t = now()
        return this.#sign(header, { ...claims, nbf: t - 7200, iat: t - 7200, auth_time: t - 7200, exp: t - 3600 })
      }
      case 'alg-none':
        return `${b64({ ...header, alg: 'none' })}.${b64(claims)}.`
      case 'hs256-public-key': {
        const input = `${b64({ ...header, alg: 'HS256' })}.${b64(claims)}`
        return `${input}.${createHmac('sha256', this.keys.active.publicPem).update(input).digest('base64url')}`
      }
      case 'unknown-kid': {
        this.#foreignKey ??= newRsaKey().then(describeKey)
        const foreign = await this.#foreignKey
        return this.#sign({ ...header, kid: `unknown-${foreign.kid.slice(0, 8)}` }, claims, foreign)
      }
      case 'nonce-mismatch':
        return this.#sign(header, { ...claims, nonce: 'not-the-nonce-you-sent' })
      default:
        return this.#sign(header, claims)
    }
  }
}
