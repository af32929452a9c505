import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { ensureDemoAdmin } from '../../src/admin/accounts.js'
import { freePort } from '../../src/http/free-port.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { BOOTSTRAP_TOKEN, JOURNAL_CLIENT, TEST_SECRETS } from './app.js'
import { createTestDatabase, type TestDatabase } from './db.js'
import { httpRequest } from './http-browser.js'
import { startTestMockEsia, type TestMockEsia } from './mock-esia.js'

/**
 * A region as production runs it, on this machine: N bridge processes (`node src/server.ts`, what
 * `npm start` runs) on one PostgreSQL database, behind Debian's nginx balancing round-robin, with
 * one mock ЕСИА for all of them. Open-source nginx does not poll /readyz itself, so a health
 * checker here does what Kubernetes' endpoints, HAProxy's `httpchk` or nginx Plus' `health_check`
 * do: it polls each instance's /readyz and takes an instance that is not ready out of the upstream
 * (`down`, then a graceful nginx reload), putting it back once it answers 200.
 */
export const NGINX = process.env.NGINX_BINARY ?? '/usr/sbin/nginx'
export const nginxInstalled = (): boolean => existsSync(NGINX)
export const SUPPORT_LOGIN = 'admin'
export const SUPPORT_PASSWORD = 'region-support-password-0123456789'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** One bridge process; `start()` again after it exited is a restart on the same port. */
export class BridgeInstance {
  process: ChildProcess | undefined
  #exited: Promise<Exit> | undefined
  readonly url: string

  constructor(
    readonly index: number,
    readonly port: number,
    readonly env: Record<string, string>,
    readonly logFile: string,
  ) {
    this.url = `http://127.0.0.1:${port}`
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Spawns the process and waits until its /readyz answers 200. */
  async start(): Promise<void> {
    const log = openSync(this.logFile, 'a')
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: ROOT, env: { ...this.env, PORT: String(this.port) }, stdio: ['ignore', log, log] })
    closeSync(log)
    this.process = child
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    const deadline = Date.now() + 90_000
    for (;;) {
      const exit = await Promise.race([this.#exited, sleep(150).then(() => undefined)])
      if (exit) throw new Error(`bridge ${this.index} exited while starting (${exit.code ?? exit.signal}):\n${this.logTail()}`)
      if ((await this.readiness()) === 200) return
      if (Date.now() > deadline) throw new Error(`bridge ${this.index} not ready in 90 s:\n${this.logTail()}`)
    }
  }

  /** /readyz's status, or 0 when nothing answers. */
  async readiness(): Promise<number> {
    return httpRequest(new URL('/readyz', this.url), { timeoutMs: 1000 }).then(
      (r) => r.status,
      () => 0,
    )
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit & { ms: number }> {
    const t0 = Date.now()
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return { ...(await this.#exited!), ms: 0 }
    this.process.kill(signal)
    const exit = await this.#exited!
    return { ...exit, ms: Date.now() - t0 }
  }

  logTail(lines = 40): string {
    return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n')
  }
}

/** Debian's nginx in a prefix of its own: config, pid, logs and temp files in the region's directory. */
export class Nginx {
  process: ChildProcess | undefined
  #exited: Promise<Exit> | undefined
  readonly conf: string
  readonly accessLog: string
  readonly errorLog: string

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly upstreams: string[],
  ) {
    this.conf = path.join(dir, 'nginx.conf')
    this.accessLog = path.join(dir, 'access.log')
    this.errorLog = path.join(dir, 'error.log')
  }

  /**
   * The proxy of docs/operations.md, «The proxy», plus an `X-Bridge-Instance` header so
   * tests can see where each request went. nginx talks HTTP/1.0 to the bridges, a connection per
   * request, and passes a request on to the next bridge when one refuses the connection.
   */
  config(down: ReadonlySet<string>): string {
    const d = this.dir
    const servers = this.upstreams.map((a) => `    server ${a} max_fails=0${down.has(a) ? ' down' : ''};`).join('\n')
    return `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${this.errorLog} notice;
events { worker_connections 4096; }
http {
  log_format region '$msec $request_time "$upstream_addr" $status $request_method $uri';
  access_log ${this.accessLog} region;
  client_body_temp_path ${d}/body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  client_max_body_size 1100m;
  upstream bridge {
${servers}
  }
  server {
    listen 127.0.0.1:${this.port};
    location / {
      proxy_pass http://bridge;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      proxy_read_timeout 130s;
      proxy_request_buffering off;
      add_header X-Bridge-Instance $upstream_addr always;
    }
  }
}
`
  }

  async start(down: ReadonlySet<string> = new Set()): Promise<void> {
    await writeFile(this.conf, this.config(down))
    const child = spawn(NGINX, ['-p', this.dir, '-c', this.conf, '-e', this.errorLog, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (c: Buffer) => void (stderr += c.toString()))
    this.process = child
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    const deadline = Date.now() + 10_000
    for (;;) {
      const exit = await Promise.race([this.#exited, sleep(100).then(() => undefined)])
      if (exit) throw new Error(`nginx exited (${exit.code ?? exit.signal}): ${stderr}${readFileSync(this.errorLog, 'utf8')}`)
      const answered = await httpRequest(new URL(`http://127.0.0.1:${this.port}/healthz`), { timeoutMs: 1000 }).then(() => true, () => false)
      if (answered) return
      if (Date.now() > deadline) throw new Error(`nginx did not answer in 10 s: ${readFileSync(this.errorLog, 'utf8')}`)
    }
  }

  /** A graceful reload with instances marked down: new connections follow it, requests in flight finish. */
  async reload(down: ReadonlySet<string>): Promise<void> {
    await writeFile(this.conf, this.config(down))
    this.process?.kill('SIGHUP')
  }

  async stop(): Promise<void> {
    if (!this.process || this.process.exitCode !== null) return
    this.process.kill('SIGQUIT')
    const exit = await Promise.race([this.#exited!, sleep(10_000).then(() => undefined)])
    if (!exit) {
      this.process.kill('SIGKILL')
      await this.#exited
    }
  }

  /** The access log: when each request ended, how long it took, which bridge(s) it went to, its status. */
  requests(): { endedAt: number; seconds: number; upstreams: string[]; status: number; method: string; path: string }[] {
    return readFileSync(this.accessLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const m = /^(\S+) (\S+) "([^"]*)" (\d+) (\S+) (\S+)$/.exec(line)!
        return { endedAt: Number(m[1]) * 1000, seconds: Number(m[2]), upstreams: m[3]!.split(/\s*,\s*|\s+:\s+/).filter((u) => u && u !== '-'), status: Number(m[4]), method: m[5]!, path: m[6]! }
      })
  }
}

/** What a health-checking balancer does: polls /readyz, takes instances that are not ready out of nginx. */
export class HealthChecker {
  readonly #down = new Set<string>()
  readonly events: { at: number; instance: string; ready: boolean }[] = []
  #running: Promise<void> | undefined
  #stopped = false

  constructor(
    readonly instances: BridgeInstance[],
    readonly nginx: Nginx,
    readonly intervalMs = 200,
  ) {}

  get down(): ReadonlySet<string> {
    return this.#down
  }

  start(): void {
    this.#running = (async () => {
      while (!this.#stopped) {
        const statuses = await Promise.all(this.instances.map((i) => i.readiness()))
        let changed = false
        statuses.forEach((status, n) => {
          const instance = this.instances[n]!.address
          const ready = status === 200
          if (ready === this.#down.has(instance)) {
            changed = true
            if (ready) this.#down.delete(instance)
            else this.#down.add(instance)
            this.events.push({ at: Date.now(), instance, ready })
          }
        })
        if (changed) await this.nginx.reload(this.#down)
        await sleep(this.intervalMs)
      }
    })()
  }

  /** Resolves once the checker has taken `instance` out (false) or put it back (true). */
  async until(instance: BridgeInstance, ready: boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.#down.has(instance.address) === ready) {
      if (Date.now() > deadline) throw new Error(`health checker did not see bridge ${instance.index} ${ready ? 'ready' : 'not ready'}`)
      await sleep(50)
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#running
  }
}

export interface Region {
  /** nginx: the bridges' PUBLIC_URL. */
  url: string
  instances: BridgeInstance[]
  nginx: Nginx
  health: HealthChecker
  db: TestDatabase
  mock: TestMockEsia
  dir: string
  /** The environment every instance runs with (PORT apart). */
  env: Record<string, string>
  close(): Promise<void>
}

/**
 * Starts a region: database (cloned template + the demo directory + a support account), the mock
 * ЕСИА, `instances` bridges and nginx in front (`balancer: false`: one bridge, no nginx). `env` is
 * added to every instance's environment.
 */
export async function startRegion(opts: { instances?: number; env?: Record<string, string>; mockLatencyMs?: number; balancer?: boolean } = {}): Promise<Region> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-region-'))
  // nginx's workers run as `nobody` when the tests run as root: they must reach their temp paths.
  await chmod(dir, 0o755)
  const balancer = opts.balancer ?? true
  const ports = await Promise.all(Array.from({ length: opts.instances ?? 3 }, () => freePort()))
  // Without a balancer there is one instance, and it is the public address.
  const nginxPort = balancer ? await freePort() : ports[0]!
  const url = `http://127.0.0.1:${nginxPort}`
  const mock = await startTestMockEsia({ redirectUris: [`${url}/auth/callback`] })
  if (opts.mockLatencyMs) mock.setFaults({ latencyMs: opts.mockLatencyMs })
  const db = await createTestDatabase()
  await seedDemoDirectory(db.pool, TEST_SECRETS.snilsHmacKey)
  await ensureDemoAdmin(db.pool, SUPPORT_PASSWORD, SUPPORT_LOGIN)
  const clientsFile = path.join(dir, 'clients.json')
  await writeFile(clientsFile, JSON.stringify([JOURNAL_CLIENT]))

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    DATABASE_URL: db.url,
    CLIENTS_FILE: clientsFile,
    SNILS_HMAC_KEY: TEST_SECRETS.snilsHmacKey,
    COOKIE_SECRET: TEST_SECRETS.cookieSecret,
    KEYS_ENCRYPTION_KEY: TEST_SECRETS.keysEncryptionKey,
    BOOTSTRAP_ADMIN_TOKEN: BOOTSTRAP_TOKEN,
    // nginx connects from 127.0.0.1; the people in these tests come from other loopback addresses.
    TRUST_PROXY: '127.0.0.1',
    LOG_LEVEL: 'info',
    SHUTDOWN_DELAY_SECONDS: '1',
    SHUTDOWN_GRACE_SECONDS: '20',
    SIGNING_KEYS_REFRESH_SECONDS: '1',
    ...mock.bridgeEnv('esia'),
    ...opts.env,
  }
  const instances: BridgeInstance[] = []
  for (const [i, port] of ports.entries()) {
    const instanceDir = path.join(dir, `bridge-${i}`)
    await mkdir(instanceDir)
    instances.push(new BridgeInstance(i, port, { ...env, DATA_DIR: instanceDir }, path.join(dir, `bridge-${i}.log`)))
  }
  const nginx = new Nginx(path.join(dir, 'nginx'), nginxPort, instances.map((i) => i.address))
  await mkdir(nginx.dir, { mode: 0o755 })
  const health = new HealthChecker(instances, nginx)

  const close = async () => {
    await health.stop()
    await nginx.stop()
    await Promise.all(instances.map((i) => i.stop('SIGKILL')))
    await mock.close()
    await db.drop()
    if (!process.env.KEEP_REGION) await rm(dir, { recursive: true, force: true })
  }
  try {
    // All at once, as a fresh region's instances start: they share the migration lock and the first signing key.
    await Promise.all(instances.map((i) => i.start()))
    if (balancer) {
      await nginx.start()
      health.start()
    }
  } catch (err) {
    await close()
    throw err
  }
  return { url, instances, nginx, health, db, mock, dir, env, close }
}
