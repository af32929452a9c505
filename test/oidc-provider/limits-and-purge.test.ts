import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthorizationCode } from '../../src/oidc-provider/codes.js'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, type TestApp } from '../helpers/app.js'
import { REDIRECT_URI, seedCard, tokenRequest } from './helpers.js'

describe('abuse limits and housekeeping of the provider', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ env: { RATE_LIMIT_PER_MINUTE: '3' } })
  })
  afterAll(async () => t.close())

  it('limits link pages per IP with a Russian page', async () => {
    const statuses: number[] = []
    let last = ''
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'GET', url: `/link/${'a'.repeat(43)}`, remoteAddress: '198.51.100.7' })
      statuses.push(res.statusCode)
      last = res.body
    }
    expect(statuses).toEqual([404, 404, 404, 429, 429])
    expect(last).toContain('Слишком много попыток')
    // Another address is not affected.
    expect((await t.app.inject({ method: 'GET', url: `/link/${'a'.repeat(43)}`, remoteAddress: '198.51.100.8' })).statusCode).toBe(404)
  })

  it('limits secret guessing at the token endpoint but never a journal that authenticates', async () => {
    const wrong = journalBasicAuth({ client_id: JOURNAL_CLIENT.client_id, client_secret: 'guess' })
    const guesses: number[] = []
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', remoteAddress: '203.0.113.5', headers: { authorization: wrong, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=authorization_code&code=x&redirect_uri=y' })
      guesses.push(res.statusCode)
    }
    expect(guesses).toEqual([401, 401, 401, 429, 429])

    const journal: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', remoteAddress: '203.0.113.9', headers: { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=authorization_code&code=unknown-${i}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}` })
      journal.push(res.statusCode)
    }
    expect(journal.every((s) => s === 400)).toBe(true)
  })

  it('purges expired intents, flow states, codes and access tokens, and keeps live ones', async () => {
    await seedCard(t.db.pool, { id: 'p1', organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария' })
    const code = await createAuthorizationCode(t.db.pool, { kind: 'link', clientId: JOURNAL_CLIENT.client_id, redirectUri: REDIRECT_URI, journalUserId: 'p1', outcome: { result: 'cancelled', reasons: [], evidence: [], replaced: false } })
    await createAuthorizationCode(t.db.pool, { kind: 'link', clientId: JOURNAL_CLIENT.client_id, redirectUri: REDIRECT_URI, journalUserId: 'p1', outcome: { result: 'cancelled', reasons: [], evidence: [], replaced: false } })
    await t.db.pool.query(`UPDATE authorization_codes SET expires_at = now() - interval '1 hour'`)
    await t.db.pool.query(
      `INSERT INTO link_intents (id, client_id, journal_user_id, redirect_uri, client_state, expires_at) VALUES
       ('old', 'c', 'p1', 'https://j/cb', 's', now() - interval '2 hours'), ('live', 'c', 'p1', 'https://j/cb', 's', now() + interval '5 minutes')`,
    )
    await t.db.pool.query(
      `INSERT INTO flow_states (kind, browser_hash, upstream_state, nonce, link_intent_id, expires_at) VALUES
       ('link', sha256('a'), 'st-old', 'n', 'live', now() - interval '1 second'), ('link', sha256('b'), 'st-live', 'n', 'live', now() + interval '5 minutes')`,
    )
    const removed = await t.app.housekeeping.runAll()
    expect(removed).toMatchObject({ link_intents: 1, flow_states: 1, authorization_codes: 2 })
    expect((await t.db.pool.query('SELECT id FROM link_intents')).rows).toEqual([{ id: 'live' }])
    expect((await t.db.pool.query('SELECT upstream_state FROM flow_states')).rows).toEqual([{ upstream_state: 'st-live' }])
    expect((await tokenRequest(t, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })).json()).toMatchObject({ error: 'invalid_grant' })
  })
})
