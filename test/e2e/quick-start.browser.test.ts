import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/http/free-port.js'
import { chromiumAvailable, launchChromium, type ChromiumSession } from '../helpers/browser.js'
import { httpRequest } from '../helpers/http-browser.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * The README's quick start, as a newcomer does it: `npm start` with no configuration (embedded
 * PostgreSQL, the mock ЕСИА, the demo journal), every address it prints opened in Chromium, then the
 * walk the README describes — link from «Персональные настройки», see the link there, «Отвязать»,
 * see it gone; «Выберите организацию»; a cancel; a mismatch — each ending on the journal's own
 * message. Every page is axe-checked by launchChromium.
 */
describe.skipIf(!chromiumAvailable('the quick-start walk'))('the quick start, as the README tells it', () => {
  let dataDir = ''
  let server: ChildProcess | undefined
  let output = ''
  let chromium: ChromiumSession
  let page: Page
  let journalUrl = ''
  const text = async () => (await page.locator('main').innerText()).replace(/\s+/g, ' ')

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-quick-start-'))
    // Reachable by the `postgres` user when the tests run as root: the data stays under DATA_DIR.
    await chmod(dataDir, 0o755)
    const [port, mockPort, journalPort] = [await freePort(), await freePort(), await freePort()]
    // `npm start`, its own process group so that stopping it stops node and the database too.
    server = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dataDir, DATA_DIR: dataDir, PORT: String(port), MOCK_ESIA_PORT: String(mockPort), DEMO_JOURNAL_PORT: String(journalPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    server.stdout!.on('data', (c: Buffer) => void (output += c.toString()))
    server.stderr!.on('data', (c: Buffer) => void (output += c.toString()))
    const deadline = Date.now() + 120_000
    while (!output.includes('Консоль поддержки:')) {
      if (server.exitCode !== null) throw new Error(`npm start exited:\n${output}`)
      if (Date.now() > deadline) throw new Error(`npm start printed no addresses in 120 s:\n${output}`)
      await sleep(200)
    }
    journalUrl = `http://localhost:${journalPort}`
    chromium = await launchChromium({ viewport: { width: 1100, height: 800 } })
    page = chromium.page
  }, 180_000)

  afterAll(async () => {
    await chromium?.close()
    // Ctrl+C, as at a terminal: npm, the node process and the embedded PostgreSQL share the group.
    // Wait until the whole group is gone (the database stops after npm), then remove its data.
    const group = server?.pid ? -server.pid : undefined
    const alive = () => {
      try {
        process.kill(group!, 0)
        return true
      } catch {
        return false
      }
    }
    if (group && alive()) {
      process.kill(group, 'SIGINT')
      const deadline = Date.now() + 20_000
      while (alive() && Date.now() < deadline) await sleep(100)
      if (alive()) process.kill(group, 'SIGKILL')
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('prints the admin password and the click-through last, and every address it prints opens on a page', async () => {
    const banner = output.slice(output.indexOf('Мост ЕСИА (esia-bridge):'))
    // Nothing of the start is written after the password: it does not scroll away.
    expect(banner).toMatch(/^Мост ЕСИА[^]*\nКонсоль поддержки: [^\n]*пароль: \S+\)\n\n/)
    expect(output.lastIndexOf('Server listening')).toBeLessThan(output.indexOf('Мост ЕСИА (esia-bridge):'))
    expect(output).not.toMatch(/\n\s+at /) // no stack
    const addresses = [...new Set(banner.match(/https?:\/\/[^\s,)»]+/g) ?? [])]
    expect(addresses.length).toBeGreaterThanOrEqual(5)
    for (const address of addresses) {
      const res = await page.goto(address)
      expect(res?.status(), address).toBe(200)
      if (!address.endsWith('/readyz')) expect(await page.locator('h1').count(), address).toBeGreaterThan(0)
      const icon = await httpRequest(new URL('/favicon.ico', address))
      expect(icon.status, `${address} favicon`).toBe(200)
    }
  })

  async function atGosuslugi(person: string, action: 'Войти и предоставить доступ' | 'Отказать' = 'Войти и предоставить доступ') {
    await page.getByRole('heading', { name: 'Вход', exact: true }).waitFor()
    await page.getByText(person, { exact: true }).click()
    await page.getByRole('button', { name: action }).click()
  }

  async function journalLogin(login: string) {
    await page.goto(`${journalUrl}/login`)
    await page.getByLabel('Логин').fill(login)
    await page.getByLabel('Пароль').fill('demo')
    await page.getByRole('button', { name: 'Войти', exact: true }).click()
    await page.waitForURL(`${journalUrl}/`)
  }

  async function loginThroughGosuslugi(person: string, action?: 'Отказать') {
    await page.goto(`${journalUrl}/login`)
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click()
    await atGosuslugi(person, action)
  }

  it('u1001 links «Смирнова Ольга Викторовна»; the settings show the link and its date; «Отвязать» removes it', async () => {
    await journalLogin('u1001')
    await page.getByRole('link', { name: 'Персональные настройки' }).click()
    await page.getByRole('button', { name: 'Привязать пользователя портала гос. услуг' }).click()
    await page.getByRole('button', { name: 'Перейти', exact: true }).click()
    await atGosuslugi('Смирнова Ольга Викторовна')
    await page.waitForURL(/\/settings\/gosuslugi\/done/)
    expect(await text()).toContain('Пользователь портала гос. услуг привязан')

    await page.goto(`${journalUrl}/settings`)
    const today = new Date().toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' })
    expect(await text()).toContain(`Учётная запись Госуслуг привязана (${today})`)
    await page.getByRole('button', { name: 'Отвязать учётную запись Госуслуг' }).click()
    expect(await text()).toContain('Учётная запись Госуслуг отвязана')
    await page.goto(`${journalUrl}/settings`)
    const after = await text()
    expect(after).not.toContain('Учётная запись Госуслуг привязана')
    expect(after).toContain('Перед привязкой проверьте')
    await expect(page.getByRole('button', { name: 'Привязать пользователя портала гос. услуг' }).count()).resolves.toBe(1)
    await page.getByRole('button', { name: 'Выйти' }).click()
    await page.waitForURL(`${journalUrl}/login`)
  })

  it('«Иванова Марина Сергеевна» gets «Выберите организацию» and logs in with the card she picks', async () => {
    await loginThroughGosuslugi('Иванова Марина Сергеевна')
    await page.getByRole('heading', { name: 'Выберите организацию' }).waitFor()
    await page.getByRole('listitem').first().getByRole('button').click()
    await page.waitForURL(`${journalUrl}/`)
    expect(await text()).toContain('Здравствуйте, Марина Сергеевна!')
    await page.getByRole('button', { name: 'Выйти' }).click()
    await page.waitForURL(`${journalUrl}/**`)
  })

  it('«Отменить» on the chooser is a cancel, and the journal says so without an error', async () => {
    await loginThroughGosuslugi('Иванова Марина Сергеевна')
    await page.getByRole('heading', { name: 'Выберите организацию' }).waitFor()
    await page.getByRole('button', { name: 'Отменить' }).click()
    await page.getByRole('heading', { name: 'Вход через Госуслуги отменён' }).waitFor()
    expect(await page.locator('main .alert').count()).toBe(0)
  })

  it('«Отказать» at Госуслуги is a cancel too', async () => {
    await loginThroughGosuslugi('Новиков Сергей Павлович', 'Отказать')
    await page.getByRole('button', { name: 'Вернуться в журнал' }).click()
    await page.getByRole('heading', { name: 'Вход через Госуслуги отменён' }).waitFor()
    expect(await text()).toContain('Вы отменили вход')
  })

  it('a typo in the journal card: the journal says the data differ', async () => {
    await loginThroughGosuslugi('Кузнецова Татьяна Александровна')
    await page.getByRole('heading', { name: 'Не совпадает фамилия' }).waitFor()
    await page.getByRole('button', { name: 'Вернуться в журнал' }).click()
    await page.getByRole('heading', { name: 'Вход через Госуслуги не выполнен' }).waitFor()
    expect(await text()).toContain('Данные в журнале не совпадают с данными на Госуслугах')
  })

  it('the data survive: /readyz is 200 to the end', async () => {
    const bridge = output.match(/Мост ЕСИА \(esia-bridge\):\s+(\S+)/)![1]!
    expect((await httpRequest(new URL('/readyz', bridge))).status).toBe(200)
  })
})
