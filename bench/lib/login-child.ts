import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { startMockEsia, type Persona } from '../../src/mock-idp/index.js'

/**
 * The two processes `bench/login.ts` runs beside the bridge, so the bridge's own CPU can be measured
 * alone (process.cpuUsage covers every thread of a process, so worker threads would not do):
 *
 *   mock    the bundled mock ЕСИА with the benchmark's people (node --import tsx login-child.ts mock)
 *   driver  people's browsers and the journal's backend, doing whole logins over HTTP
 *
 * Both talk to the parent over the IPC channel: the parent sends a command, the child answers.
 */
export interface MockStart {
  personas: Persona[]
  clientId: string
  redirectUri: string
  publicKeyPem: string
}

export interface DriverStart {
  bridgeUrl: string
  clientId: string
  clientSecret: string
  redirectUri: string
  /**
   * Persona id → the journal user the login must end as. `children`: a parent whose ЕСИА account
   * lists children; the journal asks for scope `children` and the ID token must name that many.
   */
  people: { persona: string; journalUserId: string; children?: number }[]
}

/** `userinfo`: the journal's backend also asks /oauth2/userinfo with the access token. */
/**
 * `upTo`: stop after that step (the per-step CPU). `parents`: only the people with children (scope
 * `children`); otherwise only the others.
 */
export type DriverRun = ({ mode: 'closed'; logins: number; concurrency: number } | { mode: 'paced'; rate: number; seconds: number }) & { userinfo?: boolean; upTo?: 'authorize' | 'callback'; parents?: boolean }

/**
 * The requests of one login, each timed from the request's start to its answer's last byte:
 * `esia` is the mock ЕСИА's answer (not the bridge's), `login` the whole login.
 */
export const STEPS = ['authorize', 'esia', 'callback', 'token', 'userinfo', 'login'] as const
export type Step = (typeof STEPS)[number]

export interface DriverResult {
  logins: number
  failures: number
  firstFailure?: string
  seconds: number
  /** Latencies (ms) of the successful logins by step, each sorted; userinfo empty unless asked for. */
  stepMs: Record<Step, number[]>
  cpuSeconds: number
}

const send = (message: unknown) => process.send!(message)
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

// ── mock ────────────────────────────────────────────────────────────────────────────────────────

async function runMock(start: MockStart) {
  const mock = await startMockEsia({
    port: 0,
    host: '127.0.0.1',
    personas: start.personas,
    // ЕСИА's live session: a person who logged in before is sent straight back with a code, so the
    // mock's page does not weigh on the machine the bridge is measured on (the bridge's work is the same).
    singleSignOn: true,
    clients: [{ clientId: start.clientId, name: 'esia-bridge (бенчмарк)', redirectUris: [start.redirectUri], publicKey: start.publicKeyPem }],
  })
  let since = process.cpuUsage()
  process.on('message', (m: { type: string }) => {
    if (m.type === 'cpu') {
      send({ type: 'cpu', cpuSeconds: cpuSeconds(since) })
      since = process.cpuUsage()
    }
    if (m.type === 'stop') void mock.close().then(() => process.exit(0))
  })
  send({ type: 'ready', url: mock.url })
}

// ── driver ──────────────────────────────────────────────────────────────────────────────────────

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })

interface Answer {
  status: number
  location: string | undefined
  setCookie: string[]
  body: string
}

function request(url: URL, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookie: res.headers['set-cookie'] ?? [], body: Buffer.concat(chunks).toString('utf8') }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

/**
 * One person's browser: a cookie jar per origin that keeps what a browser keeps of a cookie — its
 * path (a cookie goes only to requests under it) and its removal (Max-Age=0) — so the bridge sees
 * the Cookie headers a real browser would send.
 */
class BrowserJar {
  readonly #jars = new Map<string, Map<string, { value: string; path: string }>>()
  header(url: URL): Record<string, string> {
    const jar = this.#jars.get(url.origin)
    if (!jar || jar.size === 0) return {}
    const sent: string[] = []
    for (const [k, c] of jar) if (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) sent.push(`${k}=${c.value}`)
    return sent.length ? { cookie: sent.join('; ') } : {}
  }
  store(url: URL, answer: Answer): void {
    let jar = this.#jars.get(url.origin)
    if (!jar) this.#jars.set(url.origin, (jar = new Map()))
    for (const line of answer.setCookie) {
      const [pair, ...attributes] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || /max-age=0/i.test(line)) {
        jar.delete(name)
        continue
      }
      const path = attributes.map((a) => a.trim()).find((a) => /^path=/i.test(a))?.slice(5) ?? '/'
      jar.set(name, { value, path })
    }
  }
}

const b64url = (b: Buffer) => b.toString('base64url')

interface Person {
  persona: string
  journalUserId: string
  children?: number
  jar: BrowserJar
}

/** People free to log in, and logins waiting for one: a queue per group (parents with children, the others). */
class Group {
  readonly free: Person[] = []
  readonly waiting: ((p: Person) => void)[] = []
}

class Driver {
  readonly #groups = { plain: new Group(), parents: new Group() }
  readonly #basic: string

  constructor(readonly start: DriverStart) {
    for (const p of start.people) this.#groups[p.children !== undefined ? 'parents' : 'plain'].free.push({ ...p, jar: new BrowserJar() })
    this.#basic = `Basic ${Buffer.from(`${encodeURIComponent(start.clientId)}:${encodeURIComponent(start.clientSecret)}`).toString('base64')}`
  }

  // Each person logs in once at a time, from their own browser (their link row is never contended by themselves).
  async #take(group: Group) {
    const p = group.free.shift()
    return p ?? new Promise<Person>((resolve) => group.waiting.push(resolve))
  }
  #give(group: Group, p: Person) {
    const next = group.waiting.shift()
    if (next) next(p)
    else group.free.push(p)
  }

  /** One whole login; returns each step's latency in ms. */
  async login(userinfo: boolean, upTo?: DriverRun['upTo'], parents = false): Promise<Partial<Record<Step, number>>> {
    const group = this.#groups[parents ? 'parents' : 'plain']
    const person = await this.#take(group)
    try {
      return await this.#login(person, userinfo, upTo)
    } finally {
      this.#give(group, person)
    }
  }

  async #step(jar: BrowserJar, url: URL, opts: Parameters<typeof request>[1] = {}): Promise<Answer> {
    const answer = await request(url, { ...opts, headers: { ...opts.headers, ...jar.header(url) } })
    jar.store(url, answer)
    return answer
  }

  async #login({ persona, journalUserId, children, jar }: Person, userinfo: boolean, upTo?: DriverRun['upTo']): Promise<Partial<Record<Step, number>>> {
    const { bridgeUrl, clientId, redirectUri } = this.start
    const ms: Partial<Record<Step, number>> = {}
    const start = performance.now()
    let t0 = start
    const lap = (step: Step) => {
      const t = performance.now()
      ms[step] = t - t0
      t0 = t
    }
    // The journal: state, nonce, PKCE.
    const state = b64url(randomBytes(32))
    const verifier = b64url(randomBytes(32))
    const authorize = new URL('/oauth2/authorize', bridgeUrl)
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: children !== undefined ? 'openid children' : 'openid', state, nonce: b64url(randomBytes(32)),
      code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    })) authorize.searchParams.set(k, v)

    const toEsia = await this.#step(jar, authorize)
    lap('authorize')
    if (toEsia.status !== 303 || !toEsia.location) throw new Error(`authorize answered ${toEsia.status}: ${toEsia.body.slice(0, 200)}`)
    if (upTo === 'authorize') return ms
    const esiaUrl = new URL(toEsia.location)
    let picked = await this.#step(jar, esiaUrl)
    if (picked.status === 200) {
      // The person's first visit: the persona page, and «Войти» as this persona.
      const tx = /name="tx" value="([^"]+)"/.exec(picked.body)?.[1]
      if (!tx) throw new Error('mock ЕСИА showed no login form')
      picked = await this.#step(jar, new URL('/login', esiaUrl.origin), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ tx, persona, action: 'login' }).toString(),
      })
    }
    if (picked.status !== 302 || !picked.location) throw new Error(`mock ЕСИА answered ${picked.status}`)
    lap('esia')

    const back = await this.#step(jar, new URL(picked.location))
    lap('callback')
    if (back.status !== 303 || !back.location?.startsWith(redirectUri)) throw new Error(`callback answered ${back.status} → ${back.location ?? back.body.slice(0, 200)}`)
    const answer = new URL(back.location)
    if (answer.searchParams.get('state') !== state) throw new Error('state mismatch')
    if (upTo === 'callback') return ms

    // The journal's backend redeems the code.
    const token = await request(new URL('/oauth2/token', bridgeUrl), {
      method: 'POST',
      headers: { authorization: this.#basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: answer.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
    })
    lap('token')
    if (token.status !== 200) throw new Error(`token endpoint answered ${token.status}: ${token.body.slice(0, 200)}`)
    const tokens = JSON.parse(token.body) as { id_token: string; access_token: string }
    const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; children?: string[] }
    if (claims.sub !== journalUserId) throw new Error(`logged in as ${claims.sub}, expected ${journalUserId}`)
    if (children !== undefined && claims.children?.length !== children) throw new Error(`the ID token names ${claims.children?.length ?? 'no'} confirmed children, expected ${children}`)

    if (userinfo) {
      t0 = performance.now()
      const claims = await request(new URL('/oauth2/userinfo', bridgeUrl), { headers: { authorization: `Bearer ${tokens.access_token}` } })
      lap('userinfo')
      if (claims.status !== 200) throw new Error(`userinfo answered ${claims.status}: ${claims.body.slice(0, 200)}`)
      if ((JSON.parse(claims.body) as { sub: string }).sub !== journalUserId) throw new Error('userinfo names another journal user')
    }
    ms.login = performance.now() - start
    return ms
  }

  async run(run: DriverRun): Promise<DriverResult> {
    const since = process.cpuUsage()
    const stepMs = Object.fromEntries(STEPS.map((s) => [s, [] as number[]])) as Record<Step, number[]>
    let logins = 0
    let failures = 0
    let firstFailure: string | undefined
    const one = () =>
      this.login(run.userinfo ?? false, run.upTo, run.parents).then(
        (ms) => {
          logins++
          for (const step of STEPS) if (ms[step] !== undefined) stepMs[step].push(ms[step])
        },
        (err: Error) => {
          failures++
          firstFailure ??= err.message
        },
      )
    const t0 = performance.now()
    if (run.mode === 'closed') {
      let started = 0
      await Promise.all(Array.from({ length: run.concurrency }, async () => {
        while (started < run.logins) {
          started++
          await one()
        }
      }))
    } else {
      // Open loop: logins start on a fixed schedule whatever the answers' speed.
      const total = Math.round(run.rate * run.seconds)
      const inFlight: Promise<void>[] = []
      for (let i = 0; i < total; i++) {
        const due = t0 + (i * 1000) / run.rate
        const wait = due - performance.now()
        if (wait > 1) await new Promise((r) => setTimeout(r, wait))
        inFlight.push(one())
      }
      await Promise.all(inFlight)
    }
    const seconds = (performance.now() - t0) / 1000
    for (const step of STEPS) stepMs[step].sort((a, b) => a - b)
    return { logins, failures, ...(firstFailure ? { firstFailure } : {}), seconds, stepMs, cpuSeconds: cpuSeconds(since) }
  }
}

/** The HTTP floor: `requests` GET /healthz, `concurrency` at a time, on the same kept-alive sockets. */
async function ping(bridgeUrl: string, requests: number, concurrency: number): Promise<void> {
  const url = new URL('/healthz', bridgeUrl)
  let started = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (started < requests) {
      started++
      const answer = await request(url)
      if (answer.status !== 200) throw new Error(`/healthz answered ${answer.status}`)
    }
  }))
}

async function runDriver(start: DriverStart) {
  const driver = new Driver(start)
  process.on('message', (m: { type: string; run?: DriverRun; requests?: number; concurrency?: number }) => {
    if (m.type === 'run') void driver.run(m.run!).then((result) => send({ type: 'result', result }))
    if (m.type === 'ping') void ping(start.bridgeUrl, m.requests!, m.concurrency!).then(() => send({ type: 'pong' }))
    if (m.type === 'stop') process.exit(0)
  })
  send({ type: 'ready' })
}

// ── entry ───────────────────────────────────────────────────────────────────────────────────────

const role = process.argv[2]
process.once('message', (start: MockStart | DriverStart) => {
  if (role === 'mock') void runMock(start as MockStart)
  else if (role === 'driver') void runDriver(start as DriverStart)
})
process.on('disconnect', () => process.exit(0))
