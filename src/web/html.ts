/**
 * Server-rendered pages are built with this tagged template: every interpolated value is
 * HTML-escaped unless it is itself an `Html` fragment made by `html` or `raw`. Written here (30
 * lines) rather than pulling a template engine: pages are small, typed TypeScript functions, and
 * the one property that matters — nothing unescaped by accident — is easy to see in full.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

type Part = Html | string | number | boolean | null | undefined | readonly Part[]

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return ''
  if (part instanceof Html) return part.value
  if (Array.isArray(part)) return part.map(render).join('')
  return escapeHtml(String(part))
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

/** Trusted markup only (constants in code), never data. */
export const raw = (markup: string): Html => new Html(markup)
