import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { chromiumAvailable, launchChromium, listenLocally, screenshot, type ChromiumSession } from '../helpers/browser.js'
import { SCHOOL_A, supportAccount } from '../admin/fixtures.js'
import { IVANOVA, seedIvanova } from './fixtures.js'

/** The one DOM function the in-page checks use, declared for this file alone (the project has no DOM library). */
declare function getComputedStyle(element: unknown): { borderTopStyle: string; color: string; overflowX: string }

/**
 * Иванова asked her school what it holds about her. The school's support opens her card, follows
 * «Сведения об обработке персональных данных» and prints the page for the reply: on paper there is
 * no navigation and no form, only the facts and the tables.
 */
describe.skipIf(!chromiumAvailable('subject report browser test'))('the subject report in Chromium, on screen and in print', () => {
  let t: TestApp
  let chromium: ChromiumSession
  let page: Page
  let origin: string
  let admin: { password: string }

  beforeAll(async () => {
    t = await buildTestApp()
    await seedIvanova(t)
    const account = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    admin = await supportAccount(t, 'region-admin', 'admin')
    origin = await listenLocally(t.app)
    chromium = await launchChromium()
    page = chromium.page
    await page.goto(`${origin}/admin/login`)
    await page.getByLabel('Логин').fill('school-a-support')
    await page.getByLabel('Пароль').fill(account.password)
    await page.getByRole('button', { name: 'Войти' }).click()
    await page.waitForURL(`${origin}/admin`)
  })
  afterAll(async () => {
    await chromium?.close()
    await t?.close()
  })

  it('opens the report from the card, in Russian, and prints it without navigation, with ruled tables', async () => {
    await page.goto(`${origin}/admin/users/${IVANOVA.card}`)
    await page.getByRole('link', { name: 'Сведения об обработке персональных данных' }).click()
    await page.getByRole('heading', { level: 1, name: 'Сведения об обработке персональных данных' }).waitFor()
    expect(await page.locator('html').getAttribute('lang')).toBe('ru')
    for (const title of ['Карточки в справочнике журнала', 'Связь с учётной записью Госуслуг', 'Неудачные попытки привязки и входа', 'Родители и дети: сверка с Госуслугами', 'Журнал действий']) {
      await expect(page.getByRole('heading', { level: 2, name: title }).isVisible()).resolves.toBe(true)
    }
    const attempts = page.getByRole('region', { name: 'Неудачные попытки привязки и входа', exact: true })
    await expect(attempts.getByRole('row').count()).resolves.toBe(3)
    await expect(attempts.getByText('Правовое основание').isVisible()).resolves.toBe(true)
    await expect(page.getByRole('navigation', { name: 'Разделы консоли' }).isVisible()).resolves.toBe(true)
    await screenshot(page, 'admin-subject-report')

    await page.emulateMedia({ media: 'print' })
    await expect(page.getByRole('navigation', { name: 'Разделы консоли' }).isVisible()).resolves.toBe(false)
    await expect(page.locator('header.top').isVisible()).resolves.toBe(false)
    await expect(page.getByText('Чтобы приложить сведения к ответу').isVisible()).resolves.toBe(false)
    await expect(page.getByRole('heading', { level: 1, name: 'Сведения об обработке персональных данных' }).isVisible()).resolves.toBe(true)
    const cellStyle = await attempts.locator('td').first().evaluate((td) => {
      const s = getComputedStyle(td)
      return { border: s.borderTopStyle, color: s.color }
    })
    expect(cellStyle).toEqual({ border: 'solid', color: 'rgb(0, 0, 0)' })
    const wrap = await attempts.locator('.table-wrap').evaluate((el) => getComputedStyle(el).overflowX)
    expect(wrap).toBe('visible')
    await screenshot(page, 'admin-subject-report-print')
    const pdf = await page.pdf({ format: 'A4', printBackground: false })
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-')
    await page.emulateMedia({ media: 'screen' })
  })

  it('lets an admin erase her data from the report page and shows the destruction record', async () => {
    await page.getByRole('button', { name: 'Выйти' }).click()
    await page.goto(`${origin}/admin/login`)
    await page.getByLabel('Логин').fill('region-admin')
    await page.getByLabel('Пароль').fill(admin.password)
    await page.getByRole('button', { name: 'Войти' }).click()
    await page.waitForURL(`${origin}/admin`)
    await page.goto(`${origin}/admin/subjects/report?journal_user_id=${IVANOVA.card}`)
    await page.getByLabel('Номер запроса').fill('ЗП-17')
    await page.getByLabel('Дата запроса').fill('2026-12-01')
    await page.getByLabel('Понимаю, что данные будут уничтожены без возможности восстановления').check()
    await page.getByRole('button', { name: 'Уничтожить' }).click()
    await page.waitForURL(`${origin}/admin/destruction-records?done=erased`)
    await page.getByRole('heading', { level: 1, name: 'Уничтожение персональных данных' }).waitFor()
    await expect(page.getByText('№ ЗП-17 от 01.12.2026').isVisible()).resolves.toBe(true)
    await expect(page.getByText('Неудачные попытки привязки и входа: 2 (удаление из базы данных)').isVisible()).resolves.toBe(true)
    await screenshot(page, 'admin-destruction-records')
  })
})
