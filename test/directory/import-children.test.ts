import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importDirectory } from '../../src/directory/import/import.js'
import { buildTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { CSV_HEADER, importFile, putOrganization, snils } from './fixtures.js'

/**
 * The optional column «Дети» of «Пакетное обновление»: on a parent row, the card ids of the parent's
 * children separated by `,` — the file's twin of the API's `child_ids`. A child may come further
 * down the file; an id that is no card is the row's error, reported by line and never with the
 * row's names.
 */
describe('batch import: a parent\'s children in the column «Дети»', () => {
  let t: TestApp
  const withChildren = (...rows: string[]) => [`${CSV_HEADER};Дети`, ...rows].join('\r\n') + '\r\n'
  const relations = async () =>
    (await t.db.pool.query<{ parent_id: string; child_id: string }>('SELECT parent_id, child_id FROM journal_user_relations ORDER BY parent_id, child_id')).rows.map((r) => `${r.parent_id}→${r.child_id}`)
  const cards = async () => (await t.db.pool.query<{ id: string }>('SELECT id FROM journal_users ORDER BY id')).rows.map((r) => r.id)

  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'school-1')
  })
  afterAll(async () => t.close())

  // Parents first, children after them: the usual order of an export sorted by role.
  const file = withChildren(
    `Орлова;Анна;Петровна;01.02.1985;${snils('401112223')};Родитель;school-1;p1;s1, s2`,
    `Орлов;Пётр;Ильич;03.04.1983;${snils('401112224')};Родитель;school-1;p2;s1,,s404`,
    `Орлова;Вера;Ильинична;05.06.1986;;Родитель;school-1;p3;t1`,
    `Орлов;Иван;Петрович;01.09.2013;;Обучающийся;school-1;s1;`,
    `Орлова;Ольга;Петровна;02.10.2015;;Обучающийся;school-1;s2;`,
    `Орлов;Илья;Петрович;02.10.2016;;Обучающийся;school-1;s3;p1`,
    `Орлов;Павел;Ильич;03.11.1970;;Учитель;school-1;t1;`,
    `Орлов;Семён;Ильич;04.12.1979;;Родитель;school-1;p4;`,
  )

  it('takes the good rows, the children after their parent included, and refuses the bad ones by line', async () => {
    const res = await importFile(t, file)
    expect(res.statusCode).toBe(200)
    const report = res.json()
    expect(report).toMatchObject({ rows: 8, inserted: 5, rejected: 3, relations_added: 2, relations_removed: 0, ignored_columns: [] })
    expect(report.rejected_rows.map((r: { line: number; id: string; reason: string }) => [r.line, r.id, r.reason])).toEqual([
      [3, 'p2', 'unknown_child'],
      [4, 'p3', 'invalid_child'],
      [7, 's3', 'invalid_child'],
    ])
    // The report names the line and the row's own id, never the names or the ids it listed.
    expect(JSON.stringify(report.rejected_rows)).not.toMatch(/Орлов|s404|Пётр/)
    expect(await relations()).toEqual(['p1→s1', 'p1→s2'])
    // A refused row is not applied at all: its card is not written either.
    expect(await cards()).toEqual(['p1', 'p4', 's1', 's2', 't1'])
  })

  it('a later file that lists fewer children removes the others; an empty cell removes them all', async () => {
    const report = (await importFile(t, withChildren(
      `Орлова;Анна;Петровна;01.02.1985;${snils('401112223')};Родитель;school-1;p1;s1`,
      `Орлова;Ольга;Петровна;02.10.2015;;Обучающийся;school-1;s2;`,
    ))).json()
    expect(report).toMatchObject({ rejected: 0, relations_added: 0, relations_removed: 1 })
    expect(await relations()).toEqual(['p1→s1'])
    await importFile(t, withChildren(`Орлова;Анна;Петровна;01.02.1985;${snils('401112223')};Родитель;school-1;p1;`))
    expect(await relations()).toEqual([])
  })

  it('a file without the column leaves the children as they are', async () => {
    await importFile(t, withChildren(`Орлова;Анна;Петровна;01.02.1985;${snils('401112223')};Родитель;school-1;p1;s1,s2`))
    const report = (await importFile(t, [CSV_HEADER, `Орлова;Анна;Петровна;01.02.1985;;Родитель;school-1;p1`].join('\r\n'))).json()
    expect(report).toMatchObject({ updated: 1, relations_added: 0, relations_removed: 0 })
    expect(await relations()).toEqual(['p1→s1', 'p1→s2'])
  })

  it('NDJSON takes `child_ids` as the API does; left out, the children stay', async () => {
    const line = (o: Record<string, unknown>) => JSON.stringify({ organization_id: 'school-1', role: 'parent', last_name: 'Орлова', first_name: 'Анна', ...o })
    const report = (await importFile(t, [line({ id: 'p1', child_ids: ['s1'] }), line({ id: 'p5', child_ids: [7] }), line({ id: 'p6', child_ids: 's1' })].join('\n'), { contentType: 'application/x-ndjson' })).json()
    expect(report.rejected_rows.map((r: { line: number; reason: string }) => [r.line, r.reason])).toEqual([[2, 'unknown_child'], [3, 'invalid_field']])
    expect(await relations()).toEqual(['p1→s1'])
    await importFile(t, line({ id: 'p1' }), { contentType: 'application/x-ndjson' })
    expect(await relations()).toEqual(['p1→s1'])
  })

  it('across batches: a child many batches after its parent, and a dry run that changes nothing', async () => {
    const students = Array.from({ length: 7 }, (_, i) => `Орлов;Ученик${i};;01.09.2013;;Обучающийся;school-1;b${i};`)
    const body = withChildren(`Орлова;Анна;Петровна;01.02.1985;;Родитель;school-1;p7;b6,b0`, ...students)
    const run = (dryRun: boolean) =>
      importDirectory(t.db.pool, Readable.from([Buffer.from(body, 'utf8')]), { snilsKey: TEST_SECRETS.snilsHmacKey, actor: { kind: 'system', id: 'test' }, batchSize: 2, dryRun })
    expect(await run(true)).toMatchObject({ inserted: 8, rejected: 0, relations_added: 2 })
    expect((await relations()).filter((r) => r.startsWith('p7'))).toEqual([])
    expect(await run(false)).toMatchObject({ inserted: 8, rejected: 0, relations_added: 2 })
    expect((await relations()).filter((r) => r.startsWith('p7'))).toEqual(['p7→b0', 'p7→b6'])
  })
})
