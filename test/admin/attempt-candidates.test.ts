import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { buildTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { ConsoleClient, pageText } from './console-client.js'
import { auditRows, person, seedSchools, SCHOOL_A, SNILS, supportAccount } from './fixtures.js'

/**
 * Failed attempts that found no card (not_found) or several (ambiguous) were compared with nothing:
 * the console says «не сравнивалось» instead of marking every field red, and shows the cards support
 * is looking for — those sharing the person's SNILS, and a card without SNILS with the same surname,
 * first name and birth date — each with a button to open it. And the small things of the console.
 */
describe('the console on attempts without a card, and its small things', () => {
  let t: TestApp
  let browser: ConsoleClient
  let ambiguous: number
  let notFound: number
  let admin: { id: string; password: string }

  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
    admin = await supportAccount(t, 'chief', 'admin')
    const fail = (input: Parameters<typeof recordFailedAttempt>[2]) => recordFailedAttempt(t.db.pool, TEST_SECRETS.snilsHmacKey, input)
    // Two staff cards of school A carry one SNILS: the login could not pick one.
    ambiguous = await fail({
      flow: 'login', reasons: ['ambiguous'], organizationId: SCHOOL_A.id, details: { journal_user_ids: ['a-staff-kuznetsova', 'a-staff-kuznetsova-2'] },
      person: person({ subject: '4000001', lastName: 'Кузнецова', firstName: 'Ольга', middleName: 'Андреевна', birthDate: '1979-05-20', snils: SNILS.shared.replace(/\D/g, '') }),
    })
    // The pupil's card has no SNILS: nothing to auto-link by, but his name and birth date are there.
    notFound = await fail({
      flow: 'login', reasons: ['not_found'],
      person: person({ subject: '4000002', lastName: 'Иванов', firstName: 'Пётр', middleName: 'Сергеевич', birthDate: '2012-09-01', snils: '15926348700' }),
    })
    browser = new ConsoleClient(t.app)
    await browser.login('chief', admin.password)
  })
  afterAll(async () => t.close())

  it('an ambiguous attempt: «не сравнивалось», no red field, and both cards that share the SNILS', async () => {
    const res = await browser.get(`/admin/failed-attempts/${ambiguous}`)
    expect(res.statusCode).toBe(200)
    const text = pageText(res)
    expect(text).toContain('не сравнивалось')
    expect(res.body).not.toContain('class="differs"')
    expect(text).toContain('Возможные карточки')
    expect(text).toContain('тот же СНИЛС')
    for (const id of ['a-staff-kuznetsova', 'a-staff-kuznetsova-2']) expect(res.body).toContain(`href="/admin/users/${id}"`)
    expect(res.body).not.toContain(SNILS.shared.replace(/\D/g, ''))
  })

  it('a not_found attempt: the card without SNILS found by name and birth date, with «Открыть карточку»', async () => {
    const res = await browser.get(`/admin/failed-attempts/${notFound}`)
    const text = pageText(res)
    expect(text).toContain('не сравнивалось')
    expect(res.body).not.toContain('class="differs"')
    expect(text).toContain('Иванов Пётр Сергеевич')
    expect(text).toContain('СНИЛС в карточке не указан')
    expect(res.body).toMatch(/<a class="btn secondary" href="\/admin\/users\/a-student-ivanov"[^>]*>Открыть карточку<\/a>/)
  })

  it('an attempt whose card the journal removed since: it was compared, and the page says the card is gone', async () => {
    const id = await recordFailedAttempt(t.db.pool, TEST_SECRETS.snilsHmacKey, {
      flow: 'link', reasons: ['mismatch:last_name'], journalUserId: 'a-card-removed-since', organizationId: SCHOOL_A.id,
      person: person({ subject: '4000003', lastName: 'Сидорова', firstName: 'Анна', middleName: 'Ивановна', birthDate: '1985-01-15', snils: '15926348700' }),
    })
    const text = pageText(await browser.get(`/admin/failed-attempts/${id}`))
    expect(text).toContain('Карточка a-card-removed-since удалена из журнала после попытки: сравнить не с чем')
    expect(text).not.toContain('Карточка не определена')
  })

  it('the list: «не сравнивалось» instead of red fields, and the candidates named', async () => {
    const res = await browser.get('/admin/failed-attempts')
    const row = (id: number) => res.body.slice(res.body.lastIndexOf('<tr>', res.body.indexOf(`/admin/failed-attempts/${id}"`)), res.body.indexOf(`/admin/failed-attempts/${id}"`))
    for (const id of [ambiguous, notFound]) {
      expect(row(id)).toContain('не сравнивалось')
      expect(row(id)).not.toContain('tag bad')
    }
    expect(row(notFound)).toContain('href="/admin/users/a-student-ivanov"')
    expect(row(ambiguous)).toContain('href="/admin/users/a-staff-kuznetsova-2"')
  })

  it('one look at a card is one «Просмотр карточки», however often the page is shown again', async () => {
    const views = async () => (await auditRows(t.db.pool, `type = 'support.user_viewed' AND journal_user_id = 'a-parent-ivanova'`)).length
    await browser.get('/admin/users/a-parent-ivanova')
    await browser.get('/admin/users/a-parent-ivanova')
    const done = await browser.post('/admin/users/a-parent-ivanova/unlink', { reason: 'Родитель просит отвязать' })
    await browser.get(done.headers.location as string)
    expect(await views()).toBe(1)
    expect((await auditRows(t.db.pool, `type = 'link.removed' AND journal_user_id = 'a-parent-ivanova'`)).length).toBe(1)
  })

  it('says its name once in the title, and takes dates as дд.мм.гггг whatever the browser\'s language', async () => {
    const home = await browser.get('/admin')
    expect(home.body).toContain('<title>Консоль поддержки</title>')
    const audit = await browser.get('/admin/audit?from=01.01.2020&to=31.12.2099')
    expect(audit.statusCode).toBe(200)
    expect(audit.body).not.toContain('type="date"')
    expect(audit.body).toMatch(/<input type="text" id="f-from" name="from" value="01\.01\.2020"[^>]*placeholder="дд.мм.гггг"/)
    expect(pageText(audit)).toContain('Родитель просит отвязать') // the unlink above is in the period
    expect((await browser.get('/admin/audit?from=2020-01-01')).statusCode).toBe(200)
    expect((await browser.get('/admin/audit?from=31.02.2026')).statusCode).toBe(400)
  })
})
