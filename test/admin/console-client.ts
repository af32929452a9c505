import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/app.js'

/**
 * A browser stand-in for console tests over `inject`: keeps cookies, follows nothing by itself,
 * and fills the CSRF token from the last page it read, as a real form would.
 */
export class ConsoleClient {
  readonly cookies = new Map<string, string>()
  csrf = ''

  constructor(private readonly app: App) {}

  private remember(res: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      if (c.value === '' || c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1]
    if (token) this.csrf = token
    return res
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.remember(await this.app.inject({ method: 'GET', url, headers: { cookie: this.cookieHeader() } }))
  }

  async post(url: string, form: Record<string, string | string[]> = {}, opts: { csrf?: boolean } = {}): Promise<LightMyRequestResponse> {
    const params = new URLSearchParams()
    if (opts.csrf !== false) params.set('_csrf', this.csrf)
    for (const [k, v] of Object.entries(form)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one)
    return this.remember(
      await this.app.inject({ method: 'POST', url, payload: params.toString(), headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' } }),
    )
  }

  /** A form with a file (multipart/form-data), as a browser sends `<input type=file>`. */
  async postFile(url: string, fields: Record<string, string>, file: { field: string; name: string; type: string; content: Buffer | string }): Promise<LightMyRequestResponse> {
    const boundary = `----esia-bridge-test-${Date.now().toString(16)}`
    const parts: Buffer[] = []
    for (const [k, v] of Object.entries({ _csrf: this.csrf, ...fields })) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`))
    }
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`))
    parts.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content))
    parts.push(Buffer.from(`\r\n--${boundary}--\r\n`))
    return this.remember(
      await this.app.inject({ method: 'POST', url, payload: Buffer.concat(parts), headers: { cookie: this.cookieHeader(), 'content-type': `multipart/form-data; boundary=${boundary}` } }),
    )
  }

  async login(login: string, password: string): Promise<LightMyRequestResponse> {
    await this.get('/admin/login')
    return this.post('/admin/login', { login, password })
  }
}

/** The page text without tags, for asserting what a person reads. */
export const pageText = (res: LightMyRequestResponse): string =>
  res.body.replace(/<[^>]+>/g, ' ').replace(/&laquo;|&raquo;/g, '"').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ')
