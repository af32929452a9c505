import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDemoJournal, BridgeClient } from '../../src/demo-journal/index.js'
import { buildMockEsia, loadPersonas } from '../../src/mock-idp/index.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'

/**
 * The addresses `npm start` prints open on a page, not a JSON 404, and every server has an icon
 * (a browser asks each for /favicon.ico).
 */
describe('landing pages and icons', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  const isIcon = (res: { statusCode: number; headers: Record<string, unknown>; rawPayload: Buffer }) => {
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('image/x-icon')
    // ICONDIR: reserved 0, type 1 (icon), one image.
    expect([...res.rawPayload.subarray(0, 6)]).toEqual([0, 0, 1, 0, 1, 0])
  }

  it('the bridge: what it is, and links to the console, discovery and health', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('Мост ЕСИА')
    for (const href of ['/admin', '/.well-known/openid-configuration', '/readyz']) expect(res.body).toContain(`href="${href}"`)
    isIcon(await t.app.inject({ method: 'GET', url: '/favicon.ico' }))
  })

  it('the mock ЕСИА: the test stand page with every persona and what it checks', async () => {
    const mock = await buildMockEsia()
    try {
      const res = await mock.inject({ method: 'GET', url: '/' })
      expect(res.statusCode).toBe(200)
      expect(res.body).toContain('Тестовый вход Госуслуг')
      for (const p of loadPersonas()) expect(res.body).toContain(p.label)
      expect(res.body).toContain('Проверяет: отмену на Госуслугах')
      isIcon(await mock.inject({ method: 'GET', url: '/favicon.ico' }))
    } finally {
      await mock.close()
    }
  })

  it('the demo journal has its icon too', async () => {
    const bridge = new BridgeClient({ issuer: 'http://127.0.0.1:9', clientId: 'demo-journal', clientSecret: 'x', loginRedirectUri: 'http://j/auth/callback', linkRedirectUri: 'http://j/settings/gosuslugi/done', postLogoutRedirectUri: 'http://j/' })
    const journal = await buildDemoJournal({ publicUrl: 'http://127.0.0.1:9', bridge, directory: { organizations: [], users: [] }, password: 'demo' })
    try {
      isIcon(await journal.inject({ method: 'GET', url: '/favicon.ico' }))
    } finally {
      await journal.close()
    }
  })
})
