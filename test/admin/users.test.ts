import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { auditRows, bearer, BOOTSTRAP, seedSchools, SCHOOL_A, SCHOOL_B, SNILS, supportAccount } from './fixtures.js'

describe('finding journal users and reading their cards', () => {
  let t: TestApp
  let schoolA: { id: string; token: string }
  const search = (token: string, payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/admin/users/search', headers: bearer(token), payload })
  const ids = (res: { json(): { users: { id: string }[] } }) => res.json().users.map((u) => u.id)

  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
  })
  afterAll(async () => t.close())

  it('finds a parent by a SNILS typed in full with any separators, and records the search without the number', async () => {
    const typed = SNILS.ivanova.replace(/\D/g, '').replace(/(\d{3})(\d{3})(\d{3})(\d{2})/, '$1 $2 $3-$4')
    const res = await search(schoolA.token, { snils: typed })
    expect(res.statusCode).toBe(200)
    expect(res.json().users).toEqual([expect.objectContaining({ id: 'a-parent-ivanova', last_name: 'Иванова', snils_present: true, snils_valid: true, linked: true, link_method: 'link' })])
    expect(res.body).not.toMatch(/snils_hmac|\d{11}/)

    const [event] = await auditRows(t.db.pool, `type = 'support.search' AND actor_id = $1`, [schoolA.id])
    expect(event!.details).toEqual({ filters: ['snils'], results: 1 })
    const digits = SNILS.ivanova.replace(/\D/g, '')
    const everything = JSON.stringify(await auditRows(t.db.pool)) + t.logs.text()
    expect(everything).not.toContain(digits)
    expect(everything).not.toContain(typed)
  })

  it('refuses a SNILS that is not 11 digits', async () => {
    const res = await search(schoolA.token, { snils: '123-456' })
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe('invalid_snils')
  })

  it('finds people by name whatever the case, ё or stray spaces, by surname alone or with the first name', async () => {
    expect(ids(await search(schoolA.token, { name: '  ИВАНОВА  ' }))).toEqual(['a-parent-ivanova'])
    expect(ids(await search(schoolA.token, { name: 'иванов петр' }))).toEqual(['a-student-ivanov'])
    expect(ids(await search(schoolA.token, { name: 'Кузнецова Ольга' }))).toEqual(['a-staff-kuznetsova', 'a-staff-kuznetsova-2'])
    expect(ids(await search(schoolA.token, { name: 'Кузнецова Ольга Андр' }))).toEqual(['a-staff-kuznetsova-2'])
  })

  it('filters by role and link state', async () => {
    expect(ids(await search(schoolA.token, { role: 'parent', link_state: 'linked' }))).toEqual(['a-parent-ivanova'])
    expect(ids(await search(schoolA.token, { role: 'parent', link_state: 'unlinked' }))).toEqual(['a-parent-smirnov'])
  })

  it('never shows a school-A support person anyone from school B, even by their exact SNILS', async () => {
    expect(ids(await search(schoolA.token, { snils: SNILS.petrova }))).toEqual([])
    expect(ids(await search(schoolA.token, { name: 'Петрова' }))).toEqual([])
    const res = await search(schoolA.token, { organization_id: SCHOOL_B.id })
    expect(res.statusCode).toBe(403)
    expect(ids(await search(schoolA.token, {})).every((id) => id.startsWith('a-'))).toBe(true)
    // An admin sees both schools.
    expect(ids(await t.app.inject({ method: 'POST', url: '/api/v1/admin/users/search', headers: BOOTSTRAP, payload: { snils: SNILS.petrova } }))).toEqual(['b-parent-petrova'])
  })

  it('shows a card with its completeness problems, link, history and failed attempts, and records the view', async () => {
    const res = await t.app.inject({ url: '/api/v1/admin/users/a-staff-kuznetsova', headers: bearer(schoolA.token) })
    expect(res.statusCode).toBe(200)
    const card = res.json()
    expect(card.user).toMatchObject({ id: 'a-staff-kuznetsova', organization_name: SCHOOL_A.name, middle_name: null, birth_date: null })
    expect(card.problems).toEqual(['without_birth_date', 'without_middle_name', 'shared_snils'])
    expect(card.snils_shared_with).toEqual(['a-staff-kuznetsova-2'])
    expect(card.link).toBeNull()

    const ivanova = (await t.app.inject({ url: '/api/v1/admin/users/a-parent-ivanova', headers: bearer(schoolA.token) })).json()
    expect(ivanova.link).toMatchObject({ upstream_subject: '1000001', method: 'link', evidence: ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils'] })
    expect(ivanova.history.map((e: { type: string }) => e.type)).toEqual(['link.created'])
    expect(ivanova.related).toEqual([expect.objectContaining({ id: 'a-student-ivanov', relation: 'child' })])

    const smirnov = (await t.app.inject({ url: '/api/v1/admin/users/a-parent-smirnov', headers: bearer(schoolA.token) })).json()
    expect(smirnov.failed_attempts).toEqual([expect.objectContaining({ reasons: ['mismatch:birth_date'], esia_last_name: 'Смирнов' })])

    const views = await auditRows(t.db.pool, `type = 'support.user_viewed' AND actor_id = $1`, [schoolA.id])
    expect(views.map((v) => v.journal_user_id)).toEqual(['a-staff-kuznetsova', 'a-parent-ivanova', 'a-parent-smirnov'])
    expect(views.every((v) => v.organization_id === SCHOOL_A.id && v.actor_kind === 'support')).toBe(true)
  })

  it('answers 403 for a card of another school and for an id that does not exist alike; an admin gets 404 for the missing one', async () => {
    const other = await t.app.inject({ url: '/api/v1/admin/users/b-parent-petrova', headers: bearer(schoolA.token) })
    const missing = await t.app.inject({ url: '/api/v1/admin/users/no-such-user', headers: bearer(schoolA.token) })
    expect(other.statusCode).toBe(403)
    expect(missing.statusCode).toBe(403)
    expect(other.body).toBe(missing.body)
    expect((await t.app.inject({ url: '/api/v1/admin/users/no-such-user', headers: BOOTSTRAP })).statusCode).toBe(404)
    expect(await auditRows(t.db.pool, `type = 'support.user_viewed' AND journal_user_id = 'b-parent-petrova'`)).toEqual([])
  })

  it('lists the organisations in scope only', async () => {
    const res = await t.app.inject({ url: '/api/v1/admin/organizations', headers: bearer(schoolA.token) })
    expect(res.json().organizations.map((o: { id: string }) => o.id)).toEqual([SCHOOL_A.id])
  })
})
