import http from 'node:http'

/**
 * A person's browser over real HTTP, for tests of processes this one did not build (several
 * bridges behind nginx): a cookie jar per origin, its own client address on the loopback network
 * (127.0.0.0/8 all answers locally, so each person can have one, as people behind a proxy do), and
 * the forms of the page it is on. Redirects are returned, not followed, so tests see every hop;
 * `instances` records which bridge instance answered each request (nginx's `X-Bridge-Instance`).
 */
export interface HttpPage {
  url: URL
  status: number
  location: string | undefined
  body: string
  headers: http.IncomingHttpHeaders
}

// A connection per request: a kept-alive connection that nginx closes on a reload just as a request
// is sent on it would fail here, where a browser would quietly retry.
const agent = new http.Agent({ keepAlive: false, maxSockets: 256 })

export function httpRequest(url: URL, opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<HttpPage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent, localAddress: opts.localAddress, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ url, status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url.pathname} timed out`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

export const formBody = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
})

export class HttpBrowser {
  readonly #jars = new Map<string, Map<string, string>>()

  /** `instances` receives the `X-Bridge-Instance` of every answer that had one, in order (share it to see a whole flow). */
  constructor(
    readonly address = '127.0.0.1',
    readonly instances: string[] = [],
  ) {}

  /** A request with headers of its own (a journal's backend: Basic auth, JSON). */
  request(method: string, url: string | URL, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpPage> {
    return this.#send(new URL(url), { method, ...opts })
  }

  async get(url: string | URL, base?: string | URL): Promise<HttpPage> {
    return this.#send(new URL(url, base), {})
  }

  async post(url: string | URL, fields: Record<string, string>, base?: string | URL): Promise<HttpPage> {
    return this.#send(new URL(url, base), { method: 'POST', ...formBody(fields) })
  }

  /** Follows a redirect the way a browser would (a 303 or 302 becomes a GET). */
  follow(page: HttpPage): Promise<HttpPage> {
    if (!page.location) throw new Error(`${page.url.pathname} answered ${page.status} without a redirect: ${page.body.slice(0, 300)}`)
    return this.get(page.location, page.url)
  }

  /** Presses the button labelled `label` on `page`: posts its form with the fields (CSRF included) it carries. */
  press(page: HttpPage, label: string, fields: Record<string, string> = {}): Promise<HttpPage> {
    return this.#submit(page, (f) => f.includes(`>${label}</button>`), `button «${label}»`, fields)
  }

  /** Presses the button that sends `name`=`value` (a card on «Выберите организацию»): posts its form with that pair. */
  pressValue(page: HttpPage, name: string, value: string): Promise<HttpPage> {
    return this.#submit(page, (f) => f.includes(`<button type="submit" name="${name}" value="${value}"`), `button ${name}=${value}`, { [name]: value })
  }

  #submit(page: HttpPage, has: (form: string) => boolean, what: string, fields: Record<string, string>): Promise<HttpPage> {
    const forms = page.body.match(/<form method="post"[\s\S]*?<\/form>/g) ?? []
    const form = forms.find(has)
    if (!form) throw new Error(`No ${what} on ${page.url.pathname} (${page.status}): ${page.body.slice(0, 300)}`)
    const action = /action="([^"]+)"/.exec(form)![1]!.replaceAll('&amp;', '&')
    const hidden = Object.fromEntries([...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
    return this.post(action, { ...hidden, ...fields }, page.url)
  }

  async #send(url: URL, opts: { method?: string; headers?: Record<string, string>; body?: string }): Promise<HttpPage> {
    const jar = this.#jars.get(url.origin) ?? new Map<string, string>()
    this.#jars.set(url.origin, jar)
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const page = await httpRequest(url, { ...opts, headers: { ...opts.headers, ...(cookie ? { cookie } : {}) }, localAddress: this.address })
    for (const line of page.headers['set-cookie'] ?? []) {
      const pair = line.split(';', 1)[0]!
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name)
      else jar.set(name, value)
    }
    const instance = page.headers['x-bridge-instance']
    if (typeof instance === 'string') this.instances.push(instance)
    return page
  }
}
