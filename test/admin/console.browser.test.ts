import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { findLink } from '../../src/linking/links.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { chromiumAvailable, launchChromium, listenLocally, screenshot, type ChromiumSession } from '../helpers/browser.js'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { auditRows, person, seedSchools, SCHOOL_A, SNILS, supportAccount, type Seeded } from './fixtures.js'

/**
 * A school administrator's afternoon in the real console, in headless Chromium: sign in, find a
 * parent by SNILS, unlink a wrong link, link a failed attempt despite a typo in the journal, check
 * a batch update file, read the action log. Screenshots of each page go to test-results/screens (docs/screens with
 * UPDATE_SCREENSHOTS=1).
 */
describe.skipIf(!chromiumAvailable('admin console browser tests'))('the console in Chromium', () => {
  let t: TestApp
  let seeded: Seeded
  let origin: string
  let chromium: ChromiumSession
  let page: Page
  let account: { id: string; password: string }

  beforeAll(async () => {
    t = await buildTestApp()
    seeded = await seedSchools(t.db.pool)
    // The mock ЕСИА's demo directory makes the pages look like a real municipality's, with its
    // deliberate data errors; one of them (a typo in a surname) has just failed a link.
    await seedDemoDirectory(t.db.pool, TEST_SECRETS.snilsHmacKey)
    await recordFailedAttempt(t.db.pool, TEST_SECRETS.snilsHmacKey, {
      flow: 'link', reasons: ['mismatch:last_name'], journalUserId: 'u1701', organizationId: 'school-12',
      person: person({ subject: '1000701', lastName: 'Кузнецова', firstName: 'Татьяна', middleName: 'Александровна', birthDate: '1984-07-25', snils: '22568024765' }),
    })
    account = await supportAccount(t, 'ryabtsev', 'support', [SCHOOL_A.id, 'school-12', 'gymnasium-3', 'elizovo-school-1'])
    origin = await listenLocally(t.app)
    chromium = await launchChromium()
    page = chromium.page
  })
  afterAll(async () => {
    await chromium?.close()
    await t?.close()
  })

  it('signs in with login and password', async () => {
    await page.goto(`${origin}/admin`)
    expect(new URL(page.url()).pathname).toBe('/admin/login')
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Вход в консоль поддержки')
    await screenshot(page, 'admin-login')
    await page.getByLabel('Логин').fill('ryabtsev')
    await page.getByLabel('Пароль').fill(account.password)
    await page.getByRole('button', { name: 'Войти' }).click()
    await page.waitForURL(`${origin}/admin`)
    await expect(page.getByText('Неразобранные попытки').isVisible()).resolves.toBe(true)
    await screenshot(page, 'admin-home')
  })

  it('finds a parent by SNILS; the number stays out of the URL and the page', async () => {
    await page.getByRole('link', { name: 'Пользователи', exact: true }).click()
    await page.getByLabel('СНИЛС полностью').fill(SNILS.ivanova)
    await page.getByRole('button', { name: 'Найти' }).click()
    await page.getByRole('link', { name: 'Иванова Мария Петровна' }).waitFor()
    expect(page.url()).toBe(`${origin}/admin/users/search`)
    expect(await page.getByLabel('СНИЛС полностью').inputValue()).toBe('')
    expect(await page.content()).not.toContain(SNILS.ivanova.replace(/\D/g, '').slice(0, 9))
    await screenshot(page, 'admin-search-snils')
  })

  it('opens the card and unlinks with a reason', async () => {
    await page.getByRole('link', { name: 'Иванова Мария Петровна' }).click()
    await page.getByRole('heading', { name: 'Связь с Госуслугами' }).waitFor()
    await screenshot(page, 'admin-user-card')
    await page.getByLabel('Причина (обязательно)').first().fill('Мама сообщила, что к её карточке привязана учётная запись бабушки')
    await page.getByRole('button', { name: 'Отвязать' }).click()
    await page.getByRole('status').filter({ hasText: 'Связь с Госуслугами удалена' }).waitFor()
    expect(await findLink(t.db.pool, 'a-parent-ivanova')).toBeUndefined()
    await screenshot(page, 'admin-unlinked')
  })

  it('approves a failed attempt «вопреки расхождению» after seeing which field differs', async () => {
    await page.getByRole('link', { name: 'Неудачные попытки' }).click()
    await page.getByRole('heading', { name: 'Неудачные попытки', level: 1 }).waitFor()
    await screenshot(page, 'admin-failed-attempts')
    await page.getByRole('row').filter({ hasText: 'Смирнов' }).getByRole('link', { name: 'Открыть' }).click()
    const differing = page.locator('tr.differs')
    expect(await differing.count()).toBe(1)
    expect(await differing.textContent()).toContain('02.01.1981')
    expect(await differing.textContent()).toContain('02.01.1980')
    await screenshot(page, 'admin-failed-attempt')
    await page.getByLabel('Причина (обязательно)').fill('Проверили паспорт: в журнале ошибка в годе рождения, исправим при следующей выгрузке')
    await page.getByRole('button', { name: 'Связать вопреки расхождению' }).click()
    await page.getByRole('status').filter({ hasText: 'Связь создана' }).waitFor()
    expect(await findLink(t.db.pool, 'a-parent-smirnov')).toMatchObject({ method: 'support_override', mismatches: ['mismatch:birth_date'] })
    const resolved = await t.db.pool.query('SELECT resolved_by FROM failed_attempts WHERE id = $1', [seeded.attempts.smirnovBirthDate])
    expect(resolved.rows[0].resolved_by).toBe(account.id)
    await screenshot(page, 'admin-linked-override')
  })

  it('reads the completeness report and opens the cards behind a number', async () => {
    await page.getByRole('link', { name: 'Контроль заполнения' }).click()
    await page.getByRole('heading', { name: 'Контроль заполнения данных' }).waitFor()
    await screenshot(page, 'admin-completeness')
    await page.getByRole('link', { name: 'Родители', exact: true }).click()
    await page.getByRole('row').filter({ hasText: 'Гимназия № 3' }).locator('a[href*="problem=shared_snils"]').click()
    await page.getByRole('heading', { name: 'Такой же СНИЛС у другой карточки той же организации и роли' }).waitFor()
    expect(await page.locator('table a[href^="/admin/users/"]').count()).toBe(2)
    await screenshot(page, 'admin-completeness-problems')
  })

  it('checks a batch update file without changing anything (dry run)', async () => {
    await page.getByRole('link', { name: 'Пакетное обновление' }).click()
    const csv = [
      'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор',
      `Смирнов;Алексей;Иванович;02.01.1980;${SNILS.smirnov};Родитель;${SCHOOL_A.id};a-parent-smirnov`,
      `Орлова;Вера;Николаевна;02.02.1990;;Родитель;${SCHOOL_A.id};a-parent-orlova`,
      `Кузнецава;Татьяна;Александровна;25.07.1984;225-680-247 00;Родитель;school-12;u1701`,
      `Сидоров;Иван;Ильич;05.06.1975;;Родитель;school-b;b-parent-sidorov`,
    ].join('\r\n')
    await page.getByLabel('Файл CSV').setInputFiles({ name: 'roditeli.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    await screenshot(page, 'admin-import')
    await page.getByRole('button', { name: 'Проверить файл' }).click()
    await page.getByRole('heading', { name: 'Проверка файла: что изменится' }).waitFor()
    expect(await page.locator('tr', { hasText: 'Будет добавлено' }).textContent()).toContain('1')
    expect(await page.getByText('Контрольная сумма СНИЛС не сходится').isVisible()).toBe(true)
    expect(await page.getByText('Организация вне вашей области доступа').isVisible()).toBe(true)
    expect((await t.db.pool.query(`SELECT 1 FROM journal_users WHERE id = 'a-parent-orlova'`)).rowCount).toBe(0)
    await screenshot(page, 'admin-import-dry-run')
  })

  it('shows both changes in the action log', async () => {
    await page.getByRole('link', { name: 'Журнал действий' }).click()
    await page.getByLabel('Событие').selectOption('link.*')
    await page.getByRole('button', { name: 'Показать' }).click()
    await page.locator('td', { hasText: 'Связь удалена' }).first().waitFor()
    await screenshot(page, 'admin-audit')
    const types = (await auditRows(t.db.pool, `actor_id = $1 AND type LIKE 'link.%'`, [account.id])).map((e) => e.type)
    expect(types).toEqual(['link.removed', 'link.created'])
  })
})
