import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterEach } from 'vitest'
import type { App } from '../../src/app.js'
import { accessibilityFailure, checksSummary, PageChecks } from './a11y.js'

/**
 * Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core (no
 * browser download). Each launch gets a new empty profile, so no cookie or cache leaks between
 * tests. Where Chromium is missing the browser tests skip with a notice; everything else runs.
 * Every page the session's tabs receive is checked for accessibility (test/helpers/a11y.ts): a test
 * during which a page failed fails after it, with the rule and the element in the message.
 *
 *   const browserTests = describe.skipIf(!chromiumAvailable())
 *   beforeAll(async () => { browser = await launchChromium() })
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

/** True when Chromium is installed; otherwise prints why the browser tests of `suite` are skipped. */
export function chromiumAvailable(suite = 'browser tests'): boolean {
  if (existsSync(CHROMIUM_PATH)) return true
  console.warn(`[${suite}] skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`)
  return false
}

export interface ChromiumSession {
  context: BrowserContext
  page: Page
  /** The accessibility checks of the pages this session has received. */
  checks: PageChecks
  close(): Promise<void>
}

const openSessions = new Set<ChromiumSession>()

// Registered on the test file that imports this module, so each test answers for the pages it visited.
afterEach(async () => {
  const problems = (await Promise.all([...openSessions].map((s) => s.checks.settle()))).flat()
  if (problems.length > 0) throw accessibilityFailure(problems)
})

export async function launchChromium(opts: { locale?: string; viewport?: { width: number; height: number } } = {}): Promise<ChromiumSession> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-chromium-'))
  const viewport = opts.viewport ?? { width: 1280, height: 900 }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    locale: opts.locale ?? 'ru-RU',
    viewport,
    acceptDownloads: true,
  })
  const checks = new PageChecks(context, viewport)
  const page = context.pages()[0] ?? (await context.newPage())
  const session: ChromiumSession = {
    context,
    page,
    checks,
    async close() {
      openSessions.delete(session)
      // Pages visited outside a test (beforeAll, afterAll) are answered for here.
      const problems = await checks.settle().finally(async () => {
        await context.close()
        await rm(profile, { recursive: true, force: true })
      })
      console.info(checksSummary(checks))
      if (problems.length > 0) throw accessibilityFailure(problems)
    },
  }
  openSessions.add(session)
  return session
}

/** Starts the app on a free local port (a real socket, as the browser needs) and returns its origin. */
export async function listenLocally(app: App): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return address.replace('[::1]', '127.0.0.1')
}

const RUN_SCREENS = path.resolve('test-results/screens')
const DOC_SCREENS = path.resolve('docs/screens')

/**
 * Full-page screenshot `name`.png into test-results/screens (every run, git-ignored) and, with
 * UPDATE_SCREENSHOTS=1, into docs/screens (committed, for the README and docs/).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(RUN_SCREENS, { recursive: true })
  const file = path.join(RUN_SCREENS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(DOC_SCREENS, { recursive: true })
    await page.screenshot({ path: path.join(DOC_SCREENS, `${name}.png`), fullPage: true })
  }
}
