import type { KeyObject } from 'node:crypto'
import type { GostKeyPair } from '../upstream/signers/openssl-gost.js'
import { MockClientRegistry, type MockClient, type MockClientRegistration } from './clients.js'
import { defaultFaults, type MockFaults } from './faults.js'
import { MockGostKey } from './gost-key.js'
import type { Grant } from './grants.js'
import { MockSigningKeys } from './keys.js'
import { loadPersonas, parsePersonas, type Persona } from './personas.js'
import { MockTokens } from './tokens.js'
import { TtlMap } from './ttl-map.js'

export interface MockEsiaOptions {
  /** Origin browsers and clients use (no trailing slash); `startMockEsia` fills it in after listening. */
  publicUrl?: string
  clients?: MockClientRegistration[]
  /** Defaults to the bundled `personas.json`. */
  personas?: Persona[]
  /** RS256 private key for tokens; generated when omitted. */
  signingKey?: KeyObject
  /** GOST key and certificate for the tokens of ИС that chose GOST3410_2012_256; generated on first use when omitted. */
  gostSigningKey?: GostKeyPair
  /** Code lifetime; ЕСИА's codes live 240 s (docs/esia.md, «Token shapes and the checks made»). */
  codeLifetimeSeconds?: number
  /** Allowed distance between a request's `timestamp` and the mock's clock (ESIA-007015). */
  timestampSkewSeconds?: number
  faults?: Partial<MockFaults>
  /**
   * Single sign-on: a browser that picked a persona before is sent straight back with a code for
   * it, as ЕСИА does while its session lives. Off by default so every login shows the page.
   */
  singleSignOn?: boolean
}

/** A login waiting for the person to pick a persona on the page. */
export interface PendingAuthorization extends Omit<Grant, 'persona' | 'authTime' | 'sid'> {
  /** The browser that started it (cookie `esia_browser`): only it may finish the login. */
  browser: string
}

/** Everything the mock remembers, in memory: clients, personas, keys, logins in progress, codes. */
export class MockEsiaState {
  baseUrl: string
  readonly clients = new MockClientRegistry()
  readonly personas: ReadonlyMap<string, Persona>
  /** The same list for every page (its rendering is cached). */
  readonly personaList: readonly Persona[]
  readonly personasByOid: ReadonlyMap<string, Persona>
  readonly tokens: MockTokens
  faults: MockFaults
  readonly codeLifetimeSeconds: number
  readonly timestampSkewSeconds: number
  readonly singleSignOn: boolean
  readonly pending = new TtlMap<string, PendingAuthorization>(10 * 60_000)
  readonly codes: TtlMap<string, Grant>
  readonly refreshTokens = new TtlMap<string, Grant>(24 * 3600_000, 50_000)
  readonly #sweeper: NodeJS.Timeout
  #gostKey: Promise<MockGostKey> | undefined
  readonly #gostPair: GostKeyPair | undefined

  private constructor(readonly keys: MockSigningKeys, opts: MockEsiaOptions) {
    this.baseUrl = (opts.publicUrl ?? 'http://127.0.0.1:3100').replace(/\/+$/, '')
    const personas = opts.personas ? parsePersonas(opts.personas) : loadPersonas()
    this.personas = new Map(personas.map((p) => [p.id, p]))
    this.personaList = personas
    this.personasByOid = new Map(personas.map((p) => [String(p.oid), p]))
    this.faults = { ...defaultFaults(), ...opts.faults }
    this.codeLifetimeSeconds = opts.codeLifetimeSeconds ?? 240
    this.timestampSkewSeconds = opts.timestampSkewSeconds ?? 300
    this.singleSignOn = opts.singleSignOn ?? false
    this.codes = new TtlMap(this.codeLifetimeSeconds * 1000)
    this.#gostPair = opts.gostSigningKey
    this.tokens = new MockTokens(keys, () => this.faults, () => ({ esia: this.esiaIssuer, oidc: this.oidcIssuer }), () => this.gostKey())
    for (const c of opts.clients ?? []) this.clients.register(c)
    this.#sweeper = setInterval(() => {
      this.pending.sweep()
      this.codes.sweep()
      this.refreshTokens.sweep()
    }, 10_000).unref()
  }

  static async create(opts: MockEsiaOptions): Promise<MockEsiaState> {
    return new MockEsiaState(await MockSigningKeys.create(opts.signingKey), opts)
  }

  /** ЕСИА's `iss`: `http://host/` with the trailing slash, as in real tokens (docs/esia.md, «Token shapes and the checks made»). */
  get esiaIssuer(): string {
    return `${this.baseUrl}/`
  }

  get oidcIssuer(): string {
    return `${this.baseUrl}/oidc`
  }

  /** The GOST token key, made (by OpenSSL's GOST engine) the first time it is needed. */
  gostKey(): Promise<MockGostKey> {
    if (!this.#gostKey) {
      this.#gostKey = MockGostKey.create(this.#gostPair)
      this.#gostKey.catch(() => (this.#gostKey = undefined))
    }
    return this.#gostKey
  }

  /**
   * Verifies an ЕСИА-dialect token the mock issued (the access token on /rs): RS256 with its RSA
   * keys, GOST3410_2012_256 with its GOST key. Returns the claims or null.
   */
  async verifyOwnEsiaToken(token: string): Promise<Record<string, unknown> | null> {
    const [h, p, s] = token.split('.')
    let alg: unknown
    try {
      alg = (JSON.parse(Buffer.from(h ?? '', 'base64url').toString('utf8')) as { alg?: unknown }).alg
    } catch {
      return null
    }
    if (alg !== 'GOST3410_2012_256' || p === undefined || s === undefined || !this.#gostKey) return this.keys.verifyOwn(token)
    if (!(await (await this.#gostKey).verify(`${h}.${p}`, Buffer.from(s, 'base64url')))) return null
    try {
      return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
    } catch {
      return null
    }
  }

  registerClient(reg: MockClientRegistration): MockClient {
    return this.clients.register(reg)
  }

  setFaults(partial: Partial<MockFaults>): MockFaults {
    this.faults = { ...this.faults, ...partial }
    return this.faults
  }

  resetFaults(): MockFaults {
    this.faults = defaultFaults()
    return this.faults
  }

  /** Waits as the `latencyMs` switch says, before a back-channel answer. */
  async delay(): Promise<void> {
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs))
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    await (await this.#gostKey?.catch(() => undefined))?.close()
  }
}
