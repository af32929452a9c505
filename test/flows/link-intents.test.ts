import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { JOURNAL_CLIENT, journalBasicAuth } from '../helpers/app.js'
import { buildListeningApp, REDIRECT_URI, seedCard, tokenRequest } from '../oidc-provider/helpers.js'
import { Browser, textOf } from './browser.js'

type T = Awaited<ReturnType<typeof buildListeningApp>>

/**
 * The journal asks for a link intent and sends the parent's browser to it; the parent reads the
 * confirmation page of the docs/sources.md: Губкинский slides and either goes on to Госуслуги or cancels. No upstream is
 * configured here: these are the parts that happen before and instead of the trip to Госуслуги.
 */
describe('link intents and the confirmation page', () => {
  let t: T
  const askIntent = (body: Record<string, string>, authorization = journalBasicAuth()) =>
    t.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: { authorization }, payload: body })
  const newIntent = async (journalUserId = 'parent-1', state = 'journal-session-state') => {
    const res = await askIntent({ journal_user_id: journalUserId, redirect_uri: REDIRECT_URI, state })
    expect(res.statusCode).toBe(201)
    return res.json<{ intent_id: string; url: string; expires_at: string }>()
  }
  const count = async (table: string) => (await t.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n

  beforeAll(async () => {
    t = await buildListeningApp()
    await seedCard(t.db.pool, { id: 'parent-1', organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна' })
    await seedCard(t.db.pool, { id: 'parent-2', organization_id: 'school-1', role: 'parent', last_name: 'Петров', first_name: 'Олег' })
  })
  afterAll(async () => t.close())

  it('gives the journal a single-use URL for ten minutes', async () => {
    const intent = await newIntent()
    expect(intent.url).toBe(`${t.url}/link/${intent.intent_id}`)
    const minutes = (Date.parse(intent.expires_at) - Date.now()) / 60_000
    expect(minutes).toBeGreaterThan(9)
    expect(minutes).toBeLessThanOrEqual(10)
  })

  it('refuses an unknown journal user (404), an unregistered redirect_uri (400) and a wrong secret (401), writing nothing', async () => {
    const before = await count('link_intents')
    const unknown = await askIntent({ journal_user_id: 'nobody', redirect_uri: REDIRECT_URI, state: 's' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ error: 'journal_user_not_found' })
    const redirect = await askIntent({ journal_user_id: 'parent-1', redirect_uri: 'https://journal.example/settings/gosuslugi/done/../../evil', state: 's' })
    expect(redirect.statusCode).toBe(400)
    expect(redirect.json()).toMatchObject({ error: 'invalid_redirect_uri' })
    const secret = await askIntent({ journal_user_id: 'parent-1', redirect_uri: REDIRECT_URI, state: 's' }, journalBasicAuth({ client_id: JOURNAL_CLIENT.client_id, client_secret: 'wrong' }))
    expect(secret.statusCode).toBe(401)
    expect(await count('link_intents')).toBe(before)
  })

  it('shows the journal link-page texts, the journal name and both buttons to a parent without a link', async () => {
    const parent = new Browser(t.app)
    const page = await parent.get((await newIntent()).url)
    expect(page.status).toBe(200)
    const text = textOf(page.body)
    expect(text).toContain('Привязка пользователя к порталу гос. услуг')
    expect(text).toContain('Сейчас вы будете перенаправлены на портал гос. услуг, для привязки вашего профиля к учётной записи портала гос. услуг.')
    expect(text).toContain('Тестовый журнал')
    expect(text).not.toContain('существующая связь будет удалена')
    expect(page.body).toMatch(/<button type="submit">Перейти<\/button>/)
    expect(page.body).toMatch(/<button type="submit" class="secondary">Отменить<\/button>/)
    expect(page.body).toContain('<html lang="ru">')
    expect(page.body).not.toContain('<script')
    expect(text).not.toContain('Иванова') // nothing about the card beyond whether a link exists
  })

  it('warns that the existing link will be removed when the card is linked already', async () => {
    await withTransaction(t.db.pool, (tx) =>
      saveLink(tx, { journalUserId: 'parent-2', upstreamSubject: '1000777', method: 'link', evidence: ['last_name'], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000777' } }),
    )
    const parent = new Browser(t.app)
    const text = textOf((await parent.get((await newIntent('parent-2')).url)).body)
    expect(text).toContain(
      'С вашей учётной записью уже связан пользователь портала гос. услуг. Если вы хотите привязать вашу учётную запись к другому пользователю портала гос. услуг, то существующая связь будет удалена.',
    )
    expect(text).not.toContain('1000777')
  })

  it('«Отменить» sends the parent back to the journal with a code whose link token says cancelled; nothing else is written', async () => {
    const links = await count('links')
    const audit = await count('audit_events')
    const parent = new Browser(t.app)
    const intent = await newIntent('parent-1', 'state-for-cancel')
    const back = await parent.press(await parent.get(intent.url), 'Отменить')
    expect(back.status).toBe(303)
    const location = new URL(back.location!)
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
    expect(location.searchParams.get('state')).toBe('state-for-cancel')
    expect(location.searchParams.get('iss')).toBe(t.url)

    const token = await tokenRequest(t, { grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: REDIRECT_URI })
    const { payload } = await jwtVerify(token.json<{ link_token: string }>().link_token, createRemoteJWKSet(new URL(`${t.url}/oauth2/jwks`)), {
      issuer: t.url,
      audience: JOURNAL_CLIENT.client_id,
      typ: 'link+jwt',
    })
    expect(payload).toMatchObject({ sub: 'parent-1', result: 'cancelled', reasons: [], evidence: [], replaced: false })
    expect(await count('links')).toBe(links)
    expect(await count('audit_events')).toBe(audit)

    const again = await parent.get(intent.url)
    expect(again.status).toBe(410)
    expect(textOf(again.body)).toContain('ссылка уже была использована')
  })

  it('sends no code to a redirect URI the journal has meanwhile unregistered', async () => {
    const parent = new Browser(t.app)
    const intent = await newIntent('parent-1', 'state-before-unregistering')
    const page = await parent.get(intent.url)
    // The operator removes the address from CLIENTS_FILE (a compromised domain, say) and reloads.
    const uris = t.app.clients.get(JOURNAL_CLIENT.client_id)!.redirectUris as Set<string>
    uris.delete(REDIRECT_URI)
    try {
      const back = await parent.press(page, 'Отменить')
      expect(back.status).toBe(410)
      expect(back.location).toBeUndefined()
    } finally {
      uris.add(REDIRECT_URI)
    }
  })

  it('binds the intent to the first browser: another browser gets a clear page and cannot start or cancel', async () => {
    const intent = await newIntent()
    const parent = new Browser(t.app)
    const confirmation = await parent.get(intent.url)
    const stranger = new Browser(t.app)
    const page = await stranger.get(intent.url)
    expect(page.status).toBe(403)
    expect(textOf(page.body)).toContain('Откройте ссылку в том же браузере')
    expect(page.body).toContain('href="https://journal.example/"')

    // A stranger replaying the parent's form (token and all) without the parent's cookies gets nowhere.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(confirmation.body)![1]!
    const replay = await stranger.post(`/link/${intent.intent_id}/cancel`, { _csrf: csrf })
    expect(replay.status).toBe(403)
    expect(textOf(replay.body)).toContain('Страница устарела')
    expect((await t.db.pool.query('SELECT consumed_at FROM link_intents WHERE id = $1', [intent.intent_id])).rows[0].consumed_at).toBeNull()
  })

  it('refuses a form posted without its CSRF token, changing nothing', async () => {
    const intent = await newIntent()
    const parent = new Browser(t.app)
    await parent.get(intent.url)
    const forged = await parent.post(`/link/${intent.intent_id}/cancel`, {})
    expect(forged.status).toBe(403)
    expect(textOf(forged.body)).toContain('Страница устарела')
    expect((await parent.get(intent.url)).status).toBe(200)
  })

  it('explains an expired intent and an unknown one, with a way back to the journal when known', async () => {
    const intent = await newIntent()
    await t.db.pool.query(`UPDATE link_intents SET expires_at = now() - interval '1 second' WHERE id = $1`, [intent.intent_id])
    const parent = new Browser(t.app)
    const expired = await parent.get(intent.url)
    expect(expired.status).toBe(410)
    expect(textOf(expired.body)).toContain('Что-то пошло не так')
    expect(expired.body).toContain('Вернуться в журнал')
    const unknown = await parent.get(`/link/${'x'.repeat(43)}`)
    expect(unknown.status).toBe(404)
    expect(textOf(unknown.body)).toContain('Страница устарела или ссылка уже была использована')
    const malformed = await parent.get('/link/not-an-intent')
    expect(malformed.status).toBe(400)
  })

  it('«Перейти» with no upstream configured explains that Госуслуги do not answer, and the intent stays usable', async () => {
    const parent = new Browser(t.app)
    const intent = await newIntent()
    const page = await parent.press(await parent.get(intent.url), 'Перейти')
    expect(page.status).toBe(503)
    expect(textOf(page.body)).toContain('Госуслуги сейчас не отвечают')
    expect((await parent.get(intent.url)).status).toBe(200)
    expect(await count('flow_states')).toBe(0)
  })

  it('tells the journal the link state of its users', async () => {
    const get = (id: string) => t.app.inject({ method: 'GET', url: `/api/v1/links/${id}`, headers: { authorization: journalBasicAuth() } })
    expect((await get('parent-1')).json()).toEqual({ journal_user_id: 'parent-1', linked: false })
    const linked = (await get('parent-2')).json()
    expect(linked).toMatchObject({ journal_user_id: 'parent-2', linked: true, method: 'link', evidence: ['last_name'], trusted: true })
    expect(JSON.stringify(linked)).not.toContain('1000777')
    expect((await get('nobody')).statusCode).toBe(404)
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/links/parent-1' })).statusCode).toBe(401)
  })
})
