import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { auditRows, BOOTSTRAP, seedSchools, SCHOOL_A, supportAccount } from '../admin/fixtures.js'
import { ConsoleClient, pageText } from '../admin/console-client.js'
import { outboxSettled, startReceiver, type Receiver } from './receiver.js'

/**
 * «Доставка событий» in the support console: an administrator sees, per journal, what was
 * delivered, what waits and what the journal refused with its words, and sends a refused event
 * again once the journal is fixed. A school's support account does not see the page.
 */
describe('the console’s «Доставка событий»', () => {
  let t: TestApp
  let receiver: Receiver
  let admin: ConsoleClient
  const failedCount = async () => (await t.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_outbox WHERE status = 'failed'`)).rows[0]!.n

  beforeAll(async () => {
    receiver = await startReceiver()
    t = await buildTestApp({ clients: [{ ...JOURNAL_CLIENT, events_endpoint: `${receiver.url}/events` }] })
    // The journal refuses everything until it is fixed.
    receiver.answer(() => ({ status: 400, body: JSON.stringify({ err: 'invalid_key', description: 'unknown kid' }) }))
    await seedSchools(t.db.pool)
    await outboxSettled(t.app)
    const account = await supportAccount(t, 'events-admin', 'admin')
    admin = new ConsoleClient(t.app)
    expect((await admin.login('events-admin', account.password)).statusCode).toBe(303)
  })
  afterAll(async () => {
    await t.close()
    await receiver.close()
  })

  it('lists the journals with what was delivered, what waits and what failed', async () => {
    const page = await admin.get('/admin/events')
    expect(page.statusCode).toBe(200)
    const text = pageText(page)
    expect(text).toContain('Доставка событий')
    expect(text).toContain(JOURNAL_CLIENT.name)
    expect(text).toContain(`${receiver.url}/events`)
    expect(page.body).toMatch(/<span class="tag bad"><a href="\/admin\/events\/journal-test\?status=failed">2<\/a><\/span>/)
  })

  it('shows the refused events with the journal’s answer, and sends them again on «Повторить все сейчас»', async () => {
    const failed = await admin.get('/admin/events/journal-test?status=failed')
    const text = pageText(failed)
    expect(text).toContain('Связь создана')
    expect(text).toContain('a-parent-ivanova')
    expect(text).toContain('invalid_key: unknown kid')
    expect(text).toContain('Повторить сейчас')

    receiver.answer(() => 202)
    const retried = await admin.post('/admin/events/journal-test/retry')
    expect(retried.statusCode).toBe(303)
    expect(retried.headers.location).toBe('/admin/events/journal-test?status=pending&done=events_retried')
    await receiver.waitFor('/events', 4)
    await outboxSettled(t.app)
    expect(await failedCount()).toBe(0)
    const delivered = pageText(await admin.get('/admin/events/journal-test?status=delivered'))
    expect(delivered).toContain('Доставлены (2)')
    expect((await auditRows(t.db.pool, `type = 'support.events_retried'`)).map((e) => e.details)).toEqual([{ client_id: 'journal-test', retried: 2 }])
  })

  it('retries one event by its row; with nothing to retry it says so', async () => {
    receiver.answer(() => ({ status: 400, body: JSON.stringify({ err: 'access_denied', description: 'maintenance' }) }))
    await t.app.inject({ method: 'POST', url: '/api/v1/admin/users/a-parent-ivanova/unlink', headers: BOOTSTRAP, payload: { reason: 'проверка' } })
    await outboxSettled(t.app)
    const page = await admin.get('/admin/events/journal-test?status=failed')
    const id = /name="id" value="(\d+)"/.exec(page.body)![1]!
    receiver.answer(() => 202)
    expect((await admin.post('/admin/events/journal-test/retry', { id })).statusCode).toBe(303)
    await outboxSettled(t.app)
    expect(await failedCount()).toBe(0)
    const nothing = await admin.post('/admin/events/journal-test/retry', { id })
    expect(nothing.headers.location).toBe('/admin/events/journal-test?error=nothing_to_retry')
  })

  it('is for administrators: a school’s support account is refused', async () => {
    const account = await supportAccount(t, 'school-a-events', 'support', [SCHOOL_A.id])
    const school = new ConsoleClient(t.app)
    await school.login('school-a-events', account.password)
    expect((await school.get('/admin/events')).statusCode).toBe(403)
    expect((await school.get('/admin/events/journal-test')).statusCode).toBe(403)
    expect(pageText(await school.get('/admin')).includes('Доставка событий')).toBe(false)
    expect((await admin.get('/admin/events/no-such-journal')).statusCode).toBe(404)
  })
})
