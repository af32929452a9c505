import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loginAtMock, type TestMockEsia } from '../helpers/mock-esia.js'
import { authorizeUrl, bearer, exchange, secret, timestamp, mockWithClient, type EsiaTestClient } from './esia-client.js'

let mock: TestMockEsia
let rp: EsiaTestClient

beforeAll(async () => {
  ({ mock, rp } = await mockWithClient('https://rp.example/cb'))
})
afterAll(() => mock.close())
afterEach(() => mock.resetFaults())

const code = async (persona = 'parent-two-schools') => (await loginAtMock(authorizeUrl(rp), persona)).searchParams.get('code')!
const setFaults = (body: unknown) => fetch(`${mock.url}/mock/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('fault switches, over the admin endpoint and in-process', () => {
  it('503 with ESIA-007008 from the token endpoint', async () => {
    expect((await setFaults({ tokenUnavailable: true })).status).toBe(200)
    const answer = await exchange(rp, await code())
    expect(answer.status).toBe(503)
    expect(answer.body).toMatchObject({ error: 'temporarily_unavailable', state: answer.sentState })
    expect(answer.body.error_description).toMatch(/^ESIA-007008/)
  })

  it('a body that is not JSON, labelled as JSON, from the token endpoint or from /rs/prns', async () => {
    await setFaults({ malformedJson: 'token' })
    const c = await code()
    const state = randomUUID()
    const ts = timestamp()
    const scope = 'openid fullname birthdate snils kid_fullname kid_birthdate kid_snils'
    const answer = await fetch(`${mock.url}/aas/oauth2/v3/te`, {
      method: 'POST',
      body: new URLSearchParams({
        client_id: rp.clientId, code: c, grant_type: 'authorization_code', client_certificate_hash: rp.certHash, state,
        redirect_uri: rp.redirectUri, scope, timestamp: ts,
        client_secret: secret(rp.privateKey, rp.clientId + scope + ts + state + rp.redirectUri + c),
      }),
    })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toContain('application/json')
    const tokenText = await answer.text()
    expect(() => JSON.parse(tokenText)).toThrow(SyntaxError)

    mock.resetFaults()
    const ok = await exchange(rp, await code())
    mock.setFaults({ malformedJson: 'person' })
    const person = await bearer(mock.url, '/rs/prns/1000300001', ok.body.access_token as string)
    const personText = await person.text()
    expect(() => JSON.parse(personText)).toThrow(SyntaxError)
  })

  it('slow answers: the token endpoint waits latencyMs before answering', async () => {
    await setFaults({ latencyMs: 150 })
    const c = await code()
    const started = Date.now()
    await exchange(rp, c)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
  })

  it('signing-key rotation: a new key signs, the old one stays published unless dropped', async () => {
    const before = (await (await fetch(mock.keysUrl)).json()) as { keys: { kid: string }[] }
    const rotated = (await (await fetch(`${mock.url}/mock/keys/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { kid: string; published: string[] }
    expect(rotated.published).toEqual([rotated.kid, before.keys[0]!.kid])
    const pem = await (await fetch(`${mock.url}/public/keys.pem`)).text()
    expect(pem.match(/BEGIN PUBLIC KEY/g)).toHaveLength(2)
    const dropped = await mock.rotateSigningKey({ keepPrevious: false })
    expect(((await (await fetch(mock.keysUrl)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([dropped.kid])
  })

  it('refuses unknown switches and shows the current ones', async () => {
    expect((await setFaults({ explode: true })).status).toBe(400)
    expect((await setFaults({ tamper: 'teleport' })).status).toBe(400)
    await setFaults({ tamper: 'expired', oidAsString: true })
    expect(await (await fetch(`${mock.url}/mock/faults`)).json()).toMatchObject({ tamper: 'expired', oidAsString: true, latencyMs: 0 })
    expect(await (await fetch(`${mock.url}/mock/faults`, { method: 'DELETE' })).json()).toMatchObject({ tamper: 'none', oidAsString: false })
  })
})
