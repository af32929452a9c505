import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../../src/db/pool.js'
import { RETRY_AFTER_S } from '../../src/http/unavailable.js'
import { ConsoleClient } from '../admin/console-client.js'
import { CSV_HEADER } from '../directory/fixtures.js'
import { Browser, textOf, type Page } from '../flows/browser.js'
import { startFlowWorld, type FlowWorld } from '../flows/helpers.js'
import { goToEsia, loginJourney, StockJournal } from '../flows/login-helpers.js'
import { BOOTSTRAP_TOKEN, journalBasicAuth } from '../helpers/app.js'
import { loginAtMock } from '../helpers/mock-esia.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { REDIRECT_URI } from '../oidc-provider/helpers.js'

type Answer = { statusCode: number; headers: Record<string, unknown>; body: string }

/**
 * PostgreSQL goes away in the middle of the day — a restart, a failover, a cut or black-holed
 * network — and comes back. The bridge reaches it through a TCP proxy that the test closes
 * (connections refused, open ones cut) or stalls (nothing passes), then opens again. Meanwhile every
 * kind of route says «temporarily unavailable» in its own language — a Russian page for people,
 * `temporarily_unavailable` for OAuth clients, `{"error":"unavailable"}` for the APIs — with
 * Retry-After and never a 500; nothing is half-written; and once the database is back everything
 * works again within seconds, even for the person who returned from Госуслуги during the outage.
 * «Войти через Госуслуги» needs no database until the callback (its flow state is in a sealed
 * cookie, docs/decisions/0016): authorize still sends the person on, and the callback says
 * «temporarily unavailable».
 */
describe('PostgreSQL unavailable mid-run', () => {
  let w: FlowWorld
  let proxy: TcpProxy
  let journal: StockJournal
  const basic = { authorization: journalBasicAuth() }
  const bootstrap = { authorization: `Bearer ${BOOTSTRAP_TOKEN}` }

  // What people and programs were in the middle of when the database went away.
  const before = {} as {
    intent: { intent_id: string; url: string }
    startBrowser: Browser
    confirmation: Page
    callbackBrowser: Browser
    callback: string
    loginBrowser: Browser
    loginCallback: string
    accessToken: string
    chooserBrowser: Browser
    chooser: string
    console: ConsoleClient
    supportToken: string
  }

  const rowCounts = async () => {
    const tables = ['links', 'audit_events', 'failed_attempts', 'link_intents', 'flow_states', 'authorization_codes', 'access_tokens', 'journal_users', 'pending_logins', 'consumed_login_states']
    const counts = await Promise.all(tables.map(async (t) => [t, (await w.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n] as const))
    return Object.fromEntries(counts)
  }

  beforeAll(async () => {
    w = await startFlowWorld({
      // Timeouts shorter than production's so that a black-holed network costs the test seconds.
      pool: async (db) => {
        proxy = await TcpProxy.start(db.url)
        return createPool(proxy.urlFor(db.url), 10, { connectMs: 1000, statementMs: 1500 })
      },
    })
    journal = new StockJournal(w)
    const newIntent = async (journalUserId: string) =>
      (await w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: basic, payload: { journal_user_id: journalUserId, redirect_uri: REDIRECT_URI, state: `state-${journalUserId}` } })).json<{ intent_id: string; url: string }>()

    // Ольга has the confirmation page open and is about to press «Перейти».
    before.intent = await newIntent('u2401')
    before.startBrowser = new Browser(w.app)
    before.confirmation = await before.startBrowser.get(before.intent.url)
    // Виктория has logged in at Госуслуги and is on her way back to the callback.
    const other = await newIntent('u1601')
    before.callbackBrowser = new Browser(w.app)
    const toEsia = await before.callbackBrowser.press(await before.callbackBrowser.get(other.url), 'Перейти')
    const back = await loginAtMock(toEsia.location!, 'no-patronymic')
    before.callback = `${back.pathname}${back.search}`
    // A journal holds an access token of a login; a parent stands at «Выберите организацию».
    const login = await loginJourney(w, journal, 'double-surname')
    before.accessToken = (await journal.receive(login.landed.location!, login.tx)).tokens.access_token
    // Екатерина is on her way back from Госуслуги to log in again.
    const returning = await goToEsia(w, journal, 'double-surname')
    before.loginBrowser = returning.browser
    before.loginCallback = returning.callback
    const chooser = await loginJourney(w, journal, 'parent-two-schools')
    before.chooserBrowser = chooser.browser
    before.chooser = chooser.landed.location!
    // Support works in the console and through the API.
    const account = (await w.app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: bootstrap, payload: { login: 'outage-admin', role: 'admin' } })).json()
    before.supportToken = (await w.app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: bootstrap, payload: { name: 'outage', account_id: account.account.id } })).json().token
    before.console = new ConsoleClient(w.app)
    expect((await before.console.login('outage-admin', account.password)).statusCode).toBe(303)
  })
  afterAll(async () => {
    await proxy?.open()
    await w?.close()
    await proxy?.close()
  })

  const page = (p: Page): Answer => ({ statusCode: p.status, headers: { location: p.location }, body: p.body })

  /** One request of every kind of route, as they keep arriving while the database is away. */
  async function everyKindOfRoute() {
    const authorize = await journal.start()
    const [linkPage, linkStart, callback, loginCallback, authorizePage, chooser, console_, linkIntents, directoryPut, directoryReport, adminBootstrap, adminToken, token, userinfo, ready, healthy] = await Promise.all([
      new Browser(w.app).get(before.intent.url).then(page),
      before.startBrowser.press(before.confirmation, 'Перейти').then(page),
      before.callbackBrowser.get(before.callback).then(page),
      before.loginBrowser.get(before.loginCallback).then(page),
      new Browser(w.app).get(`${authorize.url.pathname}${authorize.url.search}`).then(page),
      before.chooserBrowser.get(before.chooser).then(page),
      before.console.get('/admin'),
      w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: basic, payload: { journal_user_id: 'u1001', redirect_uri: REDIRECT_URI, state: 's' } }),
      w.app.inject({ method: 'PUT', url: '/api/v1/directory/users/outage-1', headers: basic, payload: { organization_id: 'school-12', role: 'student', last_name: 'Сбоев', first_name: 'Тимур' } }),
      w.app.inject({ method: 'GET', url: '/api/v1/directory/reports/completeness', headers: basic }),
      w.app.inject({ method: 'GET', url: '/api/v1/admin/users/u1001', headers: bootstrap }),
      w.app.inject({ method: 'GET', url: '/api/v1/admin/failed-attempts', headers: { authorization: `Bearer ${before.supportToken}` } }),
      w.app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=authorization_code&code=abc&redirect_uri=${encodeURIComponent(REDIRECT_URI)}` }),
      w.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: `Bearer ${before.accessToken}` } }),
      w.app.inject({ method: 'GET', url: '/readyz' }),
      w.app.inject({ method: 'GET', url: '/healthz' }),
    ])
    return {
      authorize,
      authorizePage,
      pages: { linkPage, linkStart, callback, loginCallback, chooser },
      console: console_,
      apis: { linkIntents, directoryPut, directoryReport, adminBootstrap, adminToken },
      oauth: { token, userinfo },
      ready,
      healthy,
    }
  }

  /** Each answer as the outage requires it of its kind of route. */
  function expectUnavailable(answers: Awaited<ReturnType<typeof everyKindOfRoute>>) {
    for (const [name, res] of Object.entries({ ...answers.pages, ...answers.apis, ...answers.oauth, console: answers.console })) {
      expect(res.statusCode, name).toBe(503)
    }
    for (const [name, res] of Object.entries({ ...answers.apis, ...answers.oauth, console: answers.console })) {
      expect(res.headers['retry-after'], name).toBe(String(RETRY_AFTER_S))
    }
    for (const [name, p] of Object.entries(answers.pages)) {
      const text = textOf(p.body)
      expect(text, name).toContain('Сервис временно не работает')
      expect(text, name).toContain('Подождите несколько минут и попробуйте ещё раз')
    }
    expect(textOf(answers.console.body)).toContain('Сервис временно не работает')
    for (const [name, res] of Object.entries(answers.apis)) expect(JSON.parse(res.body), name).toEqual({ error: 'unavailable', message: expect.any(String) })
    for (const [name, res] of Object.entries(answers.oauth)) {
      expect(JSON.parse(res.body), name).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) })
      expect(res.headers['cache-control'], name).toBe('no-store')
    }
    // Authorize writes nothing: the person goes on to Госуслуги, and the callback is where the outage shows.
    expect(answers.authorizePage.statusCode).toBe(303)
    expect(String(answers.authorizePage.headers.location).startsWith(w.mock.url)).toBe(true)
    expect(answers.ready.statusCode).toBe(503)
    expect(answers.ready.json()).toMatchObject({ status: 'not_ready', checks: { database: expect.stringMatching(/^unreachable/) } })
    expect(answers.healthy.statusCode).toBe(200)
  }

  it('closed, then stalled: every kind of route answers 503 in its language, and nothing is written', async () => {
    const rowsBefore = await rowCounts()

    await proxy.close()
    expectUnavailable(await everyKindOfRoute())

    // Open again but pass nothing: without the pool's timeouts these requests would hang.
    await proxy.open()
    proxy.stall()
    expectUnavailable(await everyKindOfRoute())

    expect(await rowCounts()).toEqual(rowsBefore)
    // A login callback that met the outage used nothing: its cookie stays in the browser.
    expect([...before.loginBrowser.cookies.keys()].some((k) => k.startsWith('bridge-login-'))).toBe(true)
    // People's pages and the logs say nothing of the cause beyond "unavailable".
    expect(w.logs.text()).toContain('answered 503')
    expect(w.logs.text()).not.toContain('"level":50')
  })

  it('the database is back: within seconds every route works, and the person who came back during the outage finishes', async () => {
    await proxy.open()
    const reopened = Date.now()
    let ready = 0
    while ((ready = (await w.app.inject({ url: '/readyz' })).statusCode) !== 200 && Date.now() - reopened < 15_000) await new Promise((r) => setTimeout(r, 100))
    expect(ready).toBe(200)

    // The callback that met the outage was not consumed: the same page, reloaded, links the card.
    const landed = await before.callbackBrowser.get(before.callback)
    expect(landed.status).toBe(303)
    const back = new URL(landed.location!)
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI)
    const redeemed = await w.app.inject({
      method: 'POST', url: '/oauth2/token', headers: { ...basic, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT_URI }).toString(),
    })
    expect(redeemed.statusCode).toBe(200)
    expect((await w.db.pool.query(`SELECT upstream_subject FROM links WHERE journal_user_id = 'u1601'`)).rowCount).toBe(1)

    // «Перейти» on the page opened before the outage goes on to Госуслуги.
    const started = await before.startBrowser.press(before.confirmation, 'Перейти')
    expect(started.status).toBe(303)
    expect(started.location!.startsWith(w.mock.url)).toBe(true)

    const authorize = await journal.start()
    const answers = await Promise.all([
      new Browser(w.app).get(`${authorize.url.pathname}${authorize.url.search}`).then((p) => p.status),
      before.chooserBrowser.get(before.chooser).then((p) => p.status),
      before.console.get('/admin').then((r) => r.statusCode),
      w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: basic, payload: { journal_user_id: 'u1001', redirect_uri: REDIRECT_URI, state: 's' } }).then((r) => r.statusCode),
      w.app.inject({ method: 'PUT', url: '/api/v1/directory/users/outage-1', headers: basic, payload: { organization_id: 'school-12', role: 'student', last_name: 'Сбоев', first_name: 'Тимур' } }).then((r) => r.statusCode),
      w.app.inject({ method: 'GET', url: '/api/v1/directory/reports/completeness', headers: basic }).then((r) => r.statusCode),
      w.app.inject({ method: 'GET', url: '/api/v1/admin/users/u1001', headers: bootstrap }).then((r) => r.statusCode),
      w.app.inject({ method: 'GET', url: '/api/v1/admin/failed-attempts', headers: { authorization: `Bearer ${before.supportToken}` } }).then((r) => r.statusCode),
      w.app.inject({ method: 'GET', url: '/oauth2/userinfo', headers: { authorization: `Bearer ${before.accessToken}` } }).then((r) => r.statusCode),
    ])
    expect(answers).toEqual([303, 200, 200, 201, 201, 200, 200, 200, 200])
  })

  it('a directory import cut in the middle of its transaction leaves no row of its file behind', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => `cut-${i}`)
    const lines = ids.map((id) => `Обрывов;Иван;;;;Ученик;school-12;${id}`)
    let resume: () => void = () => {}
    const gate = new Promise<void>((r) => (resume = r))
    async function* file() {
      yield Buffer.from(`${CSV_HEADER}\n${lines.slice(0, 1500).join('\n')}\n`)
      await gate
      yield Buffer.from(`${lines.slice(1500).join('\n')}\n`)
    }
    const importing = w.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { ...basic, 'content-type': 'text/csv; charset=utf-8' }, payload: Readable.from(file()) })
    // The first rows are in the import's transaction when the database goes away.
    const inTransaction = async () =>
      (await w.db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction' AND application_name = 'esia-bridge'`)).rowCount
    const waitStart = Date.now()
    while (!(await inTransaction()) && Date.now() - waitStart < 10_000) await new Promise((r) => setTimeout(r, 20))
    await proxy.close()
    resume()
    const res = await importing
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ error: 'unavailable' })
    await proxy.open()
    expect((await w.db.pool.query(`SELECT count(*)::int AS n FROM journal_users WHERE id LIKE 'cut-%'`)).rows[0].n).toBe(0)

    const again = await w.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { ...basic, 'content-type': 'text/csv; charset=utf-8' }, payload: `${CSV_HEADER}\n${lines.join('\n')}\n` })
    expect(again.json()).toMatchObject({ inserted: 3000, rejected: 0 })
  })
})
