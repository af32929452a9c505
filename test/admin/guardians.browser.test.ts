import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { chromiumAvailable, launchChromium, listenLocally, screenshot, type ChromiumSession } from '../helpers/browser.js'
import { seedGuardianStates, supportAccount } from './fixtures.js'

/**
 * A school administrator checks which parents' children Госуслуги confirmed, in the real console in
 * headless Chromium: the list «Родители с неподтверждёнными детьми» for the school, then a parent's
 * card with one child confirmed and one not among the parent's children on Госуслуги.
 */
describe.skipIf(!chromiumAvailable('console guardians browser test'))('parents and children in the console, in Chromium', () => {
  let t: TestApp
  let chromium: ChromiumSession
  let page: Page
  let origin: string

  beforeAll(async () => {
    t = await buildTestApp()
    await seedGuardianStates(t)
    const account = await supportAccount(t, 'zavuch', 'support', ['school-12'])
    origin = await listenLocally(t.app)
    chromium = await launchChromium()
    page = chromium.page
    await page.goto(`${origin}/admin/login`)
    await page.getByLabel('Логин').fill('zavuch')
    await page.getByLabel('Пароль').fill(account.password)
    await page.getByRole('button', { name: 'Войти' }).click()
    await page.waitForURL(`${origin}/admin`)
  })
  afterAll(async () => {
    await chromium?.close()
    await t?.close()
  })

  it('lists the school\'s parents with unconfirmed children and opens a parent\'s card with its children\'s states', async () => {
    await page.getByRole('link', { name: 'Родители и дети' }).click()
    await page.getByRole('heading', { level: 1, name: 'Родители с неподтверждёнными детьми' }).waitFor()
    await page.getByLabel('Организация').selectOption('school-12')
    await page.getByRole('button', { name: 'Показать' }).click()
    await page.waitForURL(/organization_id=school-12/)
    await screenshot(page, 'admin-guardians')

    await page.getByRole('link', { name: 'Никитина Ирина Олеговна' }).click()
    const children = page.getByRole('heading', { name: 'Дети' }).locator('xpath=following-sibling::ul[1]')
    await children.waitFor()
    const items = (await children.getByRole('listitem').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim())
    expect(items).toEqual([
      expect.stringMatching(/^Никитин Глеб Сергеевич подтверждён Госуслугами Сверено с Госуслугами: /),
      expect.stringMatching(/^Орлов Денис Игоревич нет среди детей родителя на Госуслугах Сверено с Госуслугами: /),
    ])
    await expect(children.getByText('подтверждён Госуслугами').getAttribute('class')).resolves.toBe('tag good')
    await expect(children.getByText('нет среди детей родителя на Госуслугах').getAttribute('class')).resolves.toBe('tag bad')
    await screenshot(page, 'admin-parent-children')

    await children.getByRole('link', { name: 'Орлов Денис Игоревич' }).click()
    await page.getByRole('heading', { name: 'Родители' }).waitFor()
    await expect(page.getByText('не подтверждён: ребёнка нет среди его детей на Госуслугах').isVisible()).resolves.toBe(true)
  })
})
