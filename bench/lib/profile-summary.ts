import { readFile } from 'node:fs/promises'

/**
 * What a V8 CPU profile (`.cpuprofile`: `node --cpu-prof`, or the inspector's Profiler.stop) says
 * in a few lines: where the process spent its busy time by self time — per function and per
 * owner (our src/, a package of node_modules, Node's internals, the garbage collector). Idle time
 * is left out, so the shares are shares of the CPU the process used while sampled.
 */
interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
}
export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileLine {
  name: string
  ms: number
  share: number
}

export interface ProfileSummary {
  busyMs: number
  functions: ProfileLine[]
  owners: ProfileLine[]
}

/** Who a frame belongs to: a package, our own code, Node, or V8's pseudo-frames. */
export function ownerOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const own = /\/(src|bench)\/(.+?)\.ts$/.exec(url)
  if (own) return `${own[1]}/${own[2]!.split('/')[0]}`
  return url
}

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/')

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const functions = new Map<string, number>()
  const owners = new Map<string, number>()
  let busy = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)
    // Each delta is the time before the sample; it is the best estimate of the sample's weight.
    const us = profile.timeDeltas[i] ?? 0
    if (!node || node.callFrame.functionName === '(idle)') continue
    busy += us
    const f = node.callFrame
    const key = f.url ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}` : f.functionName
    functions.set(key, (functions.get(key) ?? 0) + us)
    const owner = ownerOf(f)
    owners.set(owner, (owners.get(owner) ?? 0) + us)
  }
  const lines = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }))
  return { busyMs: busy / 1000, functions: lines(functions), owners: lines(owners) }
}

/** The summary as lines to print; `per` divides the times (e.g. by the logins of the phase). */
export function formatProfileSummary(summary: ProfileSummary, opts: { per?: number; perLabel?: string; top?: number } = {}): string[] {
  const per = opts.per ?? 1
  const label = opts.perLabel ?? 'ms'
  const row = (l: ProfileLine) => `${(l.share * 100).toFixed(1).padStart(5)} %  ${(l.ms / per).toFixed(3).padStart(7)} ${label}  ${l.name}`
  const top = opts.top ?? 15
  return [
    `busy ${(summary.busyMs / per).toFixed(3)} ${label} sampled; by owner (self time):`,
    ...summary.owners.slice(0, 10).map(row),
    `top ${top} functions by self time:`,
    ...summary.functions.slice(0, top).map(row),
  ]
}

/** A sampling heap profile (`.heapprofile`): bytes allocated by function, most first. */
interface HeapNode {
  callFrame: CallFrame
  selfSize: number
  children: HeapNode[]
}

export function summarizeAllocations(profile: { head: HeapNode }, top = 15): { totalBytes: number; functions: { name: string; bytes: number }[] } {
  const bytes = new Map<string, number>()
  let total = 0
  const walk = (node: HeapNode) => {
    const f = node.callFrame
    const key = f.url ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}` : f.functionName || '(native)'
    total += node.selfSize
    bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  return { totalBytes: total, functions: [...bytes].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, b]) => ({ name, bytes: b })) }
}

// `node --import tsx bench/lib/profile-summary.ts FILE.cpuprofile [TOP]`: the summary of any profile.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/profile-summary.ts FILE.cpuprofile [TOP]\n')
    process.exit(2)
  }
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const n = Number(top ?? 25)
  for (const line of formatProfileSummary(summarizeProfile(profile, n), { top: n })) process.stdout.write(`${line}\n`)
}
