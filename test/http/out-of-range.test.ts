import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ConsoleClient } from '../admin/console-client.js'
import { BOOTSTRAP, seedSchools, SCHOOL_A, supportAccount } from '../admin/fixtures.js'

/**
 * Numbers nobody would type but anybody can send: ids beyond PostgreSQL's bigint (or beyond what a
 * JSON number carries exactly), in paths and in `before_id`, and calendar days that do not exist.
 * Each is a 4xx that says what is wrong, never a 500 from the database refusing the value.
 */
const ABSURD = ['99999999999999999999999', '9223372036854775808', '9007199254740993', '1e+23', '-1', '0', '1.5']

describe('ids out of range and impossible days → 4xx, never 500', () => {
  let t: TestApp
  let console_: ConsoleClient

  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
    const account = await supportAccount(t, 'range-admin', 'admin')
    console_ = new ConsoleClient(t.app)
    expect((await console_.login('range-admin', account.password)).statusCode).toBe(303)
    void SCHOOL_A
  })
  afterAll(async () => t.close())

  const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url: `/api/v1/admin${url}`, headers: BOOTSTRAP, ...(payload ? { payload } : {}) })

  for (const id of ABSURD) {
    const q = encodeURIComponent(id)
    it(`the admin API refuses ${id} as an id`, async () => {
      const answers = await Promise.all([
        api('GET', `/failed-attempts/${q}`),
        api('POST', `/failed-attempts/${q}/resolve`, { reason: 'проверка' }),
        api('POST', `/failed-attempts/${q}/link`, { reason: 'проверка' }),
        api('GET', `/failed-attempts?before_id=${q}`),
        api('GET', `/audit-events?before_id=${q}`),
        api('GET', `/audit-events.csv?before_id=${q}`),
      ])
      for (const res of answers) {
        expect([400, 404]).toContain(res.statusCode)
        expect(res.json()).toMatchObject({ error: expect.stringMatching(/^(invalid_request|not_found)$/) })
      }
    })

    it(`the console answers ${id} with a Russian page, not a failure`, async () => {
      for (const url of [`/admin/failed-attempts/${q}`, `/admin/failed-attempts?before_id=${q}`, `/admin/audit?before_id=${q}`, `/admin/audit.csv?before_id=${q}`]) {
        const res = await console_.get(url)
        expect([400, 404], url).toContain(res.statusCode)
        expect(res.headers['content-type']).toContain('text/html')
      }
      for (const action of ['resolve', 'link']) {
        await console_.get('/admin')
        const res = await console_.post(`/admin/failed-attempts/${q}/${action}`, { reason: 'проверка' })
        expect([400, 404], action).toContain(res.statusCode)
      }
    })
  }

  it('a day that does not exist in the audit filters is a 400', async () => {
    for (const day of ['2024-13-01', '2024-02-30', '0000-00-00']) {
      expect((await api('GET', `/audit-events?from=${day}`)).statusCode).toBe(400)
      expect((await api('GET', `/audit-events?to=${day}`)).statusCode).toBe(400)
      expect((await console_.get(`/admin/audit?from=${day}`)).statusCode).toBe(400)
    }
    expect((await api('GET', '/audit-events?from=2024-02-29&to=2024-03-01')).statusCode).toBe(200)
  })
})
