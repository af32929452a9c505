import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { runner } from 'node-pg-migrate'
import type { Queryable } from './pool.js'

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url))
const MIGRATIONS_TABLE = 'schema_migrations'

/**
 * Applies pending SQL migrations. node-pg-migrate takes a PostgreSQL advisory lock, so several
 * instances starting at once apply each migration exactly once: the others wait for the lock
 * (its default is to fail, which stopped every instance but one of a region starting together)
 * and then find nothing left to do.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<void> {
  await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log,
  })
}

/** For /readyz: are all migrations shipped with this build applied? */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, ''))
  const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`).catch(() => ({ rows: [] as { name: string }[] }))
  const applied = new Set(rows.map((r) => r.name))
  return files.filter((f) => !applied.has(f))
}
