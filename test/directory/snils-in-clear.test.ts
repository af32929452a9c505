import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { badSnils, cp1251, csv, digitsOf, importFile, journal, putOrganization, snils } from './fixtures.js'

/**
 * DESIGN.md §Directory: SNILS is never stored in clear, and logs never contain it. After every way a
 * SNILS can enter — a single card, CSV in both charsets, NDJSON, a dry run, refused rows, a number
 * kept with wrong check digits — no text, JSON or binary column of any table, and no log line,
 * holds one of the numbers, with or without separators.
 */
const NUMBERS = [
  snils('112233445'), snils('223344556'), snils('334455667'), snils('445566778'), badSnils('556677889'), badSnils('667788990'), snils('778899001'),
]

/** The 11 digits in order, with up to three non-digits between any two (dashes, spaces, dots…). */
const inClear = (number: string) => new RegExp(digitsOf(number).split('').join('\\D{0,3}'))

describe('no SNILS in clear anywhere', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'school-1')
    const [a, b, c, d, bad1, bad2, e] = NUMBERS as [string, string, string, string, string, string, string]
    await t.app.inject({ method: 'PUT', url: '/api/v1/directory/users/u1?invalid_snils=keep', headers: journal, payload: { organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария', snils: a } })
    await t.app.inject({ method: 'PUT', url: '/api/v1/directory/users/u2', headers: journal, payload: { organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария', snils: bad1 } })
    await importFile(t, cp1251(csv(`Петров;Пётр;;;${digitsOf(b)};Ученик;school-1;u3`, `Петров;Павел;;;${bad2};Ученик;school-1;u4`)))
    await importFile(t, csv(`Сидоров;Иван;;;${c.replace(/-/g, ' ')};Ученик;school-1;u5`, `Сидоров;Олег;;;${bad2};Ученик;school-1;u6`), { query: 'invalid_snils=keep' })
    await importFile(t, JSON.stringify({ id: 'u7', organization_id: 'school-1', role: 'staff', last_name: 'Котова', first_name: 'Ксения', snils: d }), { contentType: 'application/x-ndjson' })
    await importFile(t, csv(`Фомин;Фома;;;${e};Ученик;school-1;u8`), { query: 'dry_run=true' })
    await t.app.inject({ url: '/api/v1/directory/reports/completeness', headers: journal })
  })
  afterAll(async () => t.close())

  it('has stored the cards (so there was something to leak)', async () => {
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM journal_users WHERE snils_present`)
    expect(rows[0].n).toBe(5)
  })

  it('in no text, varchar, json, jsonb, array or bytea column of any table', async () => {
    const { rows: columns } = await t.db.pool.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
       WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY')`,
    )
    expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).toEqual(expect.arrayContaining(['journal_users.snils_hmac', 'audit_events.details', 'journal_users.last_name']))
    const leaks: string[] = []
    for (const { table_name: table, column_name: column, data_type: type } of columns) {
      const value = type === 'bytea' ? `encode("${column}", 'escape')` : `"${column}"::text`
      const { rows } = await t.db.pool.query<{ v: string }>(`SELECT ${value} AS v FROM "${table}" WHERE "${column}" IS NOT NULL`)
      for (const { v } of rows) for (const n of NUMBERS) if (inClear(n).test(v)) leaks.push(`${table}.${column}`)
    }
    expect(leaks).toEqual([])
  })

  it('in no log line', () => {
    const logs = t.logs.text()
    expect(logs).toContain('/api/v1/directory/import')
    for (const n of NUMBERS) expect(logs).not.toMatch(inClear(n))
  })
})
