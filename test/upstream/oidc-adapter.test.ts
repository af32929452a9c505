import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas, type TokenTamper } from '../../src/mock-idp/index.js'
import { createUpstreamAdapter, type UpstreamAdapter, type VerifiedPerson } from '../../src/upstream/index.js'
import { testConfig } from '../helpers/app.js'
import { BRIDGE_CALLBACK, loginAtMock, startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { expectedPerson, ID_TOKEN_TAMPERS, loginThrough, rejection } from './harness.js'

let mock: TestMockEsia
let adapter: UpstreamAdapter
const jwksFetches: string[] = []
const countingFetch: typeof fetch = (input, init) => {
  if (String(input instanceof Request ? input.url : input).endsWith('/oidc/jwks')) jwksFetches.push(String(input))
  return fetch(input, init)
}

beforeAll(async () => {
  mock = await startTestMockEsia()
  adapter = await createUpstreamAdapter(testConfig(mock.bridgeEnv('oidc')), { fetch: countingFetch, tokenKeysCooldownMs: 0 })
})
afterAll(() => mock.close())
afterEach(() => mock.resetFaults())

const login = (persona: string, opts: { decline?: boolean; spoil?: (callback: URL) => void; a?: UpstreamAdapter } = {}): Promise<VerifiedPerson> =>
  loginThrough(opts.a ?? adapter, persona, opts)

describe('the oidc adapter against the mock\'s standard side — a happy path for every persona', () => {
  for (const persona of loadPersonas().filter((p) => p.behaviour !== 'decline')) {
    it(`${persona.id}: ${persona.description}`, async () => {
      const person = await login(persona.id)
      expect(person).toEqual({ ...expectedPerson(persona, { kids: false, esia: false }), issuer: mock.oidc.issuer, authMethods: ['pwd'], authTime: expect.any(Number) })
    })
  }

  it('declines: access_denied on the redirect → denied', async () => {
    expect(await rejection(login('declines'))).toEqual({ kind: 'denied', code: 'access_denied' })
  })

  it('always sends PKCE S256, state and nonce', async () => {
    const { url, transaction } = await adapter.start({ redirectUri: BRIDGE_CALLBACK })
    const q = new URL(url).searchParams
    expect(q.get('code_challenge_method')).toBe('S256')
    expect(q.get('state')).toBe(transaction.state)
    expect(q.get('nonce')).toBe(transaction.nonce)
    expect(transaction.codeVerifier).toBeTruthy()
  })

  it('reads SNILS, birth date, patronymic and trust from configurable claim names', async () => {
    const renamed = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('oidc'), OIDC_CLAIM_SNILS: 'no_such_claim', OIDC_CLAIM_TRUSTED: 'also_missing' }))
    expect(await login('parent-two-schools', { a: renamed })).toMatchObject({ snils: null, trusted: false, level: 'P', lastName: 'Смирнова' })
  })

  it('a new signing key with an unknown kid: the JWKS is fetched again once, and the login goes on', async () => {
    await login('teacher-parent')
    const before = jwksFetches.length
    await mock.rotateSigningKey({ keepPrevious: false })
    expect(await login('teacher-parent')).toMatchObject({ subject: '1000300002' })
    expect(jwksFetches.length).toBe(before + 1)
  })
})

describe('key rotation inside the JWKS cooldown (jose waits 30 s between fetches for an unknown kid)', () => {
  const withDefaultCooldown = () => createUpstreamAdapter(testConfig(mock.bridgeEnv('oidc')), { fetch: countingFetch })

  it('the provider starts signing with a new key seconds after our last fetch: one more fetch, and the login succeeds', async () => {
    const a = await withDefaultCooldown()
    await login('teacher-parent', { a })
    const before = jwksFetches.length
    await mock.rotateSigningKey({ keepPrevious: false })
    expect(await login('teacher-parent', { a })).toMatchObject({ subject: '1000300002' })
    expect(await login('name-with-yo', { a })).toMatchObject({ subject: '1000300005' })
    expect(jwksFetches.length).toBe(before + 1)
  })

  it('a stream of tokens with forged kids costs the provider one fetch, not one per token', async () => {
    const a = await withDefaultCooldown()
    await login('teacher-parent', { a })
    const before = jwksFetches.length
    mock.setFaults({ tamper: 'unknown-kid' })
    for (let i = 0; i < 10; i++) expect(await rejection(login('name-with-yo', { a }))).toEqual({ kind: 'invalid_response', code: 'token_key_unknown' })
    expect(jwksFetches.length).toBe(before + 1)
  })
})

describe('each bad answer is rejected with a typed error', () => {
  const tampered: [TokenTamper, string][] = [...ID_TOKEN_TAMPERS, ['userinfo-subject-mismatch', 'userinfo_subject_mismatch']]
  for (const [tamper, code] of tampered) {
    it(`${tamper} → invalid_response ${code}`, async () => {
      mock.setFaults({ tamper })
      expect(await rejection(login('name-with-yo'))).toEqual({ kind: 'invalid_response', code })
    })
  }

  it('unknown-kid → one JWKS refetch, then invalid_response token_key_unknown', async () => {
    await login('name-with-yo')
    mock.setFaults({ tamper: 'unknown-kid' })
    const before = jwksFetches.length
    expect(await rejection(login('name-with-yo'))).toEqual({ kind: 'invalid_response', code: 'token_key_unknown' })
    expect(jwksFetches.length).toBe(before + 1)
  })

  it('a callback state that is not ours → state_mismatch', async () => {
    expect(await rejection(login('name-with-yo', { spoil: (cb) => cb.searchParams.set('state', 'forged') }))).toEqual({ kind: 'invalid_response', code: 'state_mismatch' })
  })

  it('503 from the token endpoint → unavailable; a body that is not JSON → unavailable', async () => {
    mock.setFaults({ tokenUnavailable: true })
    expect(await rejection(login('name-with-yo'))).toEqual({ kind: 'unavailable', code: 'http_503' })
    mock.setFaults({ tokenUnavailable: false, malformedJson: 'token' })
    expect(await rejection(login('name-with-yo'))).toEqual({ kind: 'unavailable', code: 'malformed_response' })
  })

  it('a provider that is down at discovery → unavailable, and a later login tries discovery again', async () => {
    const down = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('oidc'), OIDC_ISSUER: 'http://127.0.0.1:9/oidc' }))
    expect((await rejection(down.start({ redirectUri: BRIDGE_CALLBACK }))).kind).toBe('unavailable')
    expect((await rejection(down.start({ redirectUri: BRIDGE_CALLBACK }))).kind).toBe('unavailable')
  })
})

describe('a parent\'s children from a broker\'s claim (OIDC_CLAIM_CHILDREN)', () => {
  it('reads the claim into children, in our formats; no claim → not_asked', async () => {
    const withKids = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('oidc'), OIDC_SCOPES: 'openid profile snils kid_fullname kid_birthdate kid_snils' }))
    const started = await withKids.start({ redirectUri: BRIDGE_CALLBACK })
    const login = await withKids.authenticate({ callbackUrl: await loginAtMock(started.url, 'parent-child-typo'), redirectUri: BRIDGE_CALLBACK, transaction: started.transaction })
    expect(login.childrenAccess).toBe('given')
    expect(await login.children()).toEqual([{ lastName: 'Егоров', firstName: 'Тимофей', middleName: 'Романович', birthDate: '2014-03-05', snils: '30222333595' }])

    const plain = await adapter.start({ redirectUri: BRIDGE_CALLBACK })
    const without = await adapter.authenticate({ callbackUrl: await loginAtMock(plain.url, 'parent-child-typo'), redirectUri: BRIDGE_CALLBACK, transaction: plain.transaction })
    expect(without.childrenAccess).toBe('not_asked')
    expect(await without.children()).toBeUndefined()
  })

  it('reads another claim name, and takes what it can from odd elements', async () => {
    const renamed = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('oidc'), OIDC_SCOPES: 'openid profile kid_fullname kid_birthdate', OIDC_CLAIM_CHILDREN: 'no_such_claim' }))
    expect((await login('parent-two-children', { a: renamed })).kids).toBeUndefined()
    const partial = await createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('oidc'), OIDC_SCOPES: 'openid profile kid_birthdate' }))
    expect((await login('parent-two-children', { a: partial })).kids).toEqual([
      { lastName: '', firstName: '', middleName: null, birthDate: '2013-01-15', snils: null },
      { lastName: '', firstName: '', middleName: null, birthDate: '2015-08-20', snils: null },
    ])
  })
})
