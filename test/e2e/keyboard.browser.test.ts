import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { chromiumAvailable, launchChromium, type ChromiumSession } from '../helpers/browser.js'
import { focusState, type FocusState } from '../helpers/in-page.js'
import { startJournalWorld, type JournalWorld } from './journal-world.js'

/**
 * Ольга uses the keyboard alone (Tab, Shift+Tab, Space, Enter, the arrows; typing into fields): she
 * links both her journal accounts — the journal's settings, the bridge's confirmation, the mock
 * Госуслуги — then logs in through Госуслуги and picks her second school on «Выберите организацию».
 * At every stop the focused element must be on screen and show a focus indicator whose outline
 * stands out 3:1 from the background around it (WCAG 2.4.7, 1.4.11). No click anywhere.
 */
describe.skipIf(!chromiumAvailable('keyboard walk'))('the whole journey by keyboard', () => {
  let w: JournalWorld
  let chromium: ChromiumSession
  let page: Page

  beforeAll(async () => {
    w = await startJournalWorld()
    chromium = await launchChromium({ viewport: { width: 1100, height: 800 } })
    page = chromium.page
  })
  afterAll(async () => {
    await chromium?.close()
    await w?.close()
  })

  const text = async () => (await page.locator('main').innerText()).replace(/\s+/g, ' ')

  /** Presses `key`; whatever takes the focus must be visible and show that it has it. */
  async function press(key: string): Promise<FocusState> {
    await page.keyboard.press(key)
    const focus = await page.evaluate(focusState)
    expect(focus, `after ${key} on ${page.url()}: nothing has the focus`).toBeDefined()
    const where = `after ${key} on ${page.url()}: ${focus!.element}`
    expect(focus!.inViewport, `${where} is off screen`).toBe(true)
    expect(focus!.focusVisible && focus!.indicator !== 'none', `${where} shows no focus indicator`).toBe(true)
    expect(focus!.contrast, `${where}: the focus outline (${focus!.indicator}) against its background`).toBeGreaterThanOrEqual(3)
    return focus!
  }

  /** Presses `key` (Tab or Shift+Tab) until the focused element says `what`. */
  async function moveTo(what: string | RegExp, key = 'Tab'): Promise<FocusState> {
    for (let i = 0; i < 40; i++) {
      const focus = await press(key)
      if (typeof what === 'string' ? focus.text === what : what.test(focus.text)) return focus
    }
    throw new Error(`${key} never reached «${what}» on ${page.url()}`)
  }

  async function journalLogin(login: string) {
    await page.goto(`${w.journal.url}/login`)
    await moveTo('Логин')
    await page.keyboard.type(login)
    await moveTo('Пароль')
    await page.keyboard.type(w.journal.password)
    await page.keyboard.press('Enter')
    await page.waitForURL(`${w.journal.url}/`)
  }

  async function journalLogout() {
    await moveTo('Выйти')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${w.journal.url}/login`)
  }

  /** «Персональные настройки» → «Привязать…» → «Перейти» → Госуслуги: Ольга, by Space, and «Войти…». */
  async function linkByKeyboard() {
    await moveTo('Персональные настройки')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${w.journal.url}/settings`)
    await moveTo('Привязать пользователя портала гос. услуг')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Привязка пользователя к порталу гос. услуг' }).waitFor()
    await moveTo('Перейти')
    await page.keyboard.press('Enter')

    await page.getByRole('heading', { name: 'Вход' }).waitFor()
    // The first Tab lands in the list of people; the arrows move through it, Space picks.
    const first = await press('Tab')
    expect(first.text).toContain('Смирнова Ольга Викторовна')
    expect((await press('ArrowDown')).text).not.toContain('Смирнова Ольга Викторовна')
    expect((await press('ArrowUp')).text).toContain('Смирнова Ольга Викторовна')
    await press('Space')
    expect(await page.getByRole('radio', { name: /Смирнова Ольга Викторовна/ }).isChecked()).toBe(true)
    await moveTo('Войти и предоставить доступ')
    await page.keyboard.press('Enter')
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    expect(await text()).toContain('Пользователь портала гос. услуг привязан')
  }

  it('links both her accounts, logs in through Госуслуги and picks the second school, without a mouse', async () => {
    await journalLogin('u1002')
    await linkByKeyboard()
    await journalLogout()

    await journalLogin('u1001')
    await linkByKeyboard()
    await journalLogout()

    await moveTo('Войти через Госуслуги')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Вход' }).waitFor()
    // Госуслуги remembers her from the links: her radio button is the checked one Tab lands on.
    expect((await press('Tab')).text).toContain('Смирнова Ольга Викторовна')
    await moveTo('Войти и предоставить доступ')
    await page.keyboard.press('Enter')

    await page.getByRole('heading', { name: 'Выберите организацию' }).waitFor()
    // Every school is a Tab stop; she goes past the second one to «Отменить» and comes back.
    await moveTo(/^МАОУ «Гимназия № 3»/)
    await moveTo('Отменить')
    const second = await moveTo(/^МБОУ «Средняя школа № 12»/, 'Shift+Tab')
    expect(second.text).toContain('Родитель · Смирнова Ольга Викторовна')
    await page.keyboard.press('Enter')

    await page.waitForURL(`${w.journal.url}/`)
    const home = await text()
    expect(home).toContain('Здравствуйте, Ольга Викторовна!')
    expect(home).toContain('Средняя школа № 12')
  })
})
