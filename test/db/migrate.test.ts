import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { migrate, pendingMigrations } from '../../src/db/migrate.js'
import { databaseUrlFor } from '../helpers/db-admin.js'

describe('migrations at start-up', () => {
  it('lets several instances start together on an empty database: one migrates, the others wait, each migration runs once', async () => {
    const adminUrl = inject('databaseAdminUrl')
    const name = `esia_t_${process.pid}_${randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: adminUrl })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    const url = databaseUrlFor(adminUrl, name)
    try {
      await Promise.all([migrate(url), migrate(url), migrate(url)])
      const db = new pg.Client({ connectionString: url })
      await db.connect()
      try {
        const { rows } = await db.query<{ name: string; n: number }>('SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name')
        expect(rows.length).toBeGreaterThan(0)
        expect(rows.every((r) => r.n === 1)).toBe(true)
        expect(await pendingMigrations(db)).toEqual([])
      } finally {
        await db.end()
      }
    } finally {
      // node-pg-migrate ends its connections without waiting for them: a forced drop could cut one
      // mid-goodbye, an error no one listens to. Let them go first (a few milliseconds).
      for (let i = 0; i < 100; i++) {
        const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])
        if (rows[0]!.n === 0) break
        await new Promise((r) => setTimeout(r, 50))
      }
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  })
})
