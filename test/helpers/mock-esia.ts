import { randomBytes, type KeyObject } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gostClientCertificate, startMockEsia, type GostClientCertificate, type MockFaults, type Persona, type RunningMockEsia } from '../../src/mock-idp/index.js'
import { generateGostKeyPair, gostEngineAvailable } from '../../src/upstream/signers/openssl-gost.js'
import { generateTestKeyPair, type TestKeyPair } from '../../src/upstream/signers/test-key.js'

/** The bridge's callback as `buildTestApp` configures it (PUBLIC_URL=http://bridge.test). */
export const BRIDGE_CALLBACK = 'http://bridge.test/auth/callback'
export const MOCK_CLIENT_ID = 'ESIATEST01'
export const MOCK_OIDC_CLIENT = { clientId: 'bridge-oidc-test', clientSecret: 'bridge-oidc-test-secret-0123456789abcdef' }
/** Scopes that show a parent's children too. */
export const SCOPES_WITH_KIDS = 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils'

export interface TestMockEsia extends RunningMockEsia {
  clientId: string
  redirectUris: string[]
  /** The ИС's Ed25519 test key (stands in for its GOST key), also written to `testKeyFile`. */
  testKey: TestKeyPair
  testKeyFile: string
  oidc: { issuer: string; clientId: string; clientSecret: string }
  /** With `gost`: the ИС's real GOST key (file), its certificate as registered, and the mock's GOST token certificate. */
  gost: (GostClientCertificate & { keyFile: string; tokenCertFile: string }) | undefined
  /**
   * Environment for `buildTestApp({ env })` so the bridge talks to this mock:
   * `mock` (the mock adapter), `esia` (the esia adapter with the test-key signer and the mock's
   * keys URL as ESIA_TOKEN_KEYS) or `oidc` (the mock's standard side). With `gost`, `esia` signs
   * through ESIA_SIGNER=command with the OpenSSL-GOST command of docs/operations.md, and with GOST tokens takes
   * the mock's GOST certificate as ESIA_TOKEN_KEYS.
   */
  bridgeEnv(kind?: 'mock' | 'esia' | 'oidc', extra?: { scopes?: string }): Record<string, string>
}

/**
 * A mock ЕСИА on a random port with one registered ИС (a fresh test key, `redirectUris`) that is
 * also a client of the mock's OIDC side. Close it in `afterAll`.
 */
export async function startTestMockEsia(opts: {
  redirectUris?: string[]
  clientId?: string
  confirmedOnly?: boolean
  faults?: Partial<MockFaults>
  personas?: Persona[]
  codeLifetimeSeconds?: number
  /** RS256 key the mock signs tokens with (to make a certificate of it, as ЕСИА's esia.zip has). */
  signingKey?: KeyObject
  /** A browser that logged in before is sent straight back (ЕСИА's live session). */
  singleSignOn?: boolean
  /**
   * Real GOST (OpenSSL's GOST engine; check `gostEngineAvailable()` first): the ИС gets a GOST
   * 2012-256 key and certificate, the mock checks `client_secret` with it; `tokens` makes the mock
   * sign this ИС's tokens GOST3410_2012_256.
   */
  gost?: { tokens?: boolean }
} = {}): Promise<TestMockEsia> {
  const testKey = generateTestKeyPair()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mock-esia-key-'))
  const testKeyFile = path.join(dir, 'test-client-key.pem')
  await writeFile(testKeyFile, testKey.privatePem, { mode: 0o600 })
  const clientId = opts.clientId ?? MOCK_CLIENT_ID
  const redirectUris = opts.redirectUris ?? [BRIDGE_CALLBACK]
  let gost: TestMockEsia['gost']
  if (opts.gost) {
    if (!(await gostEngineAvailable())) throw new Error('startTestMockEsia({ gost }) needs OpenSSL\'s GOST engine')
    const pair = await generateGostKeyPair('/CN=esia-bridge test system')
    const keyFile = path.join(dir, 'gost-key.pem')
    await writeFile(keyFile, pair.privatePem, { mode: 0o600 })
    gost = { ...(await gostClientCertificate(pair.certificatePem)), keyFile, tokenCertFile: path.join(dir, 'esia-gost-token-key.cer') }
  }
  const mock = await startMockEsia({
    port: 0,
    clients: [{
      clientId, name: 'Тестовая система', redirectUris, confirmedOnly: opts.confirmedOnly ?? false, oidc: MOCK_OIDC_CLIENT,
      ...(gost ? { gost, tokenAlg: opts.gost?.tokens ? 'GOST3410_2012_256' : 'RS256' } : { publicKey: testKey.publicKey }),
    }],
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.personas ? { personas: opts.personas } : {}),
    ...(opts.codeLifetimeSeconds ? { codeLifetimeSeconds: opts.codeLifetimeSeconds } : {}),
    ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
    ...(opts.singleSignOn ? { singleSignOn: true } : {}),
  })
  if (gost) await writeFile(gost.tokenCertFile, (await mock.state.gostKey()).certificatePem)
  const close = mock.close
  return Object.assign(mock, {
    clientId,
    redirectUris,
    testKey,
    testKeyFile,
    oidc: { issuer: mock.oidcIssuer, ...MOCK_OIDC_CLIENT },
    gost,
    bridgeEnv(kind: 'mock' | 'esia' | 'oidc' = 'mock', extra: { scopes?: string } = {}): Record<string, string> {
      const scopes: Record<string, string> = extra.scopes ? { ESIA_SCOPES: extra.scopes } : {}
      if (kind === 'oidc') {
        return { IDP_KIND: 'oidc', OIDC_ISSUER: mock.oidcIssuer, OIDC_CLIENT_ID: MOCK_OIDC_CLIENT.clientId, OIDC_CLIENT_SECRET: MOCK_OIDC_CLIENT.clientSecret, OIDC_SCOPES: 'openid profile snils' }
      }
      const common = { ESIA_URL: mock.url, ESIA_CLIENT_ID: clientId, ESIA_TEST_KEY_FILE: testKeyFile, ...scopes }
      if (kind === 'mock') return { IDP_KIND: 'mock', ...common }
      if (gost) {
        return {
          IDP_KIND: 'esia', ...common, ESIA_SIGNER: 'command', ESIA_SIGNER_COMMAND: `openssl dgst -engine gost -md_gost12_256 -sign ${gost.keyFile}`,
          ESIA_CERT_HASH: gost.certHash, ESIA_TOKEN_KEYS: opts.gost?.tokens ? gost.tokenCertFile : mock.keysUrl,
        }
      }
      return { IDP_KIND: 'esia', ...common, ESIA_SIGNER: 'test-key', ESIA_CERT_HASH: testKey.certHash, ESIA_TOKEN_KEYS: mock.keysUrl }
    },
    async close() {
      await close()
      await rm(dir, { recursive: true, force: true })
    },
  })
}

/** The mock answered with an error page instead of sending the browser back. */
export class MockLoginError extends Error {
  override name = 'MockLoginError'
  constructor(readonly status: number, readonly code: string | undefined, readonly page: string) {
    super(`mock ЕСИА showed an error page (${status}${code ? `, ${code}` : ''})`)
  }
}

/** A browser's cookies for the mock's origin. */
export class CookieJar {
  readonly cookies = new Map<string, string>()
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
}

/**
 * Plays the person's browser at the mock: opens the authorization URL (ЕСИА's v2/ac or the OIDC
 * authorize), picks `personaId` on the page — or presses «Отказать» with `decline` — and returns
 * the URL the mock sends the browser back to (not followed). Throws `MockLoginError` when the mock
 * shows an error page instead (unknown client, foreign redirect_uri…).
 */
export async function loginAtMock(authorizeUrl: string | URL, personaId: string, opts: { decline?: boolean; jar?: CookieJar } = {}): Promise<URL> {
  const jar = opts.jar ?? new CookieJar()
  const url = new URL(authorizeUrl)
  const page = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } })
  jar.store(page)
  if (page.status === 302) return new URL(page.headers.get('location')!)
  const text = await page.text()
  if (page.status !== 200) throw new MockLoginError(page.status, /(ESIA-\d{6}|invalid_request)/.exec(text)?.[1], text)
  const tx = /name="tx" value="([^"]+)"/.exec(text)?.[1]
  if (!tx) throw new MockLoginError(page.status, undefined, text)
  const answer = await fetch(new URL('/login', url.origin), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ tx, persona: personaId, action: opts.decline ? 'decline' : 'login' }),
  })
  jar.store(answer)
  if (answer.status !== 302) throw new MockLoginError(answer.status, /(ESIA-\d{6})/.exec(await answer.text())?.[1], '')
  return new URL(answer.headers.get('location')!)
}

/** A random string for tests that need a value nobody else uses. */
export const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`
