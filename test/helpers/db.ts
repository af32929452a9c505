import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { createPool, type Pool } from '../../src/db/pool.js'
import { databaseUrlFor } from './db-admin.js'

export interface TestDatabase {
  url: string
  pool: Pool
  drop(): Promise<void>
}

/** A fresh database cloned from the migrated template: tests of one file never see another's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('databaseAdminUrl')
  const template = inject('templateDatabase')
  const name = `esia_t_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`)
  } finally {
    await admin.end()
  }
  const url = databaseUrlFor(adminUrl, name)
  const pool = createPool(url, 10)
  return {
    url,
    pool,
    async drop() {
      await pool.end()
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
      await c.end()
    },
  }
}
