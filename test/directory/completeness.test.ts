import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completenessReport, problemCards } from '../../src/directory/completeness.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { badSnils, bootstrap, csv, importFile, journal, putOrganization, snils } from './fixtures.js'

/**
 * A deputy head prepares the school for sign-in through Госуслуги and opens «Контроль заполнения
 * данных» (docs/sources.md: Камчатка slides): which cards lack what, per role, and which cards to fix.
 */
describe('completeness report', () => {
  let t: TestApp
  const report = (query = '', headers = journal) => t.app.inject({ url: `/api/v1/directory/reports/completeness${query}`, headers })

  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'school-1', 'Школа № 1')
    await putOrganization(t, 'school-2', 'Школа № 2')
    const shared = snils('556677889')
    const res = await importFile(
      t,
      csv(
        // school-1 staff: one complete card, one without SNILS and patronymic.
        `Петрова;Анна;Ивановна;01.01.1980;${snils('112233445')};Сотрудник;school-1;s1`,
        `Орлов;Олег;;02.02.1970;;Сотрудник;school-1;s2`,
        // school-1 students: invalid SNILS (kept), no birth date, and two sharing one SNILS.
        `Кузнецов;Илья;Андреевич;03.03.2014;${badSnils('223344556')};Ученик;school-1;p1`,
        `Кузнецова;Ева;Андреевна;;${snils('334455667')};Ученик;school-1;p2`,
        `Смирнов;Лев;Петрович;04.04.2013;${shared};Ученик;school-1;p3`,
        `Смирнова;Ада;Петровна;05.05.2012;${shared};Ученик;school-1;p4`,
        // school-1 parent with the same SNILS as a student: another role, not a collision.
        `Смирнов;Пётр;Олегович;06.06.1985;${shared};Родитель;school-1;r1`,
        // school-2: the same parent's card in another school is not a collision either.
        `Смирнов;Пётр;Олегович;06.06.1985;${shared};Родитель;school-2;r2`,
      ),
      { query: 'invalid_snils=keep' },
    )
    expect(res.json()).toMatchObject({ inserted: 8, rejected: 0 })
  })
  afterAll(async () => t.close())

  it('counts, per organisation and role (staff, students, parents), what is missing', async () => {
    const res = await report()
    expect(res.statusCode).toBe(200)
    const zero = { without_snils: 0, invalid_snils: 0, without_birth_date: 0, without_middle_name: 0, shared_snils: 0, no_middle_name: 0, parents_without_children: 0, children_without_parents: 0 }
    expect(res.json().organizations).toEqual([
      { organization_id: 'school-1', organization_name: 'Школа № 1', role: 'staff', total: 2, ...zero, without_snils: 1, without_middle_name: 1, with_problems: 1 },
      { organization_id: 'school-1', organization_name: 'Школа № 1', role: 'student', total: 4, ...zero, invalid_snils: 1, without_birth_date: 1, shared_snils: 2, with_problems: 4, children_without_parents: 4 },
      { organization_id: 'school-1', organization_name: 'Школа № 1', role: 'parent', total: 1, ...zero, with_problems: 0, parents_without_children: 1 },
      { organization_id: 'school-2', organization_name: 'Школа № 2', role: 'parent', total: 1, ...zero, with_problems: 0, parents_without_children: 1 },
    ])
  })

  it('lists the problem cards with names and problems, never a SNILS, paged', async () => {
    const first = await report('?organization_id=school-1&limit=2')
    expect(first.json().organizations.map((r: { role: string }) => r.role)).toEqual(['staff', 'student', 'parent'])
    expect(first.json().problem_cards).toEqual({
      items: [
        { id: 'p1', organization_id: 'school-1', role: 'student', last_name: 'Кузнецов', first_name: 'Илья', middle_name: 'Андреевич', problems: ['invalid_snils'] },
        { id: 'p2', organization_id: 'school-1', role: 'student', last_name: 'Кузнецова', first_name: 'Ева', middle_name: 'Андреевна', problems: ['without_birth_date'] },
      ],
      next_after: 'p2',
    })
    const second = await report('?organization_id=school-1&limit=2&after=p2')
    expect(second.json().problem_cards.items.map((c: { id: string; problems: string[] }) => [c.id, c.problems])).toEqual([
      ['p3', ['shared_snils']],
      ['p4', ['shared_snils']],
    ])
    const third = await report('?organization_id=school-1&limit=2&after=p4')
    expect(third.json().problem_cards).toEqual({ items: [{ id: 's2', organization_id: 'school-1', role: 'staff', last_name: 'Орлов', first_name: 'Олег', middle_name: null, problems: ['without_snils', 'without_middle_name'] }], next_after: null })
    for (const res of [first, second, third]) expect(res.body).not.toMatch(/\d{3}-\d{3}-\d{3}|snils_hmac/)
  })

  it('filters by role and by one problem', async () => {
    const res = await report('?role=student&problem=shared_snils', bootstrap)
    expect(res.json().organizations).toHaveLength(1)
    expect(res.json().problem_cards.items.map((c: { id: string }) => c.id)).toEqual(['p3', 'p4'])
    expect((await report('?problem=nonsense')).statusCode).toBe(400)
  })

  it('serves the admin console the same numbers within a support caller’s organisations', async () => {
    const rows = await completenessReport(t.db.pool, { organizationIds: ['school-2'] })
    expect(rows).toEqual([expect.objectContaining({ organization_id: 'school-2', role: 'parent', total: 1 })])
    const page = await problemCards(t.db.pool, { organizationIds: ['school-2'], limit: 10 })
    expect(page).toEqual({ items: [], next_after: null })
  })
})
