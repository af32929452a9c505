import type { AxeResults } from 'axe-core'

/**
 * Functions run inside the browser page (Playwright's `page.evaluate`): each is sent as its source
 * text, so each is self-contained. The few DOM types they use are declared here, for this file
 * alone, rather than giving the whole project (server code included) the DOM library.
 */
interface Rect {
  left: number
  top: number
  right: number
  bottom: number
  width: number
  height: number
}
interface Node {
  tagName: string
  textContent: string | null
  labels?: ArrayLike<Node> | null
  id: string
  classList: Iterable<string>
  outerHTML: string
  parentElement: Node | null
  getBoundingClientRect(): Rect
  matches(selector: string): boolean
}
interface Style {
  outlineStyle: string
  outlineWidth: string
  outlineColor: string
  boxShadow: string
  backgroundColor: string
}

declare const document: {
  scrollingElement: { scrollWidth: number; clientWidth: number } | null
  documentElement: { scrollWidth: number; clientWidth: number }
  body: { querySelectorAll(selector: string): Iterable<Node> }
  activeElement: Node | null
}
declare const window: {
  axe: { run(context: unknown, options: object): Promise<AxeResults> }
  innerWidth: number
  innerHeight: number
  getComputedStyle(e: Node): Style
}

export interface Violation {
  id: string
  impact: string
  help: string
  nodes: { target: string; html: string }[]
}

/** axe-core (already in the page) with the given rule tags; the violations only. */
export async function runAxe(tags: string[]): Promise<Violation[]> {
  const results = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact ?? 'unknown',
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html })),
  }))
}

/** How far the page scrolls sideways, and the outermost elements that stick out (their parent still fits). */
export function sidewaysScroll(): { extra: number; sticking: string[] } | undefined {
  const root = document.scrollingElement ?? document.documentElement
  const extra = root.scrollWidth - root.clientWidth
  if (extra <= 0) return undefined
  const out = (e: Node | null) => e !== null && e.getBoundingClientRect().right > root.clientWidth + 0.5
  const sticking = [...document.body.querySelectorAll('*')].filter((e) => out(e) && !(e.parentElement && e.parentElement.tagName !== 'BODY' && out(e.parentElement)))
  const name = (e: Node) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${[...e.classList].map((c) => `.${c}`).join('')}`
  return { extra, sticking: sticking.slice(0, 3).map((e) => `${name(e)}: ${e.outerHTML.slice(0, 120)}`) }
}

export interface FocusState {
  /** tag, id, classes and start of the markup of the focused element, for messages */
  element: string
  /** what it says: a field's label, a button's or a link's text */
  text: string
  inViewport: boolean
  focusVisible: boolean
  /** the computed outline, or the box shadow where there is no outline */
  indicator: string
  /** of the outline against the background around it (WCAG 1.4.11 wants 3:1); 0 without an outline */
  contrast: number
}

/** The focused element: is it on screen, and does it show a focus indicator that stands out? */
export function focusState(): FocusState | undefined {
  const e = document.activeElement
  if (!e || e.tagName === 'BODY' || e.tagName === 'HTML') return undefined
  const r = e.getBoundingClientRect()
  const style = window.getComputedStyle(e)
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
  const shadow = style.boxShadow !== 'none'

  const rgba = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
  const luminance = (c: number[]) => {
    const [r, g, b] = c.slice(0, 3).map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
  }
  // The outline is drawn outside the element: next to it is the first opaque background around it.
  let around = [255, 255, 255]
  for (let p = e.parentElement; p; p = p.parentElement) {
    const bg = rgba(window.getComputedStyle(p).backgroundColor)
    if (bg.length === 3 || (bg[3] ?? 0) > 0.5) {
      around = bg
      break
    }
  }
  const [hi, lo] = [luminance(rgba(style.outlineColor)), luminance(around)].sort((a, b) => b - a)
  return {
    element: `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${[...e.classList].map((c) => `.${c}`).join('')}: ${e.outerHTML.slice(0, 160)}`,
    text: ((e.labels && e.labels.length > 0 ? e.labels[0]!.textContent : e.textContent) ?? '').replace(/\s+/g, ' ').trim(),
    inViewport: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < window.innerHeight && r.left < window.innerWidth,
    focusVisible: e.matches(':focus-visible'),
    indicator: outline ? `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}` : shadow ? style.boxShadow : 'none',
    contrast: outline ? Math.round(((hi! + 0.05) / (lo! + 0.05)) * 100) / 100 : 0,
  }
}
