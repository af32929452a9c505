import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, extname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The repository stands on its own: whoever picks it up has only what is in it. So every relative
 * Markdown link resolves (to a file, and to a heading when it has an #anchor), every `….md` a
 * comment names exists, a citation of a docs file or the README with a «Heading» names a heading
 * that exists, and nothing cites the design inputs that were never part of the repository.
 */

const ROOT = resolve(import.meta.dirname, '../..')
const SKIP_DIRS = new Set(['node_modules', '.git', '.data', 'dist', 'coverage'])
const BINARY = new Set(['.png', '.jpg', '.jpeg', '.gif', '.ico', '.pdf', '.zip', '.gz', '.woff', '.woff2', '.cer', '.der', '.p12'])

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue
    const path = join(dir, name)
    const st = statSync(path)
    if (st.isDirectory()) walk(path, out)
    else if (st.isFile() && !BINARY.has(extname(name).toLowerCase()) && st.size < 5_000_000) out.push(path)
  }
  return out
}

const FILES = walk(ROOT)
const MARKDOWN = FILES.filter((f) => f.endsWith('.md'))
const CODE = FILES.filter((f) => !f.endsWith('.md') && !/package-lock\.json$|openapi\.json$/.test(f))
const rel = (f: string) => relative(ROOT, f)

/** Markdown without fenced code blocks and inline code, where links are not links. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '')
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
  for (const m of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '')
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Heading texts of a Markdown file, and the bold leads of paragraphs («**Who hears what.**»), as a citation «…» quotes them. */
function headings(markdown: string): string[] {
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
  return [...withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*$/gm), ...withoutFences.matchAll(/^(?:[-*]\s+)?\*\*(.+?)\.?\*\*/gm)].map((m) => m[1]!)
}

const read = (f: string) => readFileSync(f, 'utf8')

describe('the repository stands on its own', () => {
  it('finds the documentation', () => {
    for (const f of ['README.md', 'docs/README.md', 'docs/architecture.md', 'docs/esia.md', 'docs/matching.md', 'docs/security.md', 'docs/operations.md', 'docs/sources.md']) {
      expect(existsSync(join(ROOT, f)), f).toBe(true)
    }
  })

  it('every relative Markdown link resolves, to a heading when it has an anchor', () => {
    const broken: string[] = []
    for (const file of MARKDOWN) {
      const text = prose(read(file))
      const targets = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!)
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
        const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined]
        const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart))
        if (!existsSync(path)) {
          broken.push(`${rel(file)}: ${target} (no such file)`)
          continue
        }
        if (anchor && path.endsWith('.md') && !anchors(read(path)).has(decodeURIComponent(anchor).toLowerCase())) {
          broken.push(`${rel(file)}: ${target} (no such heading)`)
        }
      }
    }
    expect(broken).toEqual([])
  })

  it('every .md file a comment or a file of code names exists', () => {
    const missing: string[] = []
    for (const file of CODE) {
      const text = read(file).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '')
      for (const m of text.matchAll(/(?<![\w./-])((?:\.{1,2}\/)?[\w][\w./-]*\.md)\b/g)) {
        const name = m[1]!
        const candidates = [resolve(dirname(file), name), join(ROOT, name), join(ROOT, 'docs', name)]
        if (!candidates.some((c) => existsSync(c))) missing.push(`${rel(file)}: ${name}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('a citation of a docs file with its «Heading» names a heading of that file', () => {
    const wrong: string[] = []
    for (const file of [...CODE, ...MARKDOWN]) {
      // Comments wrap: join the lines and drop their comment markers before reading citations.
      const text = read(file).replace(/\s*\n\s*(?:\*(?!\/)|\/\/|--|#)?\s*/g, ' ')
      for (const m of text.matchAll(/(docs\/[\w./-]+\.md|README(?:\.md)?),? «/g)) {
        const target = join(ROOT, m[1]!.startsWith('README') ? 'README.md' : m[1]!)
        if (!existsSync(target)) continue // the test above reports it
        const rest = text.slice(m.index + m[0].length)
        const ok = headings(read(target)).some((h) => rest.startsWith(`${h}»`))
        if (!ok) wrong.push(`${rel(file)}: ${m[1]}, «${rest.slice(0, 60)}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('nothing cites the design inputs that are not part of the repository', () => {
    // Built from pieces so that this file does not match itself.
    const banned = [new RegExp(['DESIGN', '\\.md'].join('')), new RegExp(['STYLE', '\\.md'].join('')), new RegExp(['research', '\\/'].join('')), new RegExp(['\\.\\.\\/', 'shared'].join('')), new RegExp(['\\bseeds?', ' ?\\d{3}\\b'].join(''), 'i')]
    const hits: string[] = []
    for (const file of FILES) {
      const lines = read(file).split('\n')
      lines.forEach((line, i) => {
        for (const re of banned) if (re.test(line)) hits.push(`${rel(file)}:${i + 1}: ${line.trim().slice(0, 120)}`)
      })
    }
    expect(hits).toEqual([])
  })
})
