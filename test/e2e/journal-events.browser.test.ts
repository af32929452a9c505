import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, screenshot, type ChromiumSession } from '../helpers/browser.js'
import { startJournalWorld, SUPPORT_PASSWORD, type JournalWorld } from './journal-world.js'

/**
 * The journal hears what happened, in Chromium: «Демо-журнал» is registered for link events and
 * back-channel logout. A father logs in through Госуслуги; a school administrator unlinks him in the
 * console — his journal session ends at once (a logout token) and his settings page says who
 * removed the link (a link-removed event). Later he logs out at the bridge itself, and the journal
 * session opened through Госуслуги ends too.
 * Screenshots: test-results/screens/events-*.png, and docs/screens/ with UPDATE_SCREENSHOTS=1.
 */
describe.skipIf(!chromiumAvailable('end-to-end event tests'))('the demo journal hears of unlinks and logouts', () => {
  let w: JournalWorld
  let chromium: ChromiumSession
  let page: Page

  const text = async (p: Page = page) => (await p.locator('main').innerText()).replace(/\s+/g, ' ')

  async function loginThroughGosuslugi() {
    await page.goto(`${w.journal.url}/login`)
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await page.getByRole('heading', { name: 'Вход' }).waitFor()
    await page.getByText('Фёдоров Пётр Семёнович', { exact: true }).click()
    await page.getByRole('button', { name: 'Войти и предоставить доступ' }).click()
    await page.waitForURL(`${w.journal.url}/`)
    expect(await text()).toContain('Здравствуйте, Петр Семенович!')
  }

  /** The journal's home page sends a visitor without a session to /login: the session is gone. */
  async function journalSessionEnded() {
    await expect
      .poll(async () => {
        await page.goto(`${w.journal.url}/`)
        return new URL(page.url()).pathname
      }, { timeout: 10_000, interval: 200 })
      .toBe('/login')
  }

  beforeAll(async () => {
    w = await startJournalWorld()
    chromium = await launchChromium({ viewport: { width: 1100, height: 800 } })
    page = chromium.page
  })
  afterAll(async () => {
    await chromium?.close()
    await w?.close()
  })

  it('support unlinks in the console: the father’s journal session ends and his settings page says why', async () => {
    await loginThroughGosuslugi()

    const console = await chromium.context.newPage()
    await console.goto(`${w.bridgeUrl}/admin/login`)
    await console.getByLabel('Логин').fill('admin')
    await console.getByLabel('Пароль').fill(SUPPORT_PASSWORD)
    await console.getByRole('button', { name: 'Войти' }).click()
    await console.waitForURL(`${w.bridgeUrl}/admin`)
    await console.goto(`${w.bridgeUrl}/admin/users/u1401`)
    await console.getByLabel('Причина (обязательно)').first().fill('Обращение: привязан чужой аккаунт')
    await console.getByRole('button', { name: 'Отвязать' }).click()
    await console.getByRole('status').filter({ hasText: 'Связь с Госуслугами удалена' }).waitFor()

    await journalSessionEnded()

    await page.getByLabel('Логин').fill('u1401')
    await page.getByLabel('Пароль').fill(w.journal.password)
    await page.getByRole('button', { name: 'Войти', exact: true }).click()
    await page.waitForURL(`${w.journal.url}/`)
    await page.goto(`${w.journal.url}/settings`)
    const settings = await text()
    expect(settings).toContain('Портал гос. услуг не привязан')
    expect(settings).toContain('Связь с Госуслугами удалена службой поддержки')
    await screenshot(page, 'events-01-settings-after-support-unlink')

    await console.goto(`${w.bridgeUrl}/admin/events/demo-journal?status=delivered`)
    const delivered = await text(console)
    expect(delivered).toContain('Связь удалена')
    expect(delivered).toContain('Выход из журнала (logout token)')
    await screenshot(console, 'events-02-console-delivery')
    await console.close()
    await page.getByRole('button', { name: 'Выйти' }).click()
  })

  it('he logs out at the bridge: the journal session he opened through Госуслуги ends too', async () => {
    // Linked again by strong evidence at this login (AUTO_LINK_ON_LOGIN).
    await loginThroughGosuslugi()
    await page.goto(`${w.bridgeUrl}/oauth2/logout`)
    // No journal vouched for this logout (no id_token_hint): the bridge asks first.
    await page.getByRole('heading', { name: 'Выйти из журнала?' }).waitFor()
    await page.getByRole('button', { name: 'Выйти' }).click()
    await page.getByRole('heading', { name: /вышли/i }).waitFor()
    await journalSessionEnded()
    const { rows } = await w.db.pool.query(`SELECT status FROM event_outbox WHERE kind = 'logout' ORDER BY id`)
    expect(rows).toEqual([{ status: 'delivered' }, { status: 'delivered' }])
  })

  it('leaves no name, SNILS or birth date in the bridge’s logs', () => {
    const logs = w.logs.text()
    // His birth date whole, as ЕСИА and the journal write it: a bare year also turns up in request timings.
    for (const value of ['Фёдоров', 'Федоров', 'Семенович', '30.01.1983', '1983-01-30']) expect(logs).not.toContain(value)
  })
})
