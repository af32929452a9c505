import { readdirSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/migrate.js'

/**
 * The PostgreSQL a benchmark runs on: DATABASE_URL's server when set, else an embedded PostgreSQL
 * in a temporary directory (default settings, as `npm start` would run it). Each benchmark gets a
 * fresh migrated database of its own and it is dropped afterwards.
 */
export interface BenchServer {
  adminUrl: string
  kind: 'DATABASE_URL' | 'embedded'
  stop(): Promise<void>
}

const TICKS_PER_SECOND = 100

function statFields(pid: number): string[] {
  // Fields after the command name, which may itself contain spaces and parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * CPU seconds used so far by a PostgreSQL server on this machine: the postmaster, its live children
 * (backends, checkpointer, WAL writer…) and the children it has reaped. Undefined when the server
 * is not local or /proc is not readable. On a server shared with other work, that work counts too.
 */
export async function databaseCpu(server: BenchServer): Promise<(() => number) | undefined> {
  try {
    // The parent of our backend, read while the backend still lives.
    const postmaster = await admin(server.adminUrl, async (c) => Number(statFields((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)[1]))
    return () => {
      const own = statFields(postmaster)
      let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        try {
          const f = statFields(Number(entry))
          if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12])
        } catch {
          // The process ended meanwhile; its time is now in the postmaster's reaped-children total.
        }
      }
      return ticks / TICKS_PER_SECOND
    }
  } catch {
    return undefined
  }
}

/**
 * Server settings of a production deployment (docker-compose.yml), applied to the embedded server:
 * measuring a two-million-user directory on the 128 MB of shared buffers PostgreSQL ships with would
 * measure page eviction, not the service. DATABASE_URL's server is used as it is configured.
 */
const PRODUCTION_SETTINGS: Record<string, string> = {
  shared_buffers: '1GB',
  max_wal_size: '4GB',
  checkpoint_completion_target: '0.9',
  maintenance_work_mem: '256MB',
}
export const SHOWN_SETTINGS = ['shared_buffers', 'max_wal_size', 'work_mem', 'synchronous_commit', 'fsync']

export async function startBenchServer(): Promise<BenchServer> {
  const url = process.env.DATABASE_URL
  if (url) return { adminUrl: url, kind: 'DATABASE_URL', stop: async () => {} }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-bench-'))
  // Run as root, the embedded server runs as the `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o777)
  const first = await startEmbeddedPostgres(path.join(dir, 'pg'))
  await admin(first.url, async (c) => {
    for (const [name, value] of Object.entries(PRODUCTION_SETTINGS)) await c.query(`ALTER SYSTEM SET ${name} = '${value}'`)
  })
  // shared_buffers takes a restart.
  await first.stop()
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pg'))
  return {
    adminUrl: embedded.url,
    kind: 'embedded',
    async stop() {
      await embedded.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export async function serverSettings(server: BenchServer): Promise<string> {
  return admin(server.adminUrl, async (c) => {
    const { rows } = await c.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name`,
      [SHOWN_SETTINGS],
    )
    const version = (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v
    return `PostgreSQL ${version}: ${rows.map((r) => `${r.name}=${r.setting}`).join(', ')}`
  })
}

export interface BenchDatabase {
  url: string
  drop(): Promise<void>
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

export async function freshDatabase(server: BenchServer, bench: string): Promise<BenchDatabase> {
  const name = `esia_bench_${process.pid}_${bench.replace(/\W/g, '_')}`
  await admin(server.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => c.query(`CREATE DATABASE ${name}`)))
  const url = new URL(server.adminUrl)
  url.pathname = `/${name}`
  await migrate(url.toString())
  return {
    url: url.toString(),
    drop: () => admin(server.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  }
}
