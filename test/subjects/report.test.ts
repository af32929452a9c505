import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { bearer, BOOTSTRAP, SCHOOL_A, SCHOOL_B, supportAccount } from '../admin/fixtures.js'
import { ConsoleClient, pageText } from '../admin/console-client.js'
import { IVANOVA, seedIvanova } from './fixtures.js'

/**
 * «Что вы храните обо мне?» — Иванова asks her school; support opens the report by her card, an
 * admin by her SNILS. Every category lists what is held, and a school that is not hers sees nothing.
 */
describe('the report of what is held about a person', () => {
  let t: TestApp
  let schoolA: { token: string; password: string }
  let schoolB: { token: string }
  let attempts: number[]
  const report = (headers: Record<string, string>, query: string) => t.app.inject({ url: `/api/v1/admin/subjects/report?${query}`, headers })
  const category = (body: { categories: { code: string }[] }, code: string) => body.categories.find((c) => c.code === code) as Record<string, any>

  beforeAll(async () => {
    t = await buildTestApp()
    ;({ attempts } = await seedIvanova(t))
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    schoolB = await supportAccount(t, 'school-b-support', 'support', [SCHOOL_B.id])
  })
  afterAll(async () => t.close())

  it('lists her card, link, both failed attempts, her son\'s relation, the audit events and the session, each with purpose, basis and retention', async () => {
    const res = await report(bearer(schoolA.token), `journal_user_id=${IVANOVA.card}`)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ lookup: 'journal_user_id', journal_user_ids: [IVANOVA.card], subjects: [IVANOVA.subject] })
    expect(body.categories.map((c: { code: string }) => c.code)).toEqual(['directory_cards', 'links', 'failed_attempts', 'guardians', 'audit_events', 'journal_events', 'login_sessions', 'transient'])
    for (const c of body.categories) {
      expect(c.title).toMatch(/[А-Яа-я]/)
      expect(c.purpose).toMatch(/[А-Яа-я]/)
      expect(c.legal_basis).toMatch(/152-ФЗ/)
      expect(c.retention).toMatch(/[А-Яа-я]/)
    }
    expect(category(body, 'directory_cards')).toMatchObject({ count: 1, planned_deletion: null, items: [expect.objectContaining({ journal_user_id: IVANOVA.card, last_name: 'Иванова', snils_held: true })] })
    expect(category(body, 'directory_cards').note).toMatch(/данные журнала/)
    expect(category(body, 'links')).toMatchObject({ count: 1, items: [expect.objectContaining({ journal_user_id: IVANOVA.card, upstream_subject: IVANOVA.subject, method: 'link' })] })
    const failed = category(body, 'failed_attempts')
    expect(failed.count).toBe(2)
    expect(failed.items.map((a: { id: number }) => a.id).sort()).toEqual([...attempts].sort())
    expect(failed.items[0]).toMatchObject({ esia_last_name: 'Иванова', esia_snils_held: false })
    expect(failed.legal_basis).toContain('ст. 6 ч. 1 п. 1 152-ФЗ')
    expect(Date.parse(failed.planned_deletion) - Date.now()).toBeGreaterThan(29 * 86_400_000)
    expect(category(body, 'guardians')).toMatchObject({ count: 1, items: [expect.objectContaining({ parent_id: IVANOVA.card, child_id: IVANOVA.child, state: 'mismatch', esia_birth_date: '2012-09-02', esia_snils_held: true })] })
    const audit = category(body, 'audit_events')
    expect(audit.items.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['link.created', 'guardian.checked', 'login.succeeded']))
    expect(audit.retention).toContain('1095 дней')
    // A date ahead, so the name says so: when the row will be pseudonymised.
    expect(audit.items[0].pseudonymises_at).toEqual(expect.any(String))
    expect(audit.items[0]).not.toHaveProperty('pseudonymised_at')
    expect(category(body, 'login_sessions')).toMatchObject({ count: 1, items: [expect.objectContaining({ client_id: 'journal-test' })] })
    // Never a SNILS or its HMAC.
    expect(res.body).not.toContain(IVANOVA.snils.replace(/\D/g, ''))
    expect(res.body).not.toMatch(/hmac"\s*:\s*"/)
  })

  it('finds her by ЕСИА subject, and an admin by her SNILS in a POST body; the read is an audit event without the SNILS', async () => {
    const bySubject = await report(bearer(schoolA.token), `subject=${IVANOVA.subject}`)
    expect(bySubject.statusCode).toBe(200)
    expect(bySubject.json().journal_user_ids).toEqual([IVANOVA.card])

    const bySnils = await t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/report', headers: BOOTSTRAP, payload: { snils: IVANOVA.snils } })
    expect(bySnils.statusCode).toBe(200)
    expect(bySnils.json()).toMatchObject({ lookup: 'snils', journal_user_ids: [IVANOVA.card], subjects: [IVANOVA.subject] })
    expect(category(bySnils.json(), 'failed_attempts').count).toBe(2)

    const { rows } = await t.db.pool.query(`SELECT journal_user_id, upstream_subject, details FROM audit_events WHERE type = 'support.subject_report_viewed' ORDER BY id DESC LIMIT 1`)
    expect(rows[0]).toMatchObject({ journal_user_id: IVANOVA.card, upstream_subject: IVANOVA.subject, details: expect.objectContaining({ lookup: 'snils' }) })
    expect(JSON.stringify(rows[0])).not.toContain(IVANOVA.snils.replace(/\D/g, ''))
    expect(t.logs.text()).not.toContain(IVANOVA.snils.replace(/\D/g, ''))
  })

  it('refuses support of another school (403), a SNILS in the query string and a request naming nobody or two ways (400)', async () => {
    expect((await report(bearer(schoolB.token), `journal_user_id=${IVANOVA.card}`)).statusCode).toBe(403)
    expect((await report(bearer(schoolB.token), `subject=${IVANOVA.subject}`)).statusCode).toBe(403)
    const bySnils = await t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/report', headers: bearer(schoolB.token), payload: { snils: IVANOVA.snils } })
    expect(bySnils.statusCode).toBe(403)
    expect((await report(BOOTSTRAP, `snils=${IVANOVA.snils.replace(/\D/g, '')}`)).statusCode).toBe(400)
    expect((await report(BOOTSTRAP, '')).json().error).toBe('lookup_required')
    expect((await report(BOOTSTRAP, `journal_user_id=${IVANOVA.card}&subject=${IVANOVA.subject}`)).json().error).toBe('lookup_required')
    const badSnils = await t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/report', headers: BOOTSTRAP, payload: { snils: '123' } })
    expect(badSnils.json().error).toBe('invalid_snils')
  })

  it('answers an admin about a person the bridge holds nothing on with an empty report', async () => {
    const res = await report(BOOTSTRAP, 'subject=9999999')
    expect(res.statusCode).toBe(200)
    expect(res.json().categories.every((c: { count: number }) => c.count === 0)).toBe(true)
  })

  it('shows the console page in Russian, linked from the card, with the SNILS lookup as a form', async () => {
    const browser = new ConsoleClient(t.app)
    await browser.login('school-a-support', schoolA.password)
    const card = await browser.get(`/admin/users/${IVANOVA.card}`)
    expect(card.body).toContain(`href="/admin/subjects/report?journal_user_id=${IVANOVA.card}"`)
    const page = await browser.get(`/admin/subjects/report?journal_user_id=${IVANOVA.card}`)
    expect(page.statusCode).toBe(200)
    const text = pageText(page)
    expect(text).toContain('Сведения об обработке персональных данных')
    expect(text).not.toContain('Уничтожить данные по запросу')
    for (const title of ['Карточки в справочнике журнала', 'Связь с учётной записью Госуслуг', 'Неудачные попытки привязки и входа', 'Родители и дети: сверка с Госуслугами', 'Журнал действий', 'Цель обработки', 'Правовое основание', 'Плановая дата удаления', 'Плановая дата обезличивания']) {
      expect(text).toContain(title)
    }
    const form = await browser.get('/admin/subjects/report')
    expect(pageText(form)).toContain('По СНИЛС')
    // «По карточке или учётной записи ЕСИА»: both fields, the account one opening the same report.
    expect(form.body).toContain('name="subject"')
    const bySubject = await browser.get(`/admin/subjects/report?subject=${IVANOVA.subject}`)
    expect(bySubject.statusCode).toBe(200)
    expect(pageText(bySubject)).toContain('Иванова Мария Петровна')
    const posted = await browser.post('/admin/subjects/report', { snils: IVANOVA.snils })
    expect(posted.statusCode).toBe(200)
    expect(pageText(posted)).toContain('Иванова Мария Петровна')
    const other = await browser.get(`/admin/subjects/report?journal_user_id=b-parent-petrova`)
    expect(other.statusCode).toBe(403)
  })
})
