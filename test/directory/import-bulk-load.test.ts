import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importDirectory, ImportFileError } from '../../src/directory/import/import.js'
import { buildTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { csv, putOrganization, snils } from './fixtures.js'

/**
 * A region's first import goes into an empty directory; its secondary indexes and foreign key are
 * built and checked once at the end rather than row by row (src/directory/import/bulk-load.ts). Whatever happens, the directory
 * ends up with exactly the indexes the migrations define.
 */
describe('the first import into an empty directory', () => {
  let t: TestApp
  const indexes = async () => [
    ...(await t.db.pool.query<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'journal_users' ORDER BY indexname`)).rows.map((r) => r.def),
    ...(await t.db.pool.query<{ def: string }>(`SELECT conname || ' ' || pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'journal_users'::regclass ORDER BY conname`)).rows.map((r) => r.def),
  ]
  const run = (body: string) =>
    importDirectory(t.db.pool, Readable.from([Buffer.from(body, 'utf8')]), { snilsKey: TEST_SECRETS.snilsHmacKey, actor: { kind: 'system', id: 'test' } })
  let migrated: string[]

  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'school-1')
    migrated = await indexes()
    expect(migrated.filter((d) => d.includes('FOREIGN KEY'))).toHaveLength(1)
  })
  afterAll(async () => t.close())

  it('a file that breaks half-way leaves the indexes, constraints and the empty table as they were', async () => {
    await expect(run(csv(`Иванова;Мария;Петровна;01.02.1985;;Родитель;school-1;1001`) + '"unterminated')).rejects.toBeInstanceOf(ImportFileError)
    expect(await indexes()).toEqual(migrated)
    expect((await t.db.pool.query('SELECT count(*)::int AS n FROM journal_users')).rows[0].n).toBe(0)
  })

  it('loads the cards and ends with the same indexes and constraints, ready for the SNILS lookup', async () => {
    const report = await run(csv(
      `Иванова;Мария;Петровна;01.02.1985;${snils('112233445')};Родитель;school-1;1001`,
      `Ёлкин;Фёдор;-;2014-09-01;;Обучающийся;school-1;1002`,
    ))
    expect(report).toMatchObject({ inserted: 2, rejected: 0 })
    expect(await indexes()).toEqual(migrated)
    const client = await t.db.pool.connect()
    try {
      await client.query('SET enable_seqscan = off') // two cards: the planner would rather scan
      const plan = await client.query(`EXPLAIN SELECT id FROM journal_users WHERE snils_hmac = '\\x00'::bytea`)
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('journal_users_snils_idx')
    } finally {
      await client.query('RESET enable_seqscan')
      client.release()
    }
  })
})
