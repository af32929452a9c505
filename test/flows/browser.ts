import type { App } from '../../src/app.js'

/**
 * A person's browser, reduced to what the flows depend on: a cookie jar, GET, and submitting the
 * forms of the page it is on (with the hidden CSRF field the page carries). Requests go through
 * the real app (`inject`); redirects are returned, not followed, so tests see every hop.
 */
export interface Page {
  status: number
  location: string | undefined
  body: string
}

export class Browser {
  readonly cookies = new Map<string, string>()
  /** The Set-Cookie lines of the last answer, as sent. */
  lastSetCookie: string[] = []
  constructor(readonly app: App) {}

  #cookieHeader(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}
  }

  #remember(res: { cookies: { name: string; value: string; maxAge?: number; expires?: Date }[]; headers: Record<string, unknown> }): void {
    const lines = res.headers['set-cookie']
    this.lastSetCookie = lines === undefined ? [] : Array.isArray(lines) ? lines.map(String) : [String(lines)]
    for (const c of res.cookies) {
      if (c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
  }

  async get(url: string): Promise<Page> {
    const u = new URL(url, 'http://bridge.invalid')
    const res = await this.app.inject({ method: 'GET', url: `${u.pathname}${u.search}`, headers: this.#cookieHeader() })
    this.#remember(res)
    return { status: res.statusCode, location: res.headers.location as string | undefined, body: res.body }
  }

  async post(url: string, fields: Record<string, string>): Promise<Page> {
    const res = await this.app.inject({
      method: 'POST',
      url,
      headers: { ...this.#cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    })
    this.#remember(res)
    return { status: res.statusCode, location: res.headers.location as string | undefined, body: res.body }
  }

  /** Presses the button labelled `label` on `page`: posts its form with the hidden fields it carries (the CSRF token among them). */
  press(page: Page, label: string): Promise<Page> {
    const forms = page.body.match(/<form method="post"[\s\S]*?<\/form>/g) ?? []
    const form = forms.find((f) => f.includes(`>${label}</button>`))
    if (!form) throw new Error(`No button «${label}» on the page`)
    const action = /action="([^"]+)"/.exec(form)![1]!
    const hidden = [...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, decodeEntities(m[2]!)])
    return this.post(decodeEntities(action), Object.fromEntries(hidden))
  }
}

const decodeEntities = (text: string): string =>
  text
    .replace(/&laquo;/g, '«')
    .replace(/&raquo;/g, '»')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')

/** The visible text of a page, entities decoded and whitespace collapsed, for reading assertions. */
export function textOf(body: string): string {
  return decodeEntities(body.replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim()
}
