import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { BrowserContext, Page, Response } from 'playwright-core'
import { runAxe, sidewaysScroll } from './in-page.js'

/**
 * Every page a browser test visits is checked for accessibility (ГОСТ Р 52872-2019 follows WCAG 2.1
 * AA), without the test asking: axe-core's WCAG 2.1 A/AA rules (a serious or critical violation
 * fails the test, naming the rule and the element), and reflow — no sideways scroll of the page at
 * 320 px (WCAG 1.4.10) or 640 px (1280 px at 200 % zoom).
 *
 * How, without disturbing the test: each HTML page the browser receives is replayed, byte for byte
 * with its headers, in a second tab of the same context (so stylesheets load with the same cookies),
 * where axe runs and the viewport is narrowed. The replay is served from memory, never asked of the
 * server again, so a POST answer or a single-use page is checked as shown and nothing is repeated.
 * Our pages run no script (the CSP forbids inline code and none is served), so the copy is the page.
 * axe's source (the pinned devDependency) is put into the checking tab through the DevTools
 * protocol, which the page's CSP does not govern; nothing is fetched from the network.
 */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
export const REFLOW_WIDTHS = [320, 640]
const BLOCKING = new Set(['serious', 'critical'])

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** Headers not to replay: the copy must not set cookies again or claim an encoding it lacks. */
const DROPPED_HEADERS = new Set(['set-cookie', 'content-encoding', 'content-length', 'transfer-encoding'])

/**
 * A page seen again is checked once: what differs between two renders of the same page is its fresh
 * CSRF token and the random ids of a login or link in flight (in hidden fields and form addresses).
 */
const sameness = (text: string) => text.replace(/(<input type="hidden" name="[^"]*" value=")[^"]*"/g, '$1"').replace(/[A-Za-z0-9_-]{20,}/g, '…')

export class PageChecks {
  readonly checked: string[] = []
  /** Moderate and minor findings (rule and impact), which do not fail a test: for the summary. */
  readonly lesser = new Set<string>()
  private problems: string[] = []
  private queue: Promise<void> = Promise.resolve()
  private tab: Promise<Page> | undefined
  private tabPage: Page | undefined
  private replay: { url: string; status: number; headers: Record<string, string>; body: Buffer } | undefined
  private seen = new Set<string>()

  constructor(
    private readonly context: BrowserContext,
    private readonly viewport: { width: number; height: number },
  ) {
    context.on('response', (response) => this.received(response))
  }

  /** Waits for the checks of every page received so far; returns (and forgets) what they found. */
  async settle(): Promise<string[]> {
    await this.queue
    const problems = this.problems
    this.problems = []
    return problems
  }

  private received(response: Response): void {
    const request = response.request()
    if (!request.isNavigationRequest() || request.frame().parentFrame() !== null) return
    const headers = response.headers()
    if (!(headers['content-type'] ?? '').startsWith('text/html') || /attachment/i.test(headers['content-disposition'] ?? '')) return
    if (response.status() >= 300 && response.status() < 400) return
    if (this.tabPage && request.frame().page() === this.tabPage) return
    // Asked for at once: Chromium forgets a page's body when the tab moves on. It is gone only when the
    // test left the page before it had loaded (a click, then another address at once): nobody saw
    // that page, and there is nothing to check.
    const body = response.body().catch(() => undefined)
    const url = response.url()
    this.queue = this.queue.then(async () => {
      const html = await body
      if (html === undefined) return
      const key = `${response.status()} ${sameness(new URL(url).pathname)} ${sameness(html.toString('utf8'))}`
      if (this.seen.has(key)) return
      this.seen.add(key)
      await this.check({ url, status: response.status(), headers, body: html }).catch((error: Error) => {
        this.problems.push(`${url}: the accessibility check could not run: ${error.message}`)
      })
    })
  }

  private openTab(): Promise<Page> {
    this.tab ??= (async () => {
      const tab = await this.context.newPage()
      this.tabPage = tab
      await tab.setViewportSize(this.viewport)
      await tab.addInitScript({ content: AXE_SOURCE })
      await tab.route('**/*', async (route) => {
        const request = route.request()
        if (!request.isNavigationRequest()) return route.continue()
        const replay = this.replay
        if (replay && request.url() === replay.url) {
          const headers = Object.fromEntries(Object.entries(replay.headers).filter(([name]) => !DROPPED_HEADERS.has(name)))
          return route.fulfill({ status: replay.status, headers, body: replay.body })
        }
        return route.abort()
      })
      return tab
    })()
    return this.tab
  }

  private async check(replay: NonNullable<PageChecks['replay']>): Promise<void> {
    const tab = await this.openTab()
    this.replay = replay
    await tab.setViewportSize(this.viewport)
    await tab.goto(replay.url, { waitUntil: 'load' })
    const where = `${replay.url} («${await tab.title()}»)`
    this.checked.push(where)

    const violations = await tab.evaluate(runAxe, WCAG_TAGS)
    for (const v of violations.filter((v) => !BLOCKING.has(v.impact))) this.lesser.add(`${v.id} (${v.impact})`)
    for (const v of violations.filter((v) => BLOCKING.has(v.impact))) {
      const nodes = v.nodes.map((n) => `\n    ${n.target}\n      ${n.html}`).join('')
      this.problems.push(`${where}: axe ${v.id} (${v.impact}) — ${v.help}${nodes}`)
    }

    for (const width of REFLOW_WIDTHS) {
      await tab.setViewportSize({ width, height: this.viewport.height })
      const overflow = await tab.evaluate(sidewaysScroll)
      if (overflow) this.problems.push(`${where}: scrolls sideways by ${overflow.extra}px at ${width}px wide (WCAG 1.4.10)${overflow.sticking.map((s) => `\n    ${s}`).join('')}`)
    }
  }
}

/** One line for the test's output: how many pages were checked, and what did not fail them. */
export function checksSummary(checks: PageChecks): string {
  const lesser = checks.lesser.size > 0 ? `; moderate or minor, not failing: ${[...checks.lesser].join(', ')}` : ''
  return `[accessibility] ${checks.checked.length} distinct pages checked (axe ${WCAG_TAGS.join('/')}, reflow at ${REFLOW_WIDTHS.join(' and ')} px)${lesser}`
}

/** The problems found, as a test failure's message. */
export function accessibilityFailure(problems: string[]): Error {
  return new Error(`Accessibility (WCAG 2.1 AA) — ${problems.length} problem(s):\n  ${problems.join('\n  ')}`)
}
