import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completenessReport, problemCards, REPORT_PROBLEMS, type CompletenessRow } from '../../src/directory/completeness.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { CSV_HEADER, badSnils, importFile, journal, putOrganization, snils } from './fixtures.js'

/**
 * The completeness report reads counts the database keeps as cards and relations change. After
 * every kind of change a journal makes — single cards, children, moves between schools and roles,
 * deletions, imports that merge, replace or fill an empty directory, a dry run, writes at the same
 * moment — the kept counts must equal the cards counted from scratch, and each count must equal the
 * length of the list of cards it opens.
 */

/** The report counted straight from the cards, written independently of the kept counts. */
async function countedFromCards(t: TestApp): Promise<Omit<CompletenessRow, 'organization_name'>[]> {
  const { rows } = await t.db.pool.query(`
    SELECT organization_id, role, count(*)::int AS total,
      count(*) FILTER (WHERE NOT snils_present)::int AS without_snils,
      count(*) FILTER (WHERE snils_present AND NOT snils_valid)::int AS invalid_snils,
      count(*) FILTER (WHERE birth_date IS NULL)::int AS without_birth_date,
      count(*) FILTER (WHERE norm_middle_name IS NULL AND NOT no_middle_name)::int AS without_middle_name,
      count(*) FILTER (WHERE shared)::int AS shared_snils,
      count(*) FILTER (WHERE NOT snils_valid OR birth_date IS NULL OR (norm_middle_name IS NULL AND NOT no_middle_name) OR shared)::int AS with_problems,
      count(*) FILTER (WHERE no_middle_name)::int AS no_middle_name,
      count(*) FILTER (WHERE role = 'parent' AND NOT has_children)::int AS parents_without_children,
      count(*) FILTER (WHERE role = 'student' AND NOT has_parents)::int AS children_without_parents
    FROM (
      SELECT u.*,
        EXISTS (SELECT 1 FROM journal_users o WHERE o.snils_hmac = u.snils_hmac AND o.organization_id = u.organization_id AND o.role = u.role AND o.id <> u.id) AS shared,
        EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.parent_id = u.id) AS has_children,
        EXISTS (SELECT 1 FROM journal_user_relations r WHERE r.child_id = u.id) AS has_parents
      FROM journal_users u
    ) u
    GROUP BY organization_id, role ORDER BY organization_id, role`)
  return rows
}

async function expectCountsRight(t: TestApp) {
  const kept = (await completenessReport(t.db.pool)).map(({ organization_name: _, ...row }) => row)
  kept.sort((a, b) => a.organization_id.localeCompare(b.organization_id) || a.role.localeCompare(b.role))
  expect(kept).toEqual(await countedFromCards(t))
  return kept
}

const put = (t: TestApp, id: string, card: Record<string, unknown>, query = '') =>
  t.app.inject({ method: 'PUT', url: `/api/v1/directory/users/${id}${query}`, headers: journal, payload: { first_name: 'Анна', last_name: 'Орлова', middle_name: 'Ивановна', birth_date: '01.01.1985', ...card } })
const del = (t: TestApp, id: string) => t.app.inject({ method: 'DELETE', url: `/api/v1/directory/users/${id}`, headers: journal })

async function ok(res: Promise<{ statusCode: number; body: string }>) {
  const r = await res
  expect(r.statusCode, r.body).toBeLessThan(300)
  return r
}

describe('completeness counts kept by the database', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
    for (const id of ['org-a', 'org-b', 'org-c']) await putOrganization(t, id)
  })
  afterAll(async () => t.close())

  it('follow single-card writes: new cards, shared SNILS, children, moves, fixes and deletions', async () => {
    const shared = snils('400000001')
    await ok(put(t, 'p1', { organization_id: 'org-a', role: 'parent', snils: shared }))
    await ok(put(t, 'p2', { organization_id: 'org-a', role: 'parent', snils: shared, birth_date: '' }))
    await ok(put(t, 'p3', { organization_id: 'org-a', role: 'parent', snils: shared, middle_name: '-' }))
    await ok(put(t, 's1', { organization_id: 'org-a', role: 'student', snils: snils('400000011'), birth_date: '01.01.2014' }))
    await ok(put(t, 's2', { organization_id: 'org-b', role: 'student', birth_date: '01.01.2015', middle_name: '' }))
    await ok(put(t, 's3', { organization_id: 'org-a', role: 'student', snils: badSnils('400000013') }, '?invalid_snils=keep'))
    await ok(put(t, 't1', { organization_id: 'org-a', role: 'staff', snils: shared }))
    let kept = await expectCountsRight(t)
    expect(kept.find((r) => r.organization_id === 'org-a' && r.role === 'parent')).toMatchObject({ total: 3, shared_snils: 3, no_middle_name: 1, parents_without_children: 3 })

    await ok(put(t, 'p1', { organization_id: 'org-a', role: 'parent', snils: shared, child_ids: ['s1', 's2'] }))
    await ok(put(t, 'p2', { organization_id: 'org-a', role: 'parent', snils: shared, birth_date: '', child_ids: ['s1'] }))
    await expectCountsRight(t)

    // A parent with children moves to another school; a card leaves its SNILS group by changing role.
    await ok(put(t, 'p1', { organization_id: 'org-b', role: 'parent', snils: shared }))
    await ok(put(t, 'p3', { organization_id: 'org-a', role: 'staff', snils: shared, middle_name: '-' }))
    await expectCountsRight(t)
    // Fixes: a birth date filled in, a SNILS corrected, a group left by a new SNILS; a name change counts nothing.
    await ok(put(t, 'p2', { organization_id: 'org-a', role: 'parent', snils: snils('400000002') }))
    await ok(put(t, 's3', { organization_id: 'org-a', role: 'student', snils: snils('400000013') }))
    await ok(put(t, 's1', { organization_id: 'org-a', role: 'student', snils: snils('400000011'), birth_date: '01.01.2014', last_name: 'Орлов', first_name: 'Илья' }))
    await expectCountsRight(t)
    // Children taken away; then a child and a parent deleted with their relations.
    await ok(put(t, 'p2', { organization_id: 'org-a', role: 'parent', snils: snils('400000002'), child_ids: [] }))
    await expectCountsRight(t)
    await ok(put(t, 'p2', { organization_id: 'org-a', role: 'parent', snils: snils('400000002'), child_ids: ['s1', 's3'] }))
    await ok(del(t, 's1'))
    await expectCountsRight(t)
    await ok(del(t, 'p2'))
    kept = await expectCountsRight(t)
    expect(kept.find((r) => r.organization_id === 'org-a' && r.role === 'student')).toMatchObject({ total: 1, children_without_parents: 1 })
  })

  it('follow imports that merge, move cards between schools and replace a school’s list, and ignore a dry run', async () => {
    const withChildren = (...rows: string[]) => [`${CSV_HEADER};Дети`, ...rows].join('\r\n') + '\r\n'
    const merged = await importFile(
      t,
      withChildren(
        `Павлов;Пётр;Петрович;01.01.1980;${snils('500000001')};Родитель;org-a;m-p1;m-s1,m-s2`,
        `Павлова;Вера;;01.01.1981;${snils('500000001')};Родитель;org-a;m-p2;m-s1`,
        `Павлов;Иван;Петрович;01.01.2012;${snils('500000011')};Ученик;org-a;m-s1;`,
        `Павлова;Ия;нет;;${snils('500000012')};Ученик;org-c;m-s2;`,
        `Орлова;Анна;Ивановна;01.01.1985;${snils('400000001')};Родитель;org-c;p1;m-s2`,
        `Сидоров;Ян;Янович;01.01.1970;;Сотрудник;org-c;m-t1;`,
      ),
    )
    expect(merged.json()).toMatchObject({ rejected: 0 })
    await expectCountsRight(t)

    const dry = await importFile(t, withChildren(`Павлов;Пётр;;;;Родитель;org-b;m-p1;`), { query: 'dry_run=true' })
    expect(dry.statusCode).toBe(200)
    await expectCountsRight(t)

    // org-a's list is the file: its other cards go, with their relations.
    const replaced = await importFile(t, withChildren(`Павлов;Пётр;Петрович;01.01.1980;${snils('500000001')};Родитель;org-a;m-p1;m-s1`, `Павлов;Иван;Петрович;01.01.2012;${snils('500000011')};Ученик;org-a;m-s1;`), {
      query: 'mode=replace&organization_id=org-a',
    })
    expect(replaced.json()).toMatchObject({ rejected: 0 })
    expect(replaced.json().deleted).toBeGreaterThan(0)
    const kept = await expectCountsRight(t)
    expect(kept.filter((r) => r.organization_id === 'org-a').map((r) => [r.role, r.total])).toEqual([['parent', 1], ['student', 1]])
  })

  it('stay right when the journal writes the same SNILS and the same child from many requests at once', async () => {
    const same = snils('600000001')
    await ok(put(t, 'c-child', { organization_id: 'org-c', role: 'student', snils: snils('600000099'), birth_date: '01.01.2013' }))
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        ok(put(t, `c-p${i}`, { organization_id: 'org-c', role: 'parent', snils: same, child_ids: i % 2 === 0 ? ['c-child'] : [] })),
      ),
    )
    await expectCountsRight(t)
    await Promise.all([...Array.from({ length: 6 }, (_, i) => ok(del(t, `c-p${i}`))), ...Array.from({ length: 6 }, (_, i) => ok(put(t, `c-p${i + 6}`, { organization_id: 'org-b', role: 'parent', snils: same })))])
    await expectCountsRight(t)
  })

  it('stay right when a parent and its child are deleted, or a parent’s children set while a child goes, at the same moment', async () => {
    for (let round = 0; round < 3; round++) {
      await ok(put(t, `d-child-${round}`, { organization_id: 'org-b', role: 'student', birth_date: '01.01.2014' }))
      await ok(put(t, `d-child2-${round}`, { organization_id: 'org-b', role: 'student', birth_date: '01.01.2014' }))
      await ok(put(t, `d-parent-${round}`, { organization_id: 'org-c', role: 'parent', child_ids: [`d-child-${round}`, `d-child2-${round}`] }))
      await Promise.all([ok(del(t, `d-parent-${round}`)), ok(del(t, `d-child-${round}`))])
      await expectCountsRight(t)
    }
    await ok(put(t, 'd-parent-x', { organization_id: 'org-c', role: 'parent', child_ids: ['d-child2-0'] }))
    const [set, gone] = await Promise.all([
      put(t, 'd-parent-x', { organization_id: 'org-c', role: 'parent', child_ids: ['d-child2-0', 'd-child2-1'] }),
      del(t, 'd-child2-1'),
    ])
    expect(gone.statusCode).toBe(200)
    // The parent's write either came first or found the child gone (422 unknown_child, as for any missing child): never a 5xx.
    expect([200, 422], set.body).toContain(set.statusCode)
    await expectCountsRight(t)
  })

  it('an import waits out a single-card write that holds its schools’ counts, and counts right', async () => {
    const holder = await t.db.pool.connect()
    try {
      await holder.query('BEGIN')
      await holder.query(`SELECT 1 FROM completeness_counts WHERE organization_id = 'org-b' FOR UPDATE`)
      const importing = importFile(t, [CSV_HEADER, `Павлов;Пётр;Петрович;01.01.1980;${snils('800000001')};Родитель;org-b;w-p1`].join('\r\n') + '\r\n')
      await new Promise((r) => setTimeout(r, 700))
      await holder.query('COMMIT')
      expect((await importing).json()).toMatchObject({ inserted: 1, rejected: 0 })
    } finally {
      holder.release()
    }
    await expectCountsRight(t)
  })

  it('give each count exactly the cards its list opens', async () => {
    for (const row of await completenessReport(t.db.pool)) {
      for (const problem of REPORT_PROBLEMS) {
        const page = await problemCards(t.db.pool, { organizationId: row.organization_id, role: row.role, problem, limit: 1000 })
        expect(page.items.length, `${row.organization_id}/${row.role}/${problem}`).toBe(row[problem])
      }
      const any = await problemCards(t.db.pool, { organizationId: row.organization_id, role: row.role, limit: 1000 })
      expect(any.items.length, `${row.organization_id}/${row.role}`).toBe(row.with_problems)
    }
  })

  it('survive a recount by hand and a TRUNCATE', async () => {
    const before = await expectCountsRight(t)
    await t.db.pool.query('SELECT completeness_refresh(NULL)')
    expect(await expectCountsRight(t)).toEqual(before)
    await t.db.pool.query('TRUNCATE journal_user_relations CASCADE')
    await expectCountsRight(t)
  })

  it('are counted once at the end of an import into an empty directory', async () => {
    const empty = await buildTestApp()
    try {
      for (const id of ['org-a', 'org-b']) await putOrganization(empty, id)
      const rows = [`${CSV_HEADER};Дети`]
      for (let i = 0; i < 300; i++) {
        const role = i % 3 === 0 ? 'Родитель' : i % 3 === 1 ? 'Ученик' : 'Сотрудник'
        const children = i % 3 === 0 && i % 2 === 0 ? `e${i + 1}` : ''
        rows.push(`Фамилия;Имя;${i % 7 === 0 ? '' : 'Отчество'};${i % 5 === 0 ? '' : '01.01.2000'};${i % 11 === 0 ? '' : snils(String(700_000_000 + (i % 13 === 0 ? 0 : i)))};${role};${i % 2 === 0 ? 'org-a' : 'org-b'};e${i};${children}`)
      }
      const res = await importFile(empty, rows.join('\r\n') + '\r\n')
      expect(res.json()).toMatchObject({ inserted: 300, rejected: 0 })
      await expectCountsRight(empty)
      await empty.db.pool.query('TRUNCATE journal_users CASCADE')
      expect(await expectCountsRight(empty)).toEqual([])
    } finally {
      await empty.close()
    }
  })
})
