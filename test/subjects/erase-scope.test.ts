import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { validateCard, upsertCard } from '../../src/directory/cards.js'
import { saveLink } from '../../src/linking/links.js'
import { buildTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { bearer, person, SCHOOL_B, SNILS, supportAccount } from '../admin/fixtures.js'
import { ConsoleClient, pageText } from '../admin/console-client.js'
import { IVANOVA, seedIvanova } from './fixtures.js'

/**
 * Whom an erasure reaches. Иванова is also on the staff of school B, and that card is linked to the
 * same Госуслуги account: a report or erasure by either card covers both. A stranger at school B
 * has Иванова's SNILS on her card by a typing mistake: an erasure by that SNILS is refused rather
 * than taking the stranger along. The console erases exactly what its report showed.
 */
const STAFF_CARD = 'b-staff-ivanova'
const STRANGER = 'b-parent-ivanenko'
const REQUEST = { request_number: 'ЗП-21', request_date: '2026-12-01', reason: 'Отзыв согласия на обработку персональных данных' }

async function addCard(t: TestApp, input: Parameters<typeof validateCard>[0]) {
  const v = validateCard(input, { snilsKey: TEST_SECRETS.snilsHmacKey })
  if (!v.ok) throw new Error(v.rejection.message)
  await upsertCard(t.db.pool, v.row)
}

describe('erasure scope: every linked card of the person, and nobody else', () => {
  let t: TestApp
  let admin: { id: string; token: string; password: string }
  const erase = (payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/erase', headers: bearer(admin.token), payload })
  const report = async (query: string) => (await t.app.inject({ url: `/api/v1/admin/subjects/report?${query}`, headers: bearer(admin.token) })).json()
  const links = async () => (await t.db.pool.query<{ journal_user_id: string }>(`SELECT journal_user_id FROM links ORDER BY 1`)).rows.map((r) => r.journal_user_id)

  beforeAll(async () => {
    t = await buildTestApp()
    await seedIvanova(t)
    await addCard(t, { id: STAFF_CARD, organization_id: SCHOOL_B.id, role: 'staff', last_name: 'ИВАНОВА', first_name: 'Мария', middle_name: 'Петровна', birth_date: '14.03.1985' })
    await withTransaction(t.db.pool, (tx) =>
      saveLink(tx, { method: 'link', evidence: ['last_name', 'first_name', 'birth_date'], trusted: true, level: 'PR', journalUserId: STAFF_CARD, upstreamSubject: IVANOVA.subject, actor: { kind: 'person', id: IVANOVA.subject } }),
    )
    await addCard(t, { id: STRANGER, organization_id: SCHOOL_B.id, role: 'parent', last_name: 'Иваненко', first_name: 'Марина', middle_name: 'Олеговна', birth_date: '02.07.1990', snils: SNILS.ivanova })
    admin = await supportAccount(t, 'region-admin', 'admin')
  })
  afterAll(async () => t?.close())

  it('reports both of her linked cards, asked by either card', async () => {
    for (const card of [IVANOVA.card, STAFF_CARD]) {
      const body = await report(`journal_user_id=${card}`)
      expect(body.journal_user_ids).toEqual([IVANOVA.card, STAFF_CARD])
      expect(body.subjects).toEqual([IVANOVA.subject])
      expect(body.categories.find((c: { code: string }) => c.code === 'links').count).toBe(2)
    }
  })

  it('refuses an erasure by a SNILS that a stranger\'s card shares, and changes nothing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/report', headers: bearer(admin.token), payload: { snils: IVANOVA.snils } })
    expect(res.json().journal_user_ids).toContain(STRANGER)
    const refused = await erase({ snils: IVANOVA.snils, ...REQUEST })
    expect(refused.statusCode).toBe(409)
    expect(refused.json().error).toBe('different_people')
    expect(refused.json().message).toContain('surname')
    expect(await links()).toEqual(expect.arrayContaining([IVANOVA.card, STAFF_CARD]))
    expect((await t.db.pool.query(`SELECT 1 FROM destruction_records`)).rowCount).toBe(0)
  })

  it('refuses an erasure whose report no longer matches (409 report_changed), and erases what the report showed', async () => {
    const body = await report(`journal_user_id=${IVANOVA.card}`)
    const stale = await erase({ journal_user_ids: [IVANOVA.card], subjects: body.subjects, ...REQUEST })
    expect(stale.statusCode).toBe(409)
    expect(stale.json().error).toBe('report_changed')
    expect(await links()).toEqual(expect.arrayContaining([IVANOVA.card, STAFF_CARD]))

    const res = await erase({ journal_user_ids: body.journal_user_ids, subjects: body.subjects, ...REQUEST })
    expect(res.statusCode).toBe(200)
    expect(res.json().categories).toContainEqual({ category: 'links', action: 'deleted', count: 2 })
    expect(await links()).toEqual(['b-parent-petrova'])
    // The stranger's card and Петрова's link are untouched.
    expect((await t.db.pool.query(`SELECT 1 FROM journal_users WHERE id = $1`, [STRANGER])).rowCount).toBe(1)
  })

  it('in the console: the form carries the cards shown; a change since the report is refused with a Russian notice', async () => {
    const console = new ConsoleClient(t.app)
    await console.login('region-admin', admin.password)
    const page = await console.get('/admin/subjects/report?journal_user_id=b-parent-petrova')
    const shown = /name="shown" value="([^"]*)"/.exec(page.body)![1]!.replaceAll('&quot;', '"')
    expect(JSON.parse(shown)).toEqual({ journal_user_ids: ['b-parent-petrova'], subjects: ['2000001'] })
    expect(pageText(page)).toContain('Не пишите в номер запроса и основание фамилию')
    const form = { request_number: 'ЗП-22', request_date: '2026-12-02', reason: 'Отзыв согласия', confirm: 'yes' }
    const changed = await console.post('/admin/subjects/erase', { ...form, shown: JSON.stringify({ journal_user_ids: ['b-parent-petrova'], subjects: [] }) })
    expect(changed.headers.location).toBe('/admin/subjects/report?journal_user_id=b-parent-petrova&error=report_changed')
    expect(pageText(await console.get(changed.headers.location as string))).toContain('Данные изменились с момента просмотра отчёта — откройте отчёт снова')
    expect(await links()).toEqual(['b-parent-petrova'])
    const done = await console.post('/admin/subjects/erase', { ...form, shown })
    expect(done.headers.location).toBe('/admin/destruction-records?done=erased')
    expect(pageText(await console.get(done.headers.location as string))).toContain('события для журнала об удалении связей поставлены в очередь')
    expect(await links()).toEqual([])

    // Without a link nothing goes to the journal, and the notice does not say it did.
    await recordFailedAttempt(t.db.pool, TEST_SECRETS.snilsHmacKey, {
      flow: 'link', reasons: ['mismatch:birth_date'], journalUserId: STRANGER, organizationId: SCHOOL_B.id,
      person: person({ subject: '3000009', lastName: 'Иваненко', firstName: 'Марина', middleName: 'Олеговна', birthDate: '1990-07-03' }),
    })
    const hers = await console.get(`/admin/subjects/report?journal_user_id=${STRANGER}`)
    const unlinked = await console.post('/admin/subjects/erase', { ...form, request_number: 'ЗП-23', shown: /name="shown" value="([^"]*)"/.exec(hers.body)![1]!.replaceAll('&quot;', '"') })
    expect(unlinked.headers.location).toBe('/admin/destruction-records?done=erased_unlinked')
    const notice = pageText(await console.get(unlinked.headers.location as string))
    expect(notice).toContain('Данные уничтожены. Запись об уничтожении — ниже.')
    expect(notice).not.toContain('поставлены в очередь')
  })
})
