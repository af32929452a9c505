import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../../src/mock-idp/index.js'
import { CookieJar, loginAtMock, type TestMockEsia } from '../helpers/mock-esia.js'
import { authorizeUrl, mockWithClient, type EsiaTestClient } from './esia-client.js'

let mock: TestMockEsia
let rp: EsiaTestClient

beforeAll(async () => {
  ({ mock, rp } = await mockWithClient('https://rp.example/cb'))
})
afterAll(() => mock.close())

async function openPage(jar = new CookieJar()) {
  const response = await fetch(authorizeUrl(rp), { headers: { cookie: jar.header() } })
  jar.store(response)
  return { status: response.status, html: await response.text(), jar }
}

describe('the persona page, in the look of a Госуслуги login', () => {
  it('is Russian, names the requesting system and the data asked for, and lists every persona', async () => {
    const { status, html } = await openPage()
    expect(status).toBe(200)
    expect(html).toContain('<html lang="ru">')
    expect(html).toContain('<h1>Вход</h1>')
    expect(html).toContain('Система «Тестовая система» запрашивает доступ к вашим данным')
    for (const item of ['Фамилия, имя и отчество', 'Дата рождения', 'СНИЛС', 'ФИО детей']) expect(html).toContain(item)
    for (const p of loadPersonas()) {
      expect(html).toContain(`value="${p.id}"`)
      expect(html).toContain(p.label)
    }
    expect(html).toContain('Тестовый стенд — не настоящий портал')
  })

  it('works with the keyboard alone: native radios inside labels, grouped with legends, real buttons', async () => {
    const { html } = await openPage()
    expect(html).toMatch(/<fieldset class="g-group">\s*<legend>Подтверждённые учётные записи<\/legend>/)
    expect(html).toContain('<legend>Детские учётные записи</legend>')
    expect(html).toMatch(/<label class="g-persona">\s*<input type="radio" name="persona" value="parent-two-schools" required>/)
    expect(html).toContain('<button type="submit" name="action" value="login">Войти и предоставить доступ</button>')
    expect(html).toContain('formnovalidate>Отказать</button>')
    expect(html).not.toContain('<script')
  })

  it('asks again, in Russian, when «Войти» is pressed without a choice', async () => {
    const { html, jar } = await openPage()
    const tx = /name="tx" value="([^"]+)"/.exec(html)![1]!
    const response = await fetch(`${mock.url}/login`, { method: 'POST', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: `tx=${tx}&action=login` })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain('Выберите учётную запись, под которой войти.')
  })

  it('only the browser that opened the page can finish the login (cookie-bound), and only once', async () => {
    const { html, jar } = await openPage()
    const tx = /name="tx" value="([^"]+)"/.exec(html)![1]!
    const post = (cookie: string) => fetch(`${mock.url}/login`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `tx=${tx}&persona=parent-two-schools&action=login` })
    const stranger = await post('esia_browser=someone-elses-browser-id')
    expect(stranger.status).toBe(400)
    expect(await stranger.text()).toContain('Время ожидания истекло')
    expect((await post(jar.header())).status).toBe(302)
    expect((await post(jar.header())).status).toBe(400)
  })

  it('remembers the last persona of this browser and preselects it; logout forgets it', async () => {
    const jar = new CookieJar()
    await loginAtMock(authorizeUrl(rp), 'teacher-parent', { jar })
    expect((await openPage(jar)).html).toMatch(/value="teacher-parent" required checked/)
    const logout = await fetch(`${mock.url}/idp/ext/Logout?client_id=${rp.clientId}`, { headers: { cookie: jar.header() } })
    jar.store(logout)
    expect((await openPage(jar)).html).not.toContain('checked')
  })

  it('with single sign-on, a browser that logged in before goes straight back — until it logs out', async () => {
    const { mock: sso, rp: client } = await mockWithClient('https://rp.example/cb', { singleSignOn: true })
    try {
      const jar = new CookieJar()
      await loginAtMock(authorizeUrl(client), 'name-with-yo', { jar })
      const again = await fetch(authorizeUrl(client), { redirect: 'manual', headers: { cookie: jar.header() } })
      expect(again.status).toBe(302)
      expect(new URL(again.headers.get('location')!).searchParams.get('code')).toBeTruthy()
      jar.store(await fetch(`${sso.url}/idp/ext/Logout?client_id=${client.clientId}`, { headers: { cookie: jar.header() } }))
      expect((await fetch(authorizeUrl(client), { headers: { cookie: jar.header() } })).status).toBe(200)
    } finally {
      await sso.close()
    }
  })

  it('serves its own stylesheet', async () => {
    const css = await fetch(`${mock.url}/static/mock-esia.css`)
    expect(css.headers.get('content-type')).toContain('text/css')
    expect(await css.text()).toContain(':focus-visible')
  })
})
