import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/http/free-port.js'
import type { FlowWorld } from '../flows/helpers.js'
import { StockJournal } from '../flows/login-helpers.js'
import { JOURNAL_CLIENT, TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { HttpBrowser } from '../helpers/http-browser.js'

/** Starts `node src/<entry>` and resolves with its output once a line matches `ready`. */
function start(entry: string, env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      if (ready.test(out)) resolve({ child, output: () => out })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`${entry} exited ${code}: ${out}`)))
  })
}

/**
 * docs/development.md, «The mock ЕСИА: trying it without ЕСИА»: `npm run mock-esia` in one terminal, then the bridge with
 * IDP_KIND=mock and ESIA_URL pointing at it. The bridge must use that mock — not start its own on
 * the same port — and sign `client_secret` with the keys the mock registered under the shared DATA_DIR.
 */
describe('IDP_KIND=mock with ESIA_URL: a mock started separately', () => {
  let db: TestDatabase
  let dir: string
  const children: ChildProcess[] = []
  let bridgeUrl: string
  let mockUrl: string
  let bridgeOutput: () => string

  beforeAll(async () => {
    db = await createTestDatabase()
    dir = await mkdtemp(path.join(tmpdir(), 'esia-separate-mock-'))
    const clientsFile = path.join(dir, 'clients.json')
    await writeFile(clientsFile, JSON.stringify([JOURNAL_CLIENT]))
    const [bridgePort, mockPort] = [await freePort(), await freePort()]
    bridgeUrl = `http://127.0.0.1:${bridgePort}`
    const common = { NODE_ENV: 'development', HOST: '127.0.0.1', DATA_DIR: dir, PUBLIC_URL: bridgeUrl, MOCK_ESIA_PORT: String(mockPort), LOG_LEVEL: 'warn' }
    const mock = await start('src/mock-idp/main.ts', common, /bridge env: +IDP_KIND=mock ESIA_URL=(\S+)/)
    children.push(mock.child)
    mockUrl = /ESIA_URL=(\S+)/.exec(mock.output())![1]!
    const bridge = await start('src/server.ts', {
      ...common, PORT: String(bridgePort), IDP_KIND: 'mock', ESIA_URL: mockUrl, DATABASE_URL: db.url, CLIENTS_FILE: clientsFile,
      SNILS_HMAC_KEY: TEST_SECRETS.snilsHmacKey, COOKIE_SECRET: TEST_SECRETS.cookieSecret, KEYS_ENCRYPTION_KEY: TEST_SECRETS.keysEncryptionKey,
    }, /Мост ЕСИА[\s\S]*\n\n/)
    children.push(bridge.child)
    bridgeOutput = bridge.output
  }, 60_000)

  afterAll(async () => {
    for (const c of children) c.kill('SIGINT')
    await new Promise((r) => setTimeout(r, 300))
    await db.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it('names the mock it uses and starts none of its own', () => {
    expect(bridgeOutput()).toContain(`Тестовый вход Госуслуг (mock): ${mockUrl}`)
    expect(bridgeOutput()).not.toMatch(/EADDRINUSE|cannot start/)
  })

  it('a login goes through that mock: the token exchange accepts the bridge\'s client_secret', async () => {
    const journal = new StockJournal({ url: bridgeUrl } as FlowWorld)
    const { url } = await journal.start()
    const browser = new HttpBrowser()
    const toEsia = await browser.get(url)
    expect(toEsia.status).toBe(303)
    expect(toEsia.location!.startsWith(mockUrl)).toBe(true)
    const consent = await browser.follow(toEsia)
    expect(consent.status).toBe(200)
    const back = await browser.press(consent, 'Войти и предоставить доступ', { persona: 'parent-two-schools', action: 'login' })
    expect(back.location!.startsWith(`${bridgeUrl}/auth/callback`)).toBe(true)
    const landed = await browser.follow(back)
    // The directory is empty: after a successful exchange and person fetch, the answer is «not found».
    const page = landed.location ? await browser.follow(landed) : landed
    expect(page.status).toBeLessThan(500)
    const { rows } = await db.pool.query<{ reasons: string[] }>('SELECT reasons FROM failed_attempts')
    expect(rows.map((r) => r.reasons).flat()).toContain('not_found')
  })
})
