import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, type TestApp } from '../helpers/app.js'

/**
 * Odd input gets a 4xx worded for its audience, never a 500: PostgreSQL cannot store a NUL
 * character, so a request carrying one is refused before any query (src/http/input-guard.ts).
 */
describe('requests with a NUL character', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  it('a callback gets the Russian «start again» page', async () => {
    const res = await t.app.inject({ url: '/auth/callback?state=a%00b&code=x' })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('lang="ru"')
  })

  it('the journal API gets a JSON reason', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/link-intents',
      headers: { authorization: journalBasicAuth() },
      payload: { journal_user_id: 'a\u0000b', redirect_uri: JOURNAL_CLIENT.redirect_uris[1], state: 's' },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'invalid_characters' })
    expect((await t.app.inject({ url: '/api/v1/links/a%00b', headers: { authorization: journalBasicAuth() } })).statusCode).toBe(400)
  })

  it('the token endpoint gets an OAuth error', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=authorization_code&code=abc&redirect_uri=x%00y',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('writes no error to the log', () => {
    expect(t.logs.text()).not.toContain('"level":50')
  })
})

describe('HEAD requests', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  it('never run a page handler that would take a flow state or bind a link intent', async () => {
    for (const url of ['/auth/callback?state=s&code=c', '/link/abc', '/oauth2/authorize?client_id=x']) {
      expect((await t.app.inject({ method: 'HEAD', url })).statusCode).toBe(404)
    }
  })
})

describe('behind a TLS proxy', () => {
  it('limits by the client address the trusted proxy forwards, not by the proxy', async () => {
    const t = await buildTestApp({ env: { RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1' } })
    try {
      const hit = (client: string) => t.app.inject({ url: '/link/abcdefghijklmnopqrstuvwxyz0123456789abcdefg', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': client } })
      expect((await hit('203.0.113.1')).statusCode).not.toBe(429)
      expect((await hit('203.0.113.1')).statusCode).not.toBe(429)
      expect((await hit('203.0.113.1')).statusCode).toBe(429)
      // Another family behind the same proxy is not turned away.
      expect((await hit('203.0.113.2')).statusCode).not.toBe(429)
    } finally {
      await t.close()
    }
  })
})
