import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ConsoleClient, pageText } from './console-client.js'
import { auditRows, bearer, BOOTSTRAP, seedSchools, SCHOOL_A, SCHOOL_B, supportAccount } from './fixtures.js'

/** «Контроль заполнения данных» as a school's support person reads it before the move to Госуслуги. */
describe('completeness report and problem cards', () => {
  let t: TestApp
  let schoolA: { id: string; token: string; password: string }
  const api = (url: string, headers = bearer(schoolA.token)) => t.app.inject({ url: `/api/v1/admin${url}`, headers })

  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
  })
  afterAll(async () => t.close())

  it('counts the problems of my school per role, and nothing of the other school', async () => {
    const res = await api('/completeness')
    expect(res.statusCode).toBe(200)
    const rows = res.json().organizations as { organization_id: string; role: string; total: number; without_snils: number; shared_snils: number; with_problems: number }[]
    expect(rows.map((r) => [r.organization_id, r.role])).toEqual([[SCHOOL_A.id, 'staff'], [SCHOOL_A.id, 'student'], [SCHOOL_A.id, 'parent']])
    expect(rows.find((r) => r.role === 'staff')).toMatchObject({ total: 2, shared_snils: 2, with_problems: 2 })
    expect(rows.find((r) => r.role === 'student')).toMatchObject({ total: 1, without_snils: 1 })
    expect((await api(`/completeness?organization_id=${SCHOOL_B.id}`)).statusCode).toBe(403)
    expect((await api('/completeness', BOOTSTRAP)).json().organizations.some((r: { organization_id: string }) => r.organization_id === SCHOOL_B.id)).toBe(true)
  })

  it('lists the cards behind a number, and records who looked', async () => {
    const res = await api('/completeness/problems?role=staff&problem=without_birth_date')
    expect(res.json().items).toEqual([expect.objectContaining({ id: 'a-staff-kuznetsova', problems: ['without_birth_date', 'without_middle_name', 'shared_snils'] })])
    const [event] = await auditRows(t.db.pool, `type = 'support.problem_cards_viewed'`)
    expect(event).toMatchObject({ actor_id: schoolA.id, details: { problem: 'without_birth_date', results: 1 } })
  })

  it('exports the report and the problem cards as CSV, each export recorded', async () => {
    const report = await api('/completeness.csv')
    expect(report.headers['content-disposition']).toBe('attachment; filename="completeness.csv"')
    const lines = report.body.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines[0]).toBe('Организация;Идентификатор организации;Роль;Карточек;Без СНИЛС;СНИЛС с ошибкой;Без даты рождения;Без отчества;СНИЛС как у другой карточки;Карточек с проблемами;Нет отчества (так указано);Родители без детей в журнале;Дети без родителей в журнале')
    expect(lines[1]).toBe(`${SCHOOL_A.name};${SCHOOL_A.id};Сотрудник;2;0;0;1;1;2;2;0;;`)
    const cards = await api('/completeness/problems.csv?role=student')
    expect(cards.body.replace(/^\uFEFF/, '').trim().split('\r\n')[1]).toBe('a-student-ivanov;school-a;Обучающийся;Иванов;Пётр;Сергеевич;да;;;;;;')
    expect((await api(`/completeness/problems.csv?organization_id=${SCHOOL_B.id}`)).statusCode).toBe(403)
    const exports = await auditRows(t.db.pool, `type = 'support.export' AND actor_id = $1`, [schoolA.id])
    expect(exports.map((e) => e.details.export)).toEqual(['completeness', 'problem_cards'])
  })

  it('shows the report in the console as the three tabs of the journal, each number opening its cards', async () => {
    const browser = new ConsoleClient(t.app)
    await browser.login('school-a-support', schoolA.password)
    const page = await browser.get('/admin/completeness?role=student')
    expect(page.statusCode).toBe(200)
    const text = pageText(page)
    for (const tab of ['Сотрудники', 'Обучающиеся', 'Родители']) expect(text).toContain(tab)
    expect(page.body).toContain('href="/admin/completeness/problems?organization_id=school-a&amp;role=student&amp;problem=without_snils"')
    const cards = await browser.get('/admin/completeness/problems?organization_id=school-a&role=student&problem=without_snils')
    expect(pageText(cards)).toContain('Иванов Пётр Сергеевич')
    expect(cards.body).toContain('href="/admin/users/a-student-ivanov"')
    expect((await browser.get(`/admin/completeness?organization_id=${SCHOOL_B.id}`)).statusCode).toBe(403)
  })
})
