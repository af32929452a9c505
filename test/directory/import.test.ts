import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { importDirectory, ImportFileError } from '../../src/directory/import/import.js'
import { saveLink } from '../../src/linking/links.js'
import { buildTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { badSnils, cardsOf, cp1251, csv, CSV_HEADER, importFile, putOrganization, snils } from './fixtures.js'

/**
 * A school secretary exports the class lists from Excel and the journal posts them to the bridge
 * («Пакетное обновление», docs/sources.md: Камчатка slides). Exports come in Windows-1251 or UTF-8, with typos in them.
 */
describe('batch import of the directory', () => {
  let t: TestApp
  const counts = async () => (await t.db.pool.query('SELECT count(*)::int AS n FROM journal_users')).rows[0].n as number
  const link = (journalUserId: string, subject: string) =>
    withTransaction(t.db.pool, (tx) => saveLink(tx, { journalUserId, upstreamSubject: subject, method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: subject } }))
  const service = (body: string, opts: Partial<Parameters<typeof importDirectory>[2]> = {}) =>
    importDirectory(t.db.pool, Readable.from([Buffer.from(body, 'utf8')]), { snilsKey: TEST_SECRETS.snilsHmacKey, actor: { kind: 'system', id: 'test' }, ...opts })

  // Line numbers as a person sees them in the file: the header is line 1.
  const classList = csv(
    `Иванова;Мария;Петровна;01.02.1985;${snils('112233445')};Родитель;school-1;1001`,
    `Ёлкин;Фёдор;-;2014-09-01;${snils('223344556').replace(/\D/g, '')};Обучающийся;school-1;1002`,
    `"Римская-Корсакова";"Анна";Сергеевна;12.12.2013;;Ученик;school-1;1003`,
    `Петров;Пётр;Петрович;01.01.1980;${badSnils('334455667')};Учитель;school-1;1004`,
    `Сидорова;Ольга;Ивановна;31.02.2015;;Ученик;school-1;1005`,
    `Кузнецов;Иван;Иванович;01.03.1979;;Директор;school-1;1006`,
    `Смирнова;Анна;Олеговна;02.03.2012;;Ученик;school-404;1007`,
    `;Дарья;Андреевна;03.04.2011;;Ученик;school-1;1008`,
    `Иванова;Мария;Петровна;01.02.1985;;Родитель;school-1;1001`,
  )
  const expectedRejections = [
    { line: 5, id: '1004', reason: 'snils_checksum' },
    { line: 6, id: '1005', reason: 'invalid_birth_date' },
    { line: 7, id: '1006', reason: 'unknown_role' },
    { line: 8, id: '1007', reason: 'unknown_organization' },
    { line: 9, id: '1008', reason: 'missing_last_name' },
    { line: 10, id: '1001', reason: 'duplicate_id', duplicate_of_line: 2 },
  ]

  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'school-1')
    await putOrganization(t, 'school-2')
  })
  afterAll(async () => t.close())

  it('imports a Windows-1251 export (charset detected): good rows applied, every bad row reported with line and reason', async () => {
    const res = await importFile(t, cp1251(classList))
    expect(res.statusCode).toBe(200)
    const report = res.json()
    expect(report).toMatchObject({ dry_run: false, mode: 'merge', format: 'csv', charset: 'windows-1251', rows: 9, inserted: 3, updated: 0, unchanged: 0, deleted: 0, rejected: 6 })
    expect(report.rejected_rows.map(({ line, id, reason, duplicate_of_line }: Record<string, unknown>) => ({ line, id, reason, ...(duplicate_of_line ? { duplicate_of_line } : {}) }))).toEqual(expectedRejections)
    expect(report.rejected_rows[5].message).toContain('duplicate of line 2')
    expect(report.rejected_by_reason).toEqual({ duplicate_id: 1, invalid_birth_date: 1, missing_last_name: 1, snils_checksum: 1, unknown_organization: 1, unknown_role: 1 })
    expect(report.rejected_truncated).toBe(false)

    expect(await cardsOf(t, 'school-1')).toEqual([
      { id: '1001', organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '1985-02-01', snils_present: true, snils_valid: true, norm_last_name: 'иванова' },
      { id: '1002', organization_id: 'school-1', role: 'student', last_name: 'Ёлкин', first_name: 'Фёдор', middle_name: null, birth_date: '2014-09-01', snils_present: true, snils_valid: true, norm_last_name: 'елкин' },
      { id: '1003', organization_id: 'school-1', role: 'student', last_name: 'Римская-Корсакова', first_name: 'Анна', middle_name: 'Сергеевна', birth_date: '2013-12-12', snils_present: false, snils_valid: false, norm_last_name: 'римская-корсакова' },
    ])
    const audit = await t.db.pool.query(`SELECT actor_kind, actor_id, details FROM audit_events WHERE type = 'directory.import'`)
    expect(audit.rows).toEqual([
      { actor_kind: 'journal', actor_id: 'journal-test', details: expect.objectContaining({ format: 'csv', rows: 9, inserted: 3, rejected: 6, charset: 'windows-1251' }) },
    ])
  })

  it('re-importing the same file changes nothing, also as UTF-8 with a BOM and a declared charset', async () => {
    const before = (await t.db.pool.query('SELECT id, updated_at FROM journal_users ORDER BY id')).rows
    const res = await importFile(t, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(classList, 'utf8')]), { contentType: 'text/csv; charset=UTF-8' })
    expect(res.json()).toMatchObject({ charset: 'utf-8', rows: 9, inserted: 0, updated: 0, unchanged: 3, rejected: 6 })
    expect((await t.db.pool.query('SELECT id, updated_at FROM journal_users ORDER BY id')).rows).toEqual(before)
  })

  it('detects UTF-8 without a BOM and applies a correction as an update', async () => {
    const fixed = csv(`Петров;Пётр;Петрович;01.01.1980;${snils('334455667')};Учитель;school-1;1004`, `Ёлкин;Фёдор;Иванович;2014-09-01;;Обучающийся;school-1;1002`)
    const res = await importFile(t, Buffer.from(fixed, 'utf8'))
    expect(res.json()).toMatchObject({ charset: 'utf-8', inserted: 1, updated: 1, unchanged: 0, rejected: 0 })
    const cards = await cardsOf(t, 'school-1')
    expect(cards.find((c) => c.id === '1002')).toMatchObject({ middle_name: 'Иванович', snils_present: false })
    expect(cards.find((c) => c.id === '1004')).toMatchObject({ role: 'staff', snils_valid: true })
  })

  it('keeps a card with a mistyped SNILS flagged invalid when asked to (invalid_snils=keep)', async () => {
    const res = await importFile(t, csv(`Орлов;Олег;Олегович;05.05.1975;${badSnils('445566778')};Родитель;school-1;1009`), { query: 'invalid_snils=keep' })
    expect(res.json()).toMatchObject({ inserted: 1, rejected: 0 })
    expect((await cardsOf(t, 'school-1')).find((c) => c.id === '1009')).toMatchObject({ snils_present: true, snils_valid: false })
  })

  it('imports NDJSON: numeric ids accepted, a field of the wrong type refused with its line', async () => {
    const body = [
      JSON.stringify({ id: 2001, organization_id: 'school-2', role: 'staff', last_name: 'Лебедева', first_name: 'Ирина', middle_name: 'Юрьевна', birth_date: '1990-10-10', snils: snils('556677889') }),
      '',
      JSON.stringify({ id: '2002', organization_id: 'school-2', role: 'student', last_name: 'Лебедев', first_name: 'Лев', birth_date: 20150101 }),
      JSON.stringify({ id: '2003', organization_id: 'school-2', role: 'parent', last_name: 'Лебедев', first_name: 'Юрий', middle_name: null }),
    ].join('\n')
    const res = await importFile(t, body, { contentType: 'application/x-ndjson' })
    expect(res.json()).toMatchObject({ format: 'ndjson', rows: 3, inserted: 2, rejected: 1, rejected_rows: [{ line: 3, id: '2002', reason: 'invalid_field' }] })
    expect((await cardsOf(t, 'school-2')).map((c) => c.id)).toEqual(['2001', '2003'])
  })

  it('tells NDJSON from CSV by its first character when sent as application/octet-stream', async () => {
    const res = await importFile(t, JSON.stringify({ id: '2003', organization_id: 'school-2', role: 'parent', last_name: 'Лебедев', first_name: 'Юрий' }), { contentType: 'application/octet-stream' })
    expect(res.json()).toMatchObject({ format: 'ndjson', unchanged: 1 })
  })

  it('a dry run reports exactly what the import would do and changes nothing', async () => {
    const file = csv(`Новикова;Вера;Павловна;07.07.2012;;Ученик;school-2;2004`, `Лебедева;Ирина;Юрьевна;10.10.1990;;Сотрудник;school-2;2001`)
    const snapshot = async () => ({
      cards: (await t.db.pool.query('SELECT id, last_name, snils_present, updated_at FROM journal_users ORDER BY id')).rows,
      audit: (await t.db.pool.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n,
    })
    const before = await snapshot()
    const dry = await importFile(t, file, { query: 'dry_run=true' })
    expect(dry.json()).toMatchObject({ dry_run: true, inserted: 1, updated: 1, rejected: 0 })
    expect(await snapshot()).toEqual(before)
    const real = await importFile(t, file)
    expect(real.json()).toMatchObject({ dry_run: false, inserted: 1, updated: 1 })
  })

  it('replace mode deletes the organisation’s cards missing from the file, with their links, in the same transaction', async () => {
    await link('2003', 'esia-parent-1')
    const file = csv(
      `Лебедева;Ирина;Юрьевна;10.10.1990;;Сотрудник;school-2;2001`,
      `Новикова;Вера;Павловна;07.07.2012;;Ученик;school-2;2004`,
      `Зайцев;Егор;Егорович;08.08.2011;;Ученик;school-2;2005`,
      `Зайцева;Алиса;Егоровна;09.09.2010;;Ученик;school-1;2006`,
    )
    const res = await importFile(t, file, { query: 'mode=replace&organization_id=school-2' })
    expect(res.json()).toMatchObject({ mode: 'replace', organization_id: 'school-2', inserted: 1, unchanged: 2, deleted: 1, links_removed: 1, rejected: 1 })
    expect(res.json().rejected_rows).toEqual([expect.objectContaining({ line: 5, id: '2006', reason: 'organization_mismatch' })])
    expect((await cardsOf(t, 'school-2')).map((c) => c.id)).toEqual(['2001', '2004', '2005'])
    expect((await cardsOf(t, 'school-1')).map((c) => c.id)).not.toContain('2006')
    const removed = await t.db.pool.query(`SELECT journal_user_id, organization_id, upstream_subject, actor_kind, reason FROM audit_events WHERE type = 'link.removed'`)
    expect(removed.rows).toEqual([
      { journal_user_id: '2003', organization_id: 'school-2', upstream_subject: 'esia-parent-1', actor_kind: 'journal', reason: 'card deleted from the journal directory (batch import, replace mode)' },
    ])
    expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = '2003'`)).rowCount).toBe(0)
  })

  it('replace mode needs a registered organisation', async () => {
    expect((await importFile(t, csv(), { query: 'mode=replace' })).json().error).toBe('organization_required')
    const unknown = await importFile(t, csv(), { query: 'mode=replace&organization_id=school-404' })
    expect(unknown.statusCode).toBe(422)
    expect(unknown.json().error).toBe('unknown_organization')
  })

  it('refuses to move a linked card where its person already holds that organisation and role (link_conflict), applying the rest', async () => {
    await link('1001', 'esia-parent-2')
    await link('2001', 'esia-parent-2')
    const file = csv(`Иванова;Мария;Петровна;01.02.1985;${snils('112233445')};Родитель;school-2;1001`, `Зайцев;Егор;Егорович;08.08.2011;;Ученик;school-2;2005`)
    // 2001 is staff of school-2; move 1001 there as staff too.
    const res = await importFile(t, file.replace(';Родитель;school-2;1001', ';Сотрудник;school-2;1001'))
    expect(res.json()).toMatchObject({ unchanged: 1, rejected: 1, rejected_rows: [expect.objectContaining({ line: 2, reason: 'link_conflict' })] })
    expect((await cardsOf(t, 'school-1')).find((c) => c.id === '1001')?.role).toBe('parent')
    // Into a free place the link follows the card.
    const moved = await importFile(t, file)
    expect(moved.json()).toMatchObject({ updated: 1, rejected: 0 })
    expect((await t.db.pool.query(`SELECT organization_id, role FROM links WHERE journal_user_id = '1001'`)).rows).toEqual([{ organization_id: 'school-2', role: 'parent' }])
  })

  describe('a file that cannot be read changes nothing', () => {
    const unchanged = async (res: { statusCode: number; json(): { error: string } }, status: number, error: string) => {
      const before = await counts()
      expect(res.statusCode).toBe(status)
      expect(res.json().error).toBe(error)
      expect(await counts()).toBe(before)
    }
    it('no header, or the wrong one', async () => {
      await unchanged(await importFile(t, 'Фамилия;Имя;Роль\nИванов;Иван;Ученик\n'), 400, 'bad_header')
      const res = await importFile(t, 'Фамилия;Имя;Роль\n')
      expect(res.json().message).toContain('«Идентификатор»')
      await unchanged(await importFile(t, ''), 400, 'empty_file')
    })
    it('Windows-1251 bytes declared as UTF-8', async () => {
      await unchanged(await importFile(t, cp1251(csv('Новиков;Иван;;;;Ученик;school-1;3001')), { contentType: 'text/csv; charset=utf-8' }), 400, 'undecodable')
    })
    it('an unknown charset', async () => {
      await unchanged(await importFile(t, csv(), { contentType: 'text/csv; charset=x-klingon' }), 415, 'unsupported_charset')
    })
    it('a quote left open at the end', async () => {
      await unchanged(await importFile(t, csv('Новиков;Иван;;;;Ученик;school-1;3001', '"Новикова;Анна;;;;Ученик;school-1;3002')), 400, 'malformed_csv')
    })
    it('an NDJSON line that is not an object, after good lines in earlier batches', async () => {
      const good = Array.from({ length: 5 }, (_, i) => JSON.stringify({ id: `40${i}`, organization_id: 'school-1', role: 'student', last_name: 'Тестов', first_name: 'Тест' }))
      const before = await counts()
      const err = await service([...good, '[1, 2]', ...good].join('\n'), { batchSize: 2 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ImportFileError)
      expect(err).toMatchObject({ code: 'malformed_ndjson', line: 6 })
      expect(await counts()).toBe(before)
    })
    it('a file larger than the limit', async () => {
      const err = await service(csv(...Array.from({ length: 50 }, (_, i) => `Тестов;Тест;;;;Ученик;school-1;50${i}`)), { maxBytes: 500 }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'too_large' })
    })
  })

  it('finds a repeated id across batches and reports the line of its first occurrence', async () => {
    const rows = Array.from({ length: 7 }, (_, i) => `Тестов;Тест${i};Тестович;;;Ученик;school-1;60${i}`)
    const repeats = [`Тестов;Повтор;Тестович;;;Ученик;school-1;601`, `Тестов;Повтор;Тестович;;;Ученик;school-1;606`, `Тестов;Ещё;Тестович;;;Ученик;school-1;601`]
    const report = await service(csv(...rows, ...repeats), { batchSize: 3, format: 'csv' })
    expect(report).toMatchObject({ rows: 10, inserted: 7, rejected: 3 })
    expect(report.rejected_rows.map((r) => [r.line, r.duplicate_of_line])).toEqual([[9, 3], [10, 8], [11, 3]])
    expect((await cardsOf(t, 'school-1')).find((c) => c.id === '601')?.first_name).toBe('Тест1')
  })

  it('keeps its report bounded: counts every refused row, lists the first ones', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => `Тестов;Тест;;;;Космонавт;school-1;70${i}`)
    const report = await service(csv(...rows), { rejectedLimit: 10 })
    expect(report).toMatchObject({ rejected: 30, rejected_truncated: true, rejected_by_reason: { unknown_role: 30 } })
    expect(report.rejected_rows.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  })

  it('refuses rows outside a support caller’s organisations', async () => {
    const report = await service(csv(`Тестов;Тест;;;;Ученик;school-2;8001`, `Тестов;Тест;;;;Ученик;school-1;8002`, `Иванова;Мария;Петровна;01.02.1985;;Родитель;school-1;1001`), {
      organizationIds: ['school-1'],
    })
    expect(report.rejected_rows.map((r) => [r.line, r.reason])).toEqual([
      [2, 'organization_out_of_scope'],
      // 1001 has moved to school-2: moving it back would take it from an organisation outside the scope.
      [4, 'organization_out_of_scope'],
    ])
    expect(report.inserted).toBe(1)
  })

  it('accepts the columns in any order and the API field names, ignoring extra columns, and a row of the wrong width is refused', async () => {
    const file = ['id;last_name;first_name;Класс;middle_name;birth_date;snils;role;organization_id', '9001;Тестова;Тина;5А;;;;student;school-1', '9002;Тестова;Тина;5А'].join('\n')
    const res = await importFile(t, file)
    expect(res.json()).toMatchObject({ inserted: 1, rejected: 1, ignored_columns: ['Класс'], rejected_rows: [expect.objectContaining({ line: 3, id: null, reason: 'wrong_column_count' })] })
  })

  describe('a row that does not fit the header is reported by its line and reason only', () => {
    // The id column of a shifted row holds whatever slid into it: here a SNILS and a surname.
    const shifted = csv(
      `Секретова;Анна;;${snils('456789123')};Родитель;school-1;9101`,
      `Иванова;Мария;Петровна;01.02.1985;;Родитель;school-1;1001;Секретова;лишнее`,
      `Тестова;Тина;;;;Ученик;school-1;9102`,
    )

    it('CSV: no field of the row reaches the report', async () => {
      const report = await service(shifted, { dryRun: true })
      expect(report.rejected_rows).toEqual([
        { line: 2, id: null, reason: 'wrong_column_count', message: 'the row has a different number of columns than the header' },
        { line: 3, id: null, reason: 'wrong_column_count', message: 'the row has a different number of columns than the header' },
      ])
      const text = JSON.stringify(report)
      for (const leaked of ['Секретова', '456', '9101', 'лишнее']) expect(text).not.toContain(leaked)
    })

    it('NDJSON: a field of the wrong type is named by the row\'s own id, never by the field\'s value', async () => {
      const body = [
        JSON.stringify({ id: '9103', organization_id: 'school-1', role: 'parent', last_name: 'Секретова', first_name: 'Анна', snils: 45678912345 }),
        JSON.stringify({ id: { last_name: 'Секретова' }, organization_id: 'school-1', role: 'parent', last_name: 'Секретова', first_name: 'Анна' }),
      ].join('\n')
      const report = await service(body, { dryRun: true })
      expect(report.rejected_rows.map(({ line, id, reason }) => ({ line, id, reason }))).toEqual([
        { line: 1, id: '9103', reason: 'invalid_field' },
        { line: 2, id: null, reason: 'invalid_field' },
      ])
      expect(JSON.stringify(report)).not.toMatch(/Секретова|45678912345/)
    })

    it('replace mode refuses the whole file: an unreadable row cannot say which card it keeps', async () => {
      const snapshot = async () => (await t.db.pool.query(`SELECT id, updated_at FROM journal_users WHERE organization_id = 'school-1' ORDER BY id`)).rows
      const before = await snapshot()
      const res = await importFile(t, shifted, { query: 'mode=replace&organization_id=school-1' })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({ error: 'unreadable_row', message: expect.stringContaining('Line 2'), details: { line: 2 } })
      expect(res.body).not.toMatch(/Секретова|9101/)
      expect(await snapshot()).toEqual(before)
    })
  })

  it('answers 415 for a body that is not a file', async () => {
    const res = await importFile(t, JSON.stringify({ a: 1 }), { contentType: 'application/json' })
    expect(res.statusCode).toBe(415)
  })

  it('the exported header constant is the documented one', () => {
    expect(CSV_HEADER).toBe('Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор')
  })
})
