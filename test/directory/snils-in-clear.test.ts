import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../../src/mock-idp/personas.js'
import { linkAs, loginAs } from '../flows/guardian-helpers.js'
import { startFlowWorld, type FlowWorld } from '../flows/helpers.js'
import { StockJournal } from '../flows/login-helpers.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { badSnils, cp1251, csv, digitsOf, importFile, journal, putOrganization, snils } from './fixtures.js'

/**
 * docs/decisions/0003-snils-as-hmac-only.md: SNILS is never stored in clear, and logs never contain it. After every way a
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

/**
 * The same scan after parents' children were compared with Госуслуги (src/guardians/checks.ts,
 * 0011_guardians.sql): a mismatch keeps only the HMAC of ЕСИА's SNILS, a child only on Госуслуги is
 * counted, never kept; no table and no log line holds a child's SNILS or a name as ЕСИА writes it.
 */
describe('no child SNILS or ЕСИА-side child name in clear anywhere', () => {
  let w: FlowWorld
  let bridgeJournal: StockJournal
  const personas = new Map(loadPersonas().map((p) => [p.id, p]))
  const kid = (persona: string, firstName: string) => personas.get(persona)!.kids!.find((k) => k.firstName === firstName)!
  // ЕСИА's side: the names the journal does not have, and every child's SNILS.
  const esiaNames = [kid('parent-child-typo', 'Тимофей').firstName, kid('parent-child-not-in-journal', 'Лев').firstName]
  const esiaSnils = [...personas.values()].flatMap((p) => (p.kids ?? []).flatMap((k) => (k.snils ? [k.snils] : [])))

  beforeAll(async () => {
    w = await startFlowWorld()
    bridgeJournal = new StockJournal(w)
    // The school typed the wrong SNILS on Никитин Глеб's card: the mismatch keeps ЕСИА's number as an HMAC.
    await w.app.inject({
      method: 'PUT', url: '/api/v1/directory/users/u3311', headers: journal,
      payload: { organization_id: 'school-12', role: 'student', last_name: 'Никитин', first_name: 'Глеб', middle_name: 'Сергеевич', birth_date: '2013-05-23', snils: snils('304445559') },
    })
    await linkAs(w, 'u3101', 'parent-child-typo')
    await linkAs(w, 'u3201', 'parent-child-not-in-journal')
    await linkAs(w, 'u3301', 'parent-journal-child-not-in-esia')
    await loginAs(w, bridgeJournal, 'parent-child-typo')
  })
  afterAll(async () => w?.close())

  it('has stored what support needs, and only that', async () => {
    const { rows } = await w.db.pool.query(`SELECT child_id, state, reasons, esia_snils_hmac IS NOT NULL AS hmac FROM guardian_checks ORDER BY child_id`)
    expect(rows).toEqual(expect.arrayContaining([
      { child_id: 'u3111', state: 'mismatch', reasons: ['mismatch:first_name'], hmac: false },
      { child_id: 'u3311', state: 'mismatch', reasons: ['mismatch:snils'], hmac: true },
    ]))
  })

  it('in no column of any table, the new ones included', async () => {
    const { rows: columns } = await w.db.pool.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
       WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY')`,
    )
    expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).toEqual(expect.arrayContaining(['guardian_checks.esia_snils_hmac', 'guardian_checks.reasons']))
    const leaks: string[] = []
    for (const { table_name: table, column_name: column, data_type: type } of columns) {
      const value = type === 'bytea' ? `encode("${column}", 'escape')` : `"${column}"::text`
      const { rows } = await w.db.pool.query<{ v: string }>(`SELECT ${value} AS v FROM "${table}" WHERE "${column}" IS NOT NULL`)
      for (const { v } of rows) {
        for (const n of esiaSnils) if (inClear(n).test(v)) leaks.push(`${table}.${column}: SNILS`)
        for (const name of esiaNames) if (v.includes(name)) leaks.push(`${table}.${column}: ${name}`)
      }
    }
    expect(leaks).toEqual([])
  })

  it('in no log line', () => {
    const logs = w.logs.text()
    expect(logs).toContain('/auth/callback')
    for (const n of esiaSnils) expect(logs).not.toMatch(inClear(n))
    for (const name of esiaNames) expect(logs).not.toContain(name)
  })
})
