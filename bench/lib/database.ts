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

export async function startBenchServer(): Promise<BenchServer> {
  const url = process.env.DATABASE_URL
  if (url) return { adminUrl: url, kind: 'DATABASE_URL', stop: async () => {} }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-bench-'))
  // Run as root, the embedded server runs as the `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o777)
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
