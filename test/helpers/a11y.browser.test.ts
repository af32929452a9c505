import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumAvailable, launchChromium, type ChromiumSession } from '../helpers/browser.js'

/**
 * The accessibility checks every browser test gets (test/helpers/a11y.ts) do catch what they are for:
 * a page with the chooser's old fault (list items straight inside a radiogroup) and a table wider than
 * a phone. If the checks ever stopped running, the other browser tests would pass without them; this
 * one would not.
 */
const BAD_PAGE = `<!doctype html><html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Плохая страница</title></head>
<body><main><h1>Плохая страница</h1>
<ul role="radiogroup" aria-label="Организации"><li><label><input type="radio" name="o" value="1"> Первая</label></li><li><label><input type="radio" name="o" value="2"> Вторая</label></li></ul>
<table style="width: 900px"><tr><th scope="col">Широкая таблица</th></tr><tr><td>ячейка</td></tr></table>
</main></body></html>`

const GOOD_PAGE = `<!doctype html><html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Хорошая страница</title></head>
<body><main><h1>Хорошая страница</h1><p>Текст.</p></main></body></html>`

describe.skipIf(!chromiumAvailable('accessibility check tests'))('the accessibility checks of browser tests', () => {
  let server: Server
  let origin: string
  let chromium: ChromiumSession

  beforeAll(async () => {
    server = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      response.end(request.url === '/bad' ? BAD_PAGE : GOOD_PAGE)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    chromium = await launchChromium()
  })
  afterAll(async () => {
    await chromium?.close()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('name the rule and the element of a serious axe violation, and a page that scrolls sideways', async () => {
    await chromium.page.goto(`${origin}/bad`)
    // Taken here, so that the check after the test finds nothing left to fail it.
    const problems = (await chromium.checks.settle()).join('\n')
    expect(problems).toContain('axe listitem (serious)')
    expect(problems).toContain('<li><label><input type="radio" name="o" value="1"> Первая</label></li>')
    expect(problems).toMatch(/scrolls sideways by \d+px at 320px wide/)
    expect(problems).toContain('table')
  })

  it('find nothing on a sound page', async () => {
    await chromium.page.goto(`${origin}/good`)
    expect(await chromium.checks.settle()).toEqual([])
    expect(chromium.checks.checked.map((page) => new URL(page.split(' ')[0]!).pathname)).toEqual(['/bad', '/good'])
  })
})
