import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas, type TokenTamper } from '../../src/mock-idp/index.js'
import { createTestKeySigner, createUpstreamAdapter, EsiaAdapter, generateTestKeyPair, TokenVerifier, tokenKeySource, type UpstreamAdapter, type VerifiedPerson } from '../../src/upstream/index.js'
import { testConfig } from '../helpers/app.js'
import { BRIDGE_CALLBACK, loginAtMock, SCOPES_WITH_KIDS, startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { expectedPerson, ID_TOKEN_TAMPERS, loginThrough, rejection } from './harness.js'

let mock: TestMockEsia
let adapter: UpstreamAdapter
const keyFetches: string[] = []
const countingFetch: typeof fetch = (input, init) => {
  if (String(input).endsWith('/public/keys.json')) keyFetches.push(String(input))
  return fetch(input, init)
}

beforeAll(async () => {
  mock = await startTestMockEsia()
  adapter = await createUpstreamAdapter(testConfig(mock.bridgeEnv('mock', { scopes: SCOPES_WITH_KIDS })), {
    testSigningKey: mock.testKey.privateKey, fetch: countingFetch, tokenKeysCooldownMs: 0, timeoutMs: 2000,
  })
})
afterAll(() => mock.close())
afterEach(() => mock.resetFaults())

const login = (persona: string, opts: { adapter?: UpstreamAdapter; decline?: boolean; spoil?: (callback: URL) => void } = {}): Promise<VerifiedPerson> =>
  loginThrough(opts.adapter ?? adapter, persona, opts)

describe('the mock adapter (the esia adapter against the bundled mock) — a happy path for every persona', () => {
  for (const persona of loadPersonas().filter((p) => p.behaviour !== 'decline')) {
    it(`${persona.id}: ${persona.description}`, async () => {
      const person = await login(persona.id)
      expect(person).toMatchObject({ ...expectedPerson(persona, { kids: true, esia: true }), issuer: `${mock.url}/`, authMethods: ['PWD'] })
      expect(person.authTime).toBeGreaterThan(0)
    })
  }

  it('declines: the person who presses «Отказать» ends as a typed refusal, ESIA-007004', async () => {
    expect(await rejection(login('declines'))).toEqual({ kind: 'denied', code: 'ESIA-007004' })
  })

  it('the authorization request is ЕСИА\'s v2/ac: UUID state, ЕСИА timestamp, certificate hash, no PKCE by default', async () => {
    const { url, transaction } = await adapter.start({ redirectUri: BRIDGE_CALLBACK })
    const q = new URL(url).searchParams
    expect(new URL(url).pathname).toBe('/aas/oauth2/v2/ac')
    expect(q.get('state')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(q.get('timestamp')).toMatch(/^\d{4}\.\d{2}\.\d{2} \d{2}:\d{2}:\d{2} \+0000$/)
    expect(q.get('client_certificate_hash')).toBe(mock.testKey.certHash)
    expect(q.get('client_secret')).toMatch(/^[A-Za-z0-9_-]{86}$/)
    expect(q.get('code_challenge')).toBeNull()
    expect(transaction.codeVerifier).toBeNull()
    expect(q.get('nonce')).toBe(transaction.nonce)
  })

  it('tolerates ЕСИА\'s quirks: expires_in as a string, oids as strings, a nonce echoed back', async () => {
    mock.setFaults({ expiresInAsString: true, oidAsString: true, echoNonce: true })
    expect(await login('parent-two-schools')).toMatchObject({ subject: '1000300001', trusted: true })
  })

  it('sends PKCE when configured to, and the mock checks it', async () => {
    const pkce = new EsiaAdapter({
      kind: 'mock', url: mock.url, clientId: mock.clientId, scopes: 'openid fullname', certHash: mock.testKey.certHash,
      signer: createTestKeySigner(mock.testKey.privateKey, 'test'), verifier: new TokenVerifier(await tokenKeySource(mock.keysUrl)), pkce: true,
    })
    const started = await pkce.start({ redirectUri: BRIDGE_CALLBACK })
    expect(new URL(started.url).searchParams.get('code_challenge_method')).toBe('S256')
    const person = await pkce.finish({ callbackUrl: await loginAtMock(started.url, 'no-patronymic'), redirectUri: BRIDGE_CALLBACK, transaction: started.transaction })
    expect(person).toMatchObject({ lastName: 'Ли', middleName: null })
  })

  it('follows a signing-key rotation: an unknown key makes it fetch the keys again, once', async () => {
    await login('journal-typo')
    const before = keyFetches.length
    await mock.rotateSigningKey({ keepPrevious: false })
    expect(await login('journal-typo')).toMatchObject({ subject: '1000300008' })
    expect(keyFetches.length).toBe(before + 1)
    expect(await login('journal-typo')).toMatchObject({ subject: '1000300008' })
    expect(keyFetches.length).toBe(before + 1)
  })

  it('builds ЕСИА\'s logout URL with redirect_url', () => {
    const url = new URL(adapter.logoutUrl!({ redirectUrl: 'http://bridge.test/' })!)
    expect(url.pathname).toBe('/idp/ext/Logout')
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: mock.clientId, redirect_url: 'http://bridge.test/' })
  })
})

describe('each bad answer is rejected with a typed error', () => {
  const tampered: [TokenTamper, string][] = [
    ...ID_TOKEN_TAMPERS,
    ['unknown-kid', 'token_key_unknown'],
    ['state-mismatch', 'state_mismatch'],
    ['subject-mismatch', 'token_subject_mismatch'],
    ['wrong-client-id', 'token_audience_mismatch'],
    ['access-token-expired', 'token_expired'],
    ['access-token-bad-signature', 'token_signature_invalid'],
  ]
  for (const [tamper, code] of tampered) {
    it(`${tamper} → invalid_response ${code}`, async () => {
      mock.setFaults({ tamper })
      expect(await rejection(login('parent-two-schools'))).toEqual({ kind: 'invalid_response', code })
    })
  }

  it('a callback whose state is not this browser\'s → state_mismatch, before any token request', async () => {
    expect(await rejection(login('parent-two-schools', { spoil: (cb) => cb.searchParams.set('state', crypto.randomUUID()) }))).toEqual({ kind: 'invalid_response', code: 'state_mismatch' })
  })

  it('an ЕСИА error on the redirect → its code, typed by what the person can do', async () => {
    expect(await rejection(login('teacher-parent', { decline: true }))).toEqual({ kind: 'denied', code: 'ESIA-007004' })
    const strict = await startTestMockEsia({ confirmedOnly: true })
    try {
      const a = await createUpstreamAdapter(testConfig(strict.bridgeEnv('mock')), { testSigningKey: strict.testKey.privateKey })
      expect(await rejection(login('standard-account', { adapter: a }))).toEqual({ kind: 'denied', code: 'ESIA-007055' })
    } finally {
      await strict.close()
    }
  })

  it('503 / ESIA-007008 from the token endpoint → unavailable', async () => {
    mock.setFaults({ tokenUnavailable: true })
    expect(await rejection(login('parent-two-schools'))).toEqual({ kind: 'unavailable', code: 'ESIA-007008' })
  })

  it('malformed JSON from the token endpoint or /rs/prns → unavailable', async () => {
    mock.setFaults({ malformedJson: 'token' })
    expect(await rejection(login('parent-two-schools'))).toEqual({ kind: 'unavailable', code: 'malformed_response' })
    mock.setFaults({ malformedJson: 'person' })
    expect(await rejection(login('parent-two-schools'))).toEqual({ kind: 'unavailable', code: 'malformed_response' })
  })

  it('a provider slower than the timeout → unavailable', async () => {
    mock.setFaults({ latencyMs: 2500 })
    expect(await rejection(login('parent-two-schools'))).toEqual({ kind: 'unavailable', code: 'timeout' })
  })

  it('a signature the mock cannot verify (wrong key) comes back as ESIA-007053', async () => {
    const stranger = await createUpstreamAdapter(testConfig(mock.bridgeEnv('mock')), { testSigningKey: generateTestKeyPair().privateKey })
    // A foreign key also has a foreign certificate hash: ЕСИА refuses it the same way.
    expect(await rejection(login('parent-two-schools', { adapter: stranger }))).toEqual({ kind: 'provider_error', code: 'ESIA-007053' })
  })
})

describe('the esia adapter as production configures it, pointed at the mock', () => {
  it('IDP_KIND=esia with ESIA_SIGNER=test-key, the key file and the mock\'s keys as ESIA_TOKEN_KEYS', async () => {
    const esia = await createUpstreamAdapter(testConfig(mock.bridgeEnv('esia')))
    expect(esia.kind).toBe('esia')
    expect(await login('esia-test-snils', { adapter: esia })).toMatchObject({ subject: '1000300011', snils: '00000060006', trusted: true })
  })

  it('refuses the test-key signer in production and a scope without openid', async () => {
    expect(() => createTestKeySigner(mock.testKey.privateKey, 'production')).toThrow(/refused in production/)
    await expect(createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('mock'), ESIA_SCOPES: 'fullname snils' }), { testSigningKey: mock.testKey.privateKey }))
      .rejects.toMatchObject({ kind: 'configuration', code: 'scope_without_openid' })
  })
})

describe('a parent\'s children (kid scopes)', () => {
  /** A whole login through the adapter, stopping at the verified login (nothing fetched yet). */
  async function authenticate(persona: string, a: UpstreamAdapter = adapter) {
    const started = await a.start({ redirectUri: BRIDGE_CALLBACK })
    return a.authenticate({ callbackUrl: await loginAtMock(started.url, persona), redirectUri: BRIDGE_CALLBACK, transaction: started.transaction })
  }

  it('granted: the children alone come from /kids without /rs/prns, and the person shares that one answer', async () => {
    const restCalls: string[] = []
    const watching = await createUpstreamAdapter(testConfig(mock.bridgeEnv('mock', { scopes: SCOPES_WITH_KIDS })), {
      testSigningKey: mock.testKey.privateKey,
      fetch: (input, init) => {
        if (String(input).includes('/rs/prns/')) restCalls.push(new URL(String(input)).pathname)
        return fetch(input, init)
      },
    })
    const login = await authenticate('parent-two-children', watching)
    expect(login.childrenAccess).toBe('given')
    expect((await login.children())!.map((k) => k.firstName)).toEqual(['Михаил', 'Софья'])
    expect(restCalls).toEqual(['/rs/prns/1000300014/kids'])
    expect((await login.person()).kids).toHaveLength(2)
    expect(restCalls).toEqual(['/rs/prns/1000300014/kids', '/rs/prns/1000300014'])
  })

  it('not granted by the person: withheld, and /kids is never asked', async () => {
    const login = await authenticate('parent-declines-kids')
    expect(login.childrenAccess).toBe('withheld')
    expect(await login.children()).toBeUndefined()
    expect((await login.person()).kids).toBeUndefined()
  })

  it('not asked for by the installation (no kid_* in ESIA_SCOPES): not_asked', async () => {
    const plain = await createUpstreamAdapter(testConfig(mock.bridgeEnv('mock', { scopes: 'openid fullname birthdate snils' })), { testSigningKey: mock.testKey.privateKey })
    const login = await authenticate('parent-two-children', plain)
    expect(login.childrenAccess).toBe('not_asked')
    expect(await login.children()).toBeUndefined()
  })

  it('a /kids answer that cannot be read costs the children, never the login or the person', async () => {
    mock.setFaults({ malformedJson: 'kids' })
    const login = await authenticate('parent-two-children')
    expect(await login.children()).toBeUndefined()
    expect(await login.person()).toMatchObject({ subject: '1000300014', lastName: 'Волкова' })
  })
})
