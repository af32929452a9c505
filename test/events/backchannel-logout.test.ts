import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { JOURNAL_CLIENT } from '../helpers/app.js'
import { BOOTSTRAP } from '../admin/fixtures.js'
import { Browser, textOf } from '../flows/browser.js'
import { startFlowWorld, type FlowWorld } from '../flows/helpers.js'
import { loginJourney, POST_LOGOUT_REDIRECT, StockJournal } from '../flows/login-helpers.js'
import { outboxSettled, startReceiver, type Receiver } from './receiver.js'

/**
 * OpenID Connect Back-Channel Logout 1.0: the ID token names the login's session (`sid`); when the
 * person logs out at the bridge, or support unlinks the card, the journal's backchannel_logout_uri
 * receives a logout token for that session — checked here as a journal checks it with jose.
 */
const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout'

describe('back-channel logout to the journal', () => {
  let w: FlowWorld
  let journal: StockJournal
  let receiver: Receiver

  /** What the journal's endpoint does with a logout token (Back-Channel Logout 1.0 §2.6). */
  async function verifyLogoutToken(token: string) {
    const { payload, protectedHeader } = await jwtVerify<JWTPayload & { sid?: string; events?: Record<string, unknown> }>(token, createRemoteJWKSet(new URL(`${w.url}/oauth2/jwks`)), {
      issuer: w.url,
      audience: JOURNAL_CLIENT.client_id,
      typ: 'logout+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['iat', 'exp', 'jti', 'sub', 'sid', 'events'],
      maxTokenAge: '2 minutes',
    })
    expect(protectedHeader.typ).toBe('logout+jwt')
    expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT]: {} })
    expect(payload).not.toHaveProperty('nonce')
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120)
    return payload
  }

  async function logoutTokens(count: number) {
    const received = await receiver.waitFor('/logout', count)
    for (const r of received) expect(r.contentType).toBe('application/x-www-form-urlencoded')
    return Promise.all(received.map((r) => verifyLogoutToken(new URLSearchParams(r.body).get('logout_token')!)))
  }

  async function logIn(persona = 'name-with-yo', browser?: Browser) {
    const { landed, tx, browser: used } = await loginJourney(w, journal, persona, browser ? { browser } : {})
    const { claims, tokens } = await journal.receive(landed.location!, tx)
    return { claims, idToken: tokens.id_token!, browser: used }
  }

  beforeAll(async () => {
    receiver = await startReceiver()
    w = await startFlowWorld({
      clients: [{ ...JOURNAL_CLIENT, events_endpoint: `${receiver.url}/events`, backchannel_logout_uri: `${receiver.url}/logout`, backchannel_logout_session_required: true }],
    })
    journal = new StockJournal(w)
  })
  afterAll(async () => {
    await w?.close()
    await receiver?.close()
  })
  beforeEach(async () => {
    await outboxSettled(w.app)
    receiver.clear()
  })

  it('discovery says so, the ID token carries sid, userinfo does not, and the session is remembered with its browser', async () => {
    const discovery = (await (await fetch(`${w.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
    expect(discovery).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true })
    expect(discovery.claims_supported).toContain('sid')

    const { claims } = await logIn()
    expect(claims.sub).toBe('u1401')
    expect(claims.sid).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}$/)
    const { rows } = await w.db.pool.query(`SELECT client_id, journal_user_id, length(browser_hash) AS browser FROM login_sessions WHERE sid = $1`, [claims.sid])
    expect(rows).toEqual([{ client_id: JOURNAL_CLIENT.client_id, journal_user_id: 'u1401', browser: 32 }])
    const { rows: stored } = await w.db.pool.query(`SELECT claims FROM access_tokens WHERE journal_user_id = 'u1401'`)
    expect(stored.every((r) => !('sid' in r.claims))).toBe(true)
  })

  it('support unlinks the card: a logout token for the session, with sub and sid, and the link-removed event', async () => {
    const { claims } = await logIn()
    const res = await w.app.inject({ method: 'POST', url: '/api/v1/admin/users/u1401/unlink', headers: BOOTSTRAP, payload: { reason: 'Привязан чужой аккаунт' } })
    expect(res.statusCode).toBe(200)
    const tokens = await logoutTokens(2)
    expect(tokens.map((t) => t.sub)).toEqual(['u1401', 'u1401'])
    expect(tokens.map((t) => t.sid)).toContain(claims.sid)
    expect(new Set(tokens.map((t) => t.jti)).size).toBe(2)
    expect((await w.db.pool.query(`SELECT 1 FROM login_sessions WHERE journal_user_id = 'u1401'`)).rows).toHaveLength(0)
    expect(receiver.to('/events')).toHaveLength(1)
  })

  it('the person logs out at the bridge: the session named by id_token_hint ends, and this browser’s other sessions with it', async () => {
    // Linked again by strong evidence at this login.
    const first = await logIn()
    const second = await logIn('name-with-yo', first.browser)
    const elsewhere = await logIn()
    const page = await first.browser.get(`/oauth2/logout?${new URLSearchParams({ id_token_hint: second.idToken, post_logout_redirect_uri: POST_LOGOUT_REDIRECT })}`)
    expect(page.status).toBe(303)
    const tokens = await logoutTokens(2)
    expect(tokens.map((t) => t.sid).sort()).toEqual([first.claims.sid, second.claims.sid].sort())
    // Another computer's session is not this logout's business.
    const { rows } = await w.db.pool.query(`SELECT sid FROM login_sessions`)
    expect(rows).toEqual([{ sid: elsewhere.claims.sid }])
  })

  it('someone else’s ID token, used in another browser, ends nothing of theirs even after «Выйти»', async () => {
    await outboxSettled(w.app)
    const victim = await logIn()
    const other = new Browser(w.app)
    const asked = await other.get(`/oauth2/logout?${new URLSearchParams({ id_token_hint: victim.idToken, post_logout_redirect_uri: POST_LOGOUT_REDIRECT })}`)
    expect(textOf(asked.body)).toContain('Выйти из журнала?')
    expect((await other.press(asked, 'Выйти')).status).toBe(303)
    const { rows } = await w.db.pool.query(`SELECT 1 FROM login_sessions WHERE sid = $1`, [victim.claims.sid])
    expect(rows).toHaveLength(1)
  })

  it('a logout without a hint ends the sessions this browser opened, once the person says «Выйти»; a fresh browser’s logout ends none', async () => {
    await outboxSettled(w.app)
    const { rows: before } = await w.db.pool.query(`SELECT sid FROM login_sessions`)
    const stranger = new Browser(w.app)
    expect((await stranger.press(await stranger.get('/oauth2/logout'), 'Выйти')).status).toBe(303)
    const { rows: after } = await w.db.pool.query(`SELECT sid FROM login_sessions`)
    expect(after).toEqual(before)
    const again = await logIn()
    await again.browser.press(await again.browser.get('/oauth2/logout'), 'Выйти')
    const tokens = await logoutTokens(1)
    expect(tokens[0]!.sid).toBe(again.claims.sid)
  })

  it('a page elsewhere that sends the browser to /oauth2/logout without a hint ends nothing: the person is asked', async () => {
    const { browser, claims } = await logIn()
    const sessions = async () => (await w.db.pool.query(`SELECT sid FROM login_sessions WHERE sid = $1`, [claims.sid])).rows.length
    // A link or an image elsewhere (GET), a form posted from elsewhere without our CSRF token, or with a made-up one.
    const asked = await browser.get(`/oauth2/logout?${new URLSearchParams({ post_logout_redirect_uri: POST_LOGOUT_REDIRECT, client_id: JOURNAL_CLIENT.client_id })}`)
    expect(asked.status).toBe(200)
    expect(textOf(asked.body)).toContain('Выйти из журнала? Вы выйдете из всех электронных журналов, в которые входили через Госуслуги в этом браузере')
    expect((await browser.post('/oauth2/logout', { client_id: JOURNAL_CLIENT.client_id })).status).toBe(200)
    expect((await browser.post('/oauth2/logout', { _csrf: 'made-up', client_id: JOURNAL_CLIENT.client_id })).status).toBe(403)
    expect(await sessions()).toBe(1)
    expect((await w.db.pool.query(`SELECT 1 FROM event_outbox WHERE kind = 'logout' AND status = 'pending'`)).rows).toHaveLength(0)
    // The person answers: the journal's parameters come along.
    const toEsia = await browser.press(asked, 'Выйти')
    expect(toEsia.location!.startsWith(w.mock.url)).toBe(true)
    expect((await browser.get('/oauth2/logout/done')).location).toBe(POST_LOGOUT_REDIRECT)
    expect((await logoutTokens(1))[0]!.sid).toBe(claims.sid)
    expect(await sessions()).toBe(0)
  })

  it('a link replaced by another Госуслуги account ends the card’s sessions', async () => {
    const { claims } = await logIn()
    await withTransaction(w.db.pool, (tx) =>
      saveLink(tx, { journalUserId: 'u1401', upstreamSubject: 'another-person', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: 'another-person' } }),
    )
    await outboxSettled(w.app)
    const tokens = await logoutTokens(receiver.to('/logout').length)
    expect(tokens.map((t) => t.sid)).toContain(claims.sid)
    expect((await w.db.pool.query(`SELECT 1 FROM login_sessions WHERE journal_user_id = 'u1401'`)).rows).toHaveLength(0)
  })

  it('a logout token is never taken for an id_token_hint', async () => {
    const { browser, idToken } = await logIn('double-surname')
    await browser.press(await browser.get('/oauth2/logout'), 'Выйти')
    const [token] = (await receiver.waitFor('/logout', 1)).map((r) => new URLSearchParams(r.body).get('logout_token')!)
    const hinted = (hint: string) => browser.get(`/oauth2/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: POST_LOGOUT_REDIRECT })}`)
    // An ID token of ours from a login in this browser vouches for the logout and the way back to
    // the journal; a logout token, signed by the same key, does not: the person is asked.
    const byIdToken = await hinted(idToken)
    expect(byIdToken.location!.startsWith(w.mock.url)).toBe(true)
    const byLogoutToken = await hinted(token!)
    expect(byLogoutToken.status).toBe(200)
    expect(textOf(byLogoutToken.body)).toContain('Выйти из журнала?')
  })
})
