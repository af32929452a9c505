import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loginAtMock } from '../helpers/mock-esia.js'
import { Browser, textOf } from './browser.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'
import { countRows, goToEsia, statementsDuring, StockJournal } from './login-helpers.js'

/**
 * A login's transaction travels in a sealed cookie named after its state, and the state sent to
 * Госуслуги says by itself that the bridge issued it and when (docs/decisions/0016). What the
 * person sees at the callback must stay what it was with a row per flow: one use only, the
 * other-browser page, the expired page, and nothing written for a refused callback.
 */
describe('the login flow state in a sealed cookie', () => {
  let w: FlowWorld
  let journal: StockJournal
  const EXPIRED = 'Страница устарела или ссылка уже была использована'
  const OTHER = 'Вход начат в другом браузере'
  const flowCookies = (browser: Browser) => [...browser.cookies.keys()].filter((k) => k.startsWith('bridge-login-'))
  const stateOf = (callback: string) => new URL(callback, w.url).searchParams.get('state')!

  beforeAll(async () => {
    w = await startFlowWorld()
    journal = new StockJournal(w)
    // A returning person for every test below: the first login links the card.
    const first = await goToEsia(w, journal, 'name-with-yo')
    const landed = await first.browser.get(first.callback)
    await journal.receive(landed.location!, first.tx)
  })
  afterAll(async () => w?.close())

  it('authorize writes no row and sets an HttpOnly, SameSite=Lax cookie for the callback path alone, which the callback clears', async () => {
    const flowRows = async () => (await w.db.pool.query('SELECT count(*)::int AS n FROM flow_states')).rows[0].n
    const rowsBefore = await flowRows()
    const { url, tx } = await journal.start()
    const browser = new Browser(w.app)
    const toEsia = await browser.get(`${url.pathname}${url.search}`)
    expect(toEsia.status).toBe(303)
    expect(await flowRows()).toBe(rowsBefore)
    const state = new URL(toEsia.location!).searchParams.get('state')!
    // ЕСИА wants a v4 UUID.
    expect(state).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const line = browser.lastSetCookie.find((l) => l.startsWith(`bridge-login-${state.replaceAll('-', '')}=`))!
    expect(line).toBeDefined()
    expect(line).toMatch(/; HttpOnly/i)
    expect(line).toMatch(/; Path=\/auth\/callback(;|$)/)
    expect(line).toMatch(/; SameSite=Lax/i)
    expect(line).toMatch(/; Max-Age=600/)
    // Sealed: nothing of the journal's request is readable in it.
    expect(line).not.toContain(tx.nonce)
    expect(line).not.toContain('redirect')

    const back = await loginAtMock(toEsia.location!, 'name-with-yo')
    const landed = await browser.get(`${back.pathname}${back.search}`)
    expect(landed.status).toBe(303)
    expect(browser.lastSetCookie.find((l) => l.startsWith(`bridge-login-${state.replaceAll('-', '')}=;`))).toMatch(/Max-Age=0/i)
    expect(flowCookies(browser)).toEqual([])
    expect((await journal.receive(landed.location!, tx)).claims.sub).toBe('u1401')
  })

  it('a returning person’s callback is two statements; the same callback replayed with its cookie gets the expired page and nothing', async () => {
    const { browser, callback, tx } = await goToEsia(w, journal, 'name-with-yo')
    const saved = new Map(browser.cookies)
    const { result: landed, statements } = await statementsDuring(w, () => browser.get(callback))
    expect(landed.status).toBe(303)
    // The state recorded as used (before ЕСИА's code is redeemed); then cards, code, last login and audit.
    expect(statements).toBe(2)
    const before = await countRows(w)

    // Someone who copied the cookie before it was cleared replays the whole callback.
    for (const [k, v] of saved) browser.cookies.set(k, v)
    const replay = await browser.get(callback)
    expect(replay.status).toBe(400)
    expect(textOf(replay.body)).toContain(EXPIRED)
    expect(replay.location).toBeUndefined()
    expect(await countRows(w)).toEqual(before)
    expect((await journal.receive(landed.location!, tx)).claims.sub).toBe('u1401')
  })

  it('a state carried to another browser, with or without that browser’s own cookies, gets the other-browser page', async () => {
    const { browser, callback } = await goToEsia(w, journal, 'name-with-yo')
    const before = await countRows(w)
    const stranger = new Browser(w.app)
    const page = await stranger.get(callback)
    expect(page.status).toBe(400)
    expect(textOf(page.body)).toContain(OTHER)
    // Even holding the flow's cookie, a browser with another browser id is not the one that started it.
    const thief = new Browser(w.app)
    for (const k of flowCookies(browser)) thief.cookies.set(k, browser.cookies.get(k)!)
    thief.cookies.set('bridge-browser', 'A'.repeat(43))
    const stolen = await thief.get(callback)
    expect(stolen.status).toBe(400)
    expect(textOf(stolen.body)).toContain(OTHER)
    expect(await countRows(w)).toEqual(before)
    // The browser that started it still finishes.
    expect((await browser.get(callback)).status).toBe(303)
  })

  it('a forged state or a tampered cookie is unknown: the expired page, nothing written', async () => {
    const { browser, callback } = await goToEsia(w, journal, 'name-with-yo')
    const before = await countRows(w)
    const state = stateOf(callback)
    // One digit of the state changed: still a v4 UUID, but not one we issued.
    const last = state.at(-1) === '0' ? '1' : '0'
    const forged = new URL(callback, w.url)
    forged.searchParams.set('state', `${state.slice(0, -1)}${last}`)
    const page = await browser.get(`${forged.pathname}${forged.search}`)
    expect(page.status).toBe(400)
    expect(textOf(page.body)).toContain(EXPIRED)

    // The right state with its cookie altered.
    const tampered = new Browser(w.app)
    for (const [k, v] of browser.cookies) tampered.cookies.set(k, v)
    const name = flowCookies(browser)[0]!
    const value = browser.cookies.get(name)!
    tampered.cookies.set(name, `${value.slice(0, 40)}${value[40] === 'A' ? 'B' : 'A'}${value.slice(41)}`)
    const refused = await tampered.get(callback)
    expect(refused.status).toBe(400)
    expect(textOf(refused.body)).toContain(EXPIRED)
    expect(await countRows(w)).toEqual(before)
  })

  it('a state past its ten minutes gets the expired page, whichever browser brings it', async () => {
    const { browser, callback } = await goToEsia(w, journal, 'name-with-yo')
    const before = await countRows(w)
    const now = Date.now()
    const later = vi.spyOn(Date, 'now').mockReturnValue(now + 601_000)
    try {
      for (const b of [browser, new Browser(w.app)]) {
        const page = await b.get(callback)
        expect(page.status).toBe(400)
        expect(textOf(page.body)).toContain(EXPIRED)
      }
    } finally {
      later.mockRestore()
    }
    expect(await countRows(w)).toEqual(before)
  })

  it('cookies of logins given up are cleared by the next callback, so they never pile up past a proxy’s header limit', async () => {
    const browser = new Browser(w.app)
    // Three logins started eleven minutes ago and never finished, and a cookie that is not ours.
    const earlier = vi.spyOn(Date, 'now').mockReturnValue(Date.now() - 660_000)
    try {
      for (let i = 0; i < 3; i++) await goToEsia(w, journal, 'name-with-yo', { browser })
    } finally {
      earlier.mockRestore()
    }
    browser.cookies.set('bridge-login-0123456789abcdef0123456789abcdef', 'not-ours')
    const open = await goToEsia(w, journal, 'name-with-yo', { browser })
    expect(flowCookies(browser)).toHaveLength(5)
    const now = await goToEsia(w, journal, 'name-with-yo', { browser })
    const landed = await browser.get(now.callback)
    expect((await journal.receive(landed.location!, now.tx)).claims.sub).toBe('u1401')
    // The other login still under way keeps its cookie.
    expect(flowCookies(browser)).toEqual([`bridge-login-${stateOf(open.callback).replaceAll('-', '')}`])
  })

  it('two tabs of one browser log in at once, each with its own cookie, in either order', async () => {
    const browser = new Browser(w.app)
    const first = await goToEsia(w, journal, 'name-with-yo', { browser })
    const second = await goToEsia(w, journal, 'name-with-yo', { browser })
    expect(flowCookies(browser)).toHaveLength(2)
    const landedSecond = await browser.get(second.callback)
    const landedFirst = await browser.get(first.callback)
    expect((await journal.receive(landedSecond.location!, second.tx)).claims.sub).toBe('u1401')
    expect((await journal.receive(landedFirst.location!, first.tx)).claims.sub).toBe('u1401')
    expect(flowCookies(browser)).toEqual([])
  })

  it('a journal request with state and nonce at their 512-character limits keeps its transaction in a row instead of a long cookie, and logs in', async () => {
    const { url, tx } = await journal.start({ state: 's'.repeat(512), nonce: 'n'.repeat(512) })
    const long = { ...tx, state: 's'.repeat(512), nonce: 'n'.repeat(512) }
    const browser = new Browser(w.app)
    const toEsia = await browser.get(`${url.pathname}${url.search}`)
    expect(toEsia.status).toBe(303)
    // No cookie of ≈ 1.9 KB that a dozen unfinished logins would push past a proxy's header limit.
    expect(flowCookies(browser)).toEqual([])
    const state = new URL(toEsia.location!).searchParams.get('state')!
    expect((await w.db.pool.query('SELECT count(*)::int AS n FROM flow_states WHERE upstream_state = $1', [state])).rows[0].n).toBe(1)
    const back = await loginAtMock(toEsia.location!, 'name-with-yo')
    const landed = await browser.get(`${back.pathname}${back.search}`)
    expect((await journal.receive(landed.location!, long)).claims.sub).toBe('u1401')
  })

  it('used states are purged with the other login rows once past their time', async () => {
    const { browser, callback } = await goToEsia(w, journal, 'name-with-yo')
    await browser.get(callback)
    const state = stateOf(callback)
    expect((await w.db.pool.query('SELECT count(*)::int AS n FROM consumed_login_states WHERE state = $1', [state])).rows[0].n).toBe(1)
    // Kept ten minutes past its state's expiry: the bridge's and the database's clocks may differ a little.
    await w.db.pool.query(`UPDATE consumed_login_states SET expires_at = now() - interval '5 minutes' WHERE state = $1`, [state])
    expect((await w.app.housekeeping.runAll()).consumed_login_states ?? 0).toBe(0)
    await w.db.pool.query(`UPDATE consumed_login_states SET expires_at = now() - interval '11 minutes' WHERE state = $1`, [state])
    const removed = await w.app.housekeeping.runAll()
    expect(removed.consumed_login_states).toBeGreaterThanOrEqual(1)
    expect((await w.db.pool.query('SELECT count(*)::int AS n FROM consumed_login_states WHERE state = $1', [state])).rows[0].n).toBe(0)
  })
})
