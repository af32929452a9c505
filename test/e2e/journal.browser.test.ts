import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, screenshot, type ChromiumSession } from '../helpers/browser.js'
import { startJournalWorld, SUPPORT_PASSWORD, type JournalWorld } from './journal-world.js'

/**
 * The product as people meet it, in headless Chromium: «Демо-журнал» (a journal integrated only
 * through the public contract), the bridge, the mock Госуслуги and the support console — what
 * `npm start` runs. A parent links her account from «Персональные настройки», logs in through
 * Госуслуги and picks the school; people whose data does not fit see what to do; a school
 * administrator unlinks, and the next login follows the auto-link policy.
 * Screenshots: test-results/screens/journal-*.png, and docs/screens/ with UPDATE_SCREENSHOTS=1.
 */
describe.skipIf(!chromiumAvailable('end-to-end journal tests'))('the demo journal, the bridge and Госуслуги in a browser', () => {
  let w: JournalWorld
  let chromium: ChromiumSession
  let page: Page

  const text = async () => (await page.locator('main').innerText()).replace(/\s+/g, ' ')
  const linkOf = async (journalUserId: string) =>
    (await w.db.pool.query<{ upstream_subject: string; method: string }>('SELECT upstream_subject, method FROM links WHERE journal_user_id = $1', [journalUserId])).rows[0]

  /** At the mock Госуслуги: pick the person and allow access (or refuse). */
  async function atGosuslugi(personLabel: string, shot?: string) {
    await page.getByRole('heading', { name: 'Вход' }).waitFor()
    await page.getByText(personLabel, { exact: true }).click()
    if (shot) await screenshot(page, shot)
    await page.getByRole('button', { name: 'Войти и предоставить доступ' }).click()
  }

  async function journalLogin(login: string) {
    await page.goto(`${w.journal.url}/login`)
    await page.getByLabel('Логин').fill(login)
    await page.getByLabel('Пароль').fill(w.journal.password)
    await page.getByRole('button', { name: 'Войти', exact: true }).click()
    await page.waitForURL(`${w.journal.url}/`)
  }

  async function journalLogout() {
    await page.getByRole('button', { name: 'Выйти' }).click()
  }

  /** «Персональные настройки» → «Привязать…» → the bridge's confirmation → «Перейти» → Госуслуги as `personLabel`. */
  async function linkFromSettings(personLabel: string, shots?: { settings: string; confirm: string; gosuslugi: string }) {
    await page.goto(`${w.journal.url}/settings`)
    if (shots) await screenshot(page, shots.settings)
    await page.getByRole('button', { name: 'Привязать пользователя портала гос. услуг' }).click()
    await page.getByRole('heading', { name: 'Привязка пользователя к порталу гос. услуг' }).waitFor()
    if (shots) await screenshot(page, shots.confirm)
    await page.getByRole('button', { name: 'Перейти', exact: true }).click()
    await atGosuslugi(personLabel, shots?.gosuslugi)
  }

  beforeAll(async () => {
    w = await startJournalWorld({ env: { AUTO_LINK_ON_LOGIN: 'true' } })
    chromium = await launchChromium({ viewport: { width: 1100, height: 800 } })
    page = chromium.page
  })
  afterAll(async () => {
    await chromium?.close()
    await w?.close()
  })

  it('a parent links her journal account from «Персональные настройки»', async () => {
    await page.goto(w.journal.url)
    await page.waitForURL(`${w.journal.url}/login`)
    await screenshot(page, 'journal-01-login')
    await journalLogin('u1001')
    expect(await text()).toContain('Смирнова Ольга Викторовна')

    await linkFromSettings('Смирнова Ольга Викторовна', { settings: 'journal-02-settings', confirm: 'journal-03-link-confirmation', gosuslugi: 'journal-04-gosuslugi' })
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    expect(await text()).toContain('Пользователь портала гос. услуг привязан')
    await screenshot(page, 'journal-05-linked')
    expect(await linkOf('u1001')).toMatchObject({ method: 'link' })
  })

  it('with a link already there, the confirmation page warns that the old one will be removed', async () => {
    await page.goto(`${w.journal.url}/settings`)
    await page.getByRole('button', { name: 'Привязать другую учётную запись Госуслуг' }).click()
    await page.getByRole('heading', { name: 'Привязка пользователя к порталу гос. услуг' }).waitFor()
    expect(await text()).toContain('существующая связь будет удалена')
    await screenshot(page, 'journal-06-link-replace-warning')
    await page.getByRole('button', { name: 'Отменить' }).click()
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    expect(await text()).toContain('Привязка отменена')
    await journalLogout()
  })

  it('her account in the second school is linked too; then «Войти через Госуслуги» asks «Выберите организацию» and remembers the choice', async () => {
    await journalLogin('u1002')
    await linkFromSettings('Смирнова Ольга Викторовна')
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    await journalLogout()

    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi('Смирнова Ольга Викторовна')
    await page.getByRole('heading', { name: 'Выберите организацию' }).waitFor()
    const main = await text()
    expect(main).toContain('Средняя')
    expect(main).toContain('Гимназия')
    await screenshot(page, 'journal-07-chooser')
    const second = page.getByRole('listitem').nth(1).getByRole('button')
    const chosen = await second.getAttribute('value')
    await second.click()
    await page.waitForURL(`${w.journal.url}/`)
    expect(await text()).toContain('Здравствуйте, Ольга Викторовна!')
    await screenshot(page, 'journal-08-logged-in')

    // The next time, the same school is marked.
    await journalLogout()
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi('Смирнова Ольга Викторовна')
    await page.getByRole('heading', { name: 'Выберите организацию' }).waitFor()
    expect(await page.locator(`button[value="${chosen}"]`).textContent()).toContain('Вы выбирали её в прошлый раз')
    await page.locator(`button[value="${chosen}"]`).click()
    await page.waitForURL(`${w.journal.url}/`)
    await journalLogout()
  })

  it('a parent whose journal card has a typo sees which field differs, never the stored value', async () => {
    await journalLogin('u1701')
    await linkFromSettings('Кузнецова Татьяна Александровна')
    await page.getByRole('heading', { name: 'Не совпадает фамилия' }).waitFor()
    const main = await text()
    expect(main).not.toContain('Кузнецава')
    await screenshot(page, 'journal-09-mismatch-last-name')
    expect(await linkOf('u1701')).toBeUndefined()
    await page.getByRole('button', { name: /журнал/i }).first().click()
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    expect(await text()).toContain('фамилия в журнале не совпадает')
    await journalLogout()
  })

  it('a parent with an unconfirmed (standard) account is told how to confirm it', async () => {
    await journalLogin('u1201')
    await linkFromSettings('Петров Алексей Николаевич')
    await page.getByRole('heading', { name: 'Нужна подтверждённая учётная запись Госуслуг' }).waitFor()
    expect(await text()).toMatch(/[Цц]ентр обслуживания|МФЦ/)
    await screenshot(page, 'journal-10-untrusted-account')
    expect(await linkOf('u1201')).toBeUndefined()
    await page.goto(`${w.journal.url}/`)
    await journalLogout()
  })

  it('a child whose parent has not given consent sees the parent’s three steps', async () => {
    await page.goto(`${w.journal.url}/login`)
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi('Смирнова Полина Дмитриевна')
    await page.getByRole('heading', { name: 'Нужно согласие родителя' }).waitFor()
    expect(await text()).toContain('Согласия и доверенности')
    await screenshot(page, 'journal-11-child-consent')
    expect(await linkOf('u2002')).toBeUndefined()
  })

  it('a person the journal does not know is told what to check at school', async () => {
    await page.goto(`${w.journal.url}/login`)
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi('Григорьева Наталья Михайловна')
    await page.getByRole('heading', { name: 'Мы не нашли вас в электронном журнале' }).waitFor()
    await screenshot(page, 'journal-12-not-found')
    await page.getByRole('button', { name: /журнал/i }).first().click()
    await page.waitForURL(/\/auth\/callback|\/login/)
    expect(await text()).toContain('Вход через Госуслуги не выполнен')
  })

  it('support unlinks in the console; the next login links again by strong evidence (AUTO_LINK_ON_LOGIN)', async () => {
    await journalLogin('u1401')
    await linkFromSettings('Фёдоров Пётр Семёнович')
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    const subject = (await linkOf('u1401'))!.upstream_subject
    await journalLogout()

    await page.goto(`${w.bridgeUrl}/admin/login`)
    await page.getByLabel('Логин').fill('admin')
    await page.getByLabel('Пароль').fill(SUPPORT_PASSWORD)
    await page.getByRole('button', { name: 'Войти' }).click()
    await page.waitForURL(`${w.bridgeUrl}/admin`)
    await page.goto(`${w.bridgeUrl}/admin/users/u1401`)
    await page.getByLabel('Причина (обязательно)').first().fill('Обращение родителя: проверка повторной привязки')
    await page.getByRole('button', { name: 'Отвязать' }).click()
    await page.getByRole('status').filter({ hasText: 'Связь с Госуслугами удалена' }).waitFor()
    await screenshot(page, 'journal-13-support-unlinked')
    expect(await linkOf('u1401')).toBeUndefined()

    await page.goto(`${w.journal.url}/login`)
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi('Фёдоров Пётр Семёнович')
    await page.waitForURL(`${w.journal.url}/`)
    expect(await text()).toContain('Фёдоров'.replace('ё', 'е'))
    expect(await linkOf('u1401')).toEqual({ upstream_subject: subject, method: 'auto' })
    const events = (await w.db.pool.query<{ type: string; actor_kind: string }>(`SELECT type, actor_kind FROM audit_events WHERE journal_user_id = 'u1401' AND type ~ '^(link|login)\\.' ORDER BY id`)).rows
    expect(events).toEqual([
      { type: 'link.created', actor_kind: 'person' },
      { type: 'link.removed', actor_kind: 'support' },
      { type: 'link.created', actor_kind: 'person' },
      { type: 'login.succeeded', actor_kind: 'person' },
    ])
  })

  it('leaves no SNILS, name or birth date in the bridge’s logs', () => {
    const logs = w.logs.text()
    expect(logs).toContain('request completed')
    // Birth dates whole, as ЕСИА and the journal write them: a bare year also turns up in request timings.
    for (const value of ['Смирнова', 'Ольга', 'Кузнецова', 'Фёдоров', 'Федоров', '25.07.1984', '1984-07-25', '14.03.1985', '1985-03-14', '112-233']) expect(logs).not.toContain(value)
  })
})
