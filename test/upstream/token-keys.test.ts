import { execFileSync } from 'node:child_process'
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUpstreamAdapter, UpstreamError, type UpstreamAdapter } from '../../src/upstream/index.js'
import { testConfig } from '../helpers/app.js'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { loginThrough } from './harness.js'

/**
 * ESIA_TOKEN_KEYS in every form ЕСИА's public esia.zip and operators give it: PEM and DER
 * certificates, PEM public keys, JWK/JWKS, files, a directory, several keys at once for rotation.
 */
let dir: string
let mock: TestMockEsia
let nextKey: KeyObject

/** A self-signed certificate of an RSA key, as `openssl` makes it (ЕСИА's are CA-issued; only the key matters). */
function certificate(name: string, key: KeyObject): { pem: string; derFile: string; pemFile: string } {
  const keyFile = path.join(dir, `${name}.key`)
  writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }))
  const pemFile = path.join(dir, `${name}.pem`)
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', `/CN=${name}`, '-days', '2', '-out', pemFile])
  const derFile = path.join(dir, `${name}.cer`)
  execFileSync('openssl', ['x509', '-in', pemFile, '-outform', 'DER', '-out', derFile])
  return { pem: readFileSync(pemFile, 'utf8'), derFile, pemFile }
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'esia-token-keys-'))
  const current = rsa()
  nextKey = rsa()
  mock = await startTestMockEsia({ signingKey: current })
  certificate('RSA_TEST_2025', current)
  certificate('RSA_TEST_2026', nextKey)
})
afterAll(async () => {
  await mock.close()
  rmSync(dir, { recursive: true, force: true })
})

const adapterWith = (tokenKeys: string) => createUpstreamAdapter(testConfig({ ...mock.bridgeEnv('esia'), ESIA_TOKEN_KEYS: tokenKeys }))

const loginWith = (adapter: UpstreamAdapter) => loginThrough(adapter, 'parent-two-schools')

describe('ESIA_TOKEN_KEYS', () => {
  it('an inline PEM certificate', async () => {
    expect(await loginWith(await adapterWith(readFileSync(path.join(dir, 'RSA_TEST_2025.pem'), 'utf8')))).toMatchObject({ subject: '1000300001' })
  })

  it('a DER .cer file, as in esia.zip', async () => {
    expect(await loginWith(await adapterWith(path.join(dir, 'RSA_TEST_2025.cer')))).toMatchObject({ subject: '1000300001' })
  })

  it('PEM public keys and an inline JWKS, as the mock publishes them', async () => {
    const pem = await (await fetch(`${mock.url}/public/keys.pem`)).text()
    expect(await loginWith(await adapterWith(pem))).toMatchObject({ subject: '1000300001' })
    const jwks = await (await fetch(mock.keysUrl)).text()
    expect(await loginWith(await adapterWith(jwks))).toMatchObject({ subject: '1000300001' })
  })

  it('a directory (the unpacked esia.zip) with this year\'s and next year\'s certificates: rotation needs no restart', async () => {
    const zip = path.join(dir, 'esia-zip')
    mkdirSync(zip)
    for (const name of ['RSA_TEST_2025.cer', 'RSA_TEST_2026.cer']) writeFileSync(path.join(zip, name), readFileSync(path.join(dir, name)))
    writeFileSync(path.join(zip, 'README.txt'), 'not a key')
    const adapter = await adapterWith(zip)
    expect(await loginWith(adapter)).toMatchObject({ subject: '1000300001' })
    // ЕСИА switches to next year's certificate; the mock now publishes and signs with it alone.
    await mock.rotateSigningKey({ keepPrevious: false, key: nextKey })
    expect(await loginWith(adapter)).toMatchObject({ subject: '1000300001' })
  })

  it('a comma-separated list of files', async () => {
    expect(await loginWith(await adapterWith(`${path.join(dir, 'RSA_TEST_2026.pem')}, ${path.join(dir, 'RSA_TEST_2025.cer')}`))).toMatchObject({ subject: '1000300001' })
  })

  it('only keys that really signed pass: another RSA key is a bad signature', async () => {
    const stranger = certificate('STRANGER', rsa())
    const adapter = await adapterWith(stranger.pem)
    await expect(loginWith(adapter)).rejects.toMatchObject({ kind: 'invalid_response', code: 'token_signature_invalid' })
  })

  it('refuses at start-up what holds no usable key, naming ESIA_TOKEN_KEYS', async () => {
    for (const bad of [path.join(dir, 'missing.cer'), 'not a key at all', '{"keys":[]}', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()]) {
      const err = await adapterWith(bad).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UpstreamError)
      expect(err).toMatchObject({ kind: 'configuration', code: 'token_keys_invalid' })
      expect((err as Error).message).toMatch(/^ESIA_TOKEN_KEYS/)
    }
  })

  it('keeps a private key out: only the public half of a JWK with "d" is used', async () => {
    const jwk = { ...createPrivateKey(readFileSync(path.join(dir, 'RSA_TEST_2026.key'))).export({ format: 'jwk' }), kid: 'k1' }
    await expect(adapterWith(JSON.stringify(jwk))).resolves.toBeDefined()
  })
})
