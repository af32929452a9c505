import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, parseEnv } from '../src/config.js'
import { loadClientsFile } from '../src/oidc-provider/clients.js'
import { resolveSecrets } from '../src/secrets.js'
import { TEST_SECRETS } from './helpers/app.js'

const production = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://bridge.example',
  IDP_KIND: 'oidc',
  OIDC_ISSUER: 'https://broker.example',
  OIDC_CLIENT_ID: 'bridge',
  OIDC_CLIENT_SECRET: 'secret',
  CLIENTS_FILE: '/etc/esia-bridge/clients.json',
}
const build = (env: Record<string, string>) => buildConfig(parseEnv(env), TEST_SECRETS)
const problems = (env: Record<string, string>) => {
  try {
    build(env)
    return ''
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
}

describe('configuration', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-config-'))
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))

  it('has the documented defaults', () => {
    const c = build({})
    expect(c).toMatchObject({ port: 3000, publicUrl: 'http://localhost:3000', dataDir: './.data', autoLinkOnLogin: true, failedAttemptRetentionDays: 30, logLevel: 'info', trustProxy: false })
    expect(c.idp.kind).toBe('mock')
    expect(build({ AUTO_LINK_ON_LOGIN: 'false', TRUST_PROXY: '10.0.0.0/8, 192.168.1.5' })).toMatchObject({ autoLinkOnLogin: false, trustProxy: ['10.0.0.0/8', '192.168.1.5'] })
  })

  it('names the variable that is wrong', () => {
    expect(() => parseEnv({ PORT: 'eighty' })).toThrow(/PORT: must be integer/)
    expect(problems({ IDP_KIND: 'esia' })).toMatch(/ESIA_URL is required[\s\S]*ESIA_CLIENT_ID is required[\s\S]*ESIA_CERT_HASH is required[\s\S]*ESIA_TOKEN_KEYS is required/)
  })

  it('in production refuses the mock, the test key, plain http and a missing clients list', () => {
    expect(problems(production)).toBe('')
    expect(problems({ ...production, IDP_KIND: 'mock' })).toContain('IDP_KIND=mock is refused in production')
    expect(problems({ ...production, PUBLIC_URL: 'http://bridge.example' })).toContain('PUBLIC_URL must be an https://')
    expect(problems({ ...production, OIDC_ISSUER: 'http://broker.example' })).toContain('OIDC_ISSUER must be an https://')
    expect(problems({ ...production, CLIENTS_FILE: '' })).toContain('CLIENTS_FILE is required in production')
    const esia = { ...production, IDP_KIND: 'esia', ESIA_URL: 'https://esia.gosuslugi.ru', ESIA_CLIENT_ID: 'IS01', ESIA_CERT_HASH: 'A'.repeat(64), ESIA_TOKEN_KEYS: '/etc/esia', ESIA_SIGNER: 'command', ESIA_SIGNER_COMMAND: 'sign' }
    expect(problems(esia)).toBe('')
    expect(problems({ ...esia, ESIA_SIGNER: 'test-key' })).toContain('ESIA_SIGNER=test-key is refused in production')
    expect(problems({ ...esia, ESIA_URL: 'http://esia.gosuslugi.ru' })).toContain('ESIA_URL must be an https://')
    expect(problems({ ...esia, ESIA_TOKEN_KEYS: 'http://keys.example/jwks' })).toContain('ESIA_TOKEN_KEYS must not be a plain http://')
    expect(problems({ ...esia, ESIA_SIGNER: 'http', ESIA_SIGNER_URL: 'http://signer.example/sign' })).toContain('ESIA_SIGNER_URL must be https://')
    expect(problems({ ...esia, ESIA_SIGNER: 'http', ESIA_SIGNER_URL: 'http://127.0.0.1:9000/sign' })).toBe('')
  })

  it('in production stops at a missing secret and names it', async () => {
    await expect(resolveSecrets('production', { snilsHmacKey: 'x'.repeat(32) }, dir)).rejects.toThrow(/Missing secrets in production: COOKIE_SECRET, KEYS_ENCRYPTION_KEY/)
  })

  it('in development generates the secrets once, keeps them private, and reuses them', async () => {
    const first = await resolveSecrets('development', {}, dir)
    const again = await resolveSecrets('development', {}, dir)
    expect(again.secrets).toEqual(first.secrets)
    expect(first.secrets.snilsHmacKey.length).toBeGreaterThanOrEqual(32)
    expect((await stat(path.join(dir, 'secrets.json'))).mode & 0o777).toBe(0o600)
    // A secret given in the environment wins over the generated one.
    expect((await resolveSecrets('development', { cookieSecret: 'c'.repeat(32) }, dir)).secrets.cookieSecret).toBe('c'.repeat(32))
    expect(JSON.parse(await readFile(path.join(dir, 'secrets.json'), 'utf8')).cookieSecret).toBe(first.secrets.cookieSecret)
  })

  it('in production refuses journal redirect URIs over plain http', async () => {
    const file = path.join(dir, 'clients.json')
    await writeFile(file, JSON.stringify([{ client_id: 'j', name: 'Журнал', client_secret: 's'.repeat(32), redirect_uris: ['http://journal.example/cb'] }]))
    await expect(loadClientsFile(file, { requireHttps: true })).rejects.toThrow(/not https \(http:\/\/journal\.example\/cb\)/)
    expect(await loadClientsFile(file)).toHaveLength(1)
  })
})
