import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { savePendingImport } from '../../src/admin/pending-imports.js'
import { findLink } from '../../src/linking/links.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ConsoleClient } from './console-client.js'
import { bearer, seedSchools, SCHOOL_A, SCHOOL_B, supportAccount, type Seeded } from './fixtures.js'

/**
 * «A support user of school A cannot see or change anything of school B through any endpoint»:
 * every admin route the app has — read from the app itself, so a new route without a case here
 * fails this test — is called by school A's support person with school B's ids and filters.
 */
interface Route {
  method: string
  url: string
}

/** Flattens `printRoutes()`'s tree into method + full path. */
function routesOf(tree: string): Route[] {
  const routes: Route[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^((?:│   |    )*)[├└]── (.+?) \(([A-Z, ]+)\)$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') routes.push({ method, url: stack.join('') })
  }
  return routes
}

type Expect = 'refused' | 'clean'
interface Case {
  params?: Record<string, string | number>
  query?: Record<string, string>
  body?: Record<string, unknown>
  /** A CSV sent as the API body, or as the console form's file. */
  csv?: string
  expect: Expect
}

const B_CSV = `Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор\r\nПетрова;Анна;Сергеевна;11.11.1988;;Родитель;${SCHOOL_B.id};b-parent-petrova\r\n`

// What school A must never read: school B's name, people, ЕСИА subjects.
const B_MARKERS = ['school-b', SCHOOL_B.name, 'Петрова', 'Сидоров', '2000001', '2000002', '2000003']

describe('school A support walks every admin route against school B', () => {
  let t: TestApp
  let seeded: Seeded
  let schoolA: { id: string; token: string; password: string }
  let schoolB: { id: string; token: string }
  let bTokenId: string
  let bPendingImport: string

  beforeAll(async () => {
    t = await buildTestApp()
    seeded = await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    schoolB = await supportAccount(t, 'school-b-support', 'support', [SCHOOL_B.id])
    bTokenId = (await t.db.pool.query('SELECT id FROM support_api_tokens WHERE account_id = $1', [schoolB.id])).rows[0].id
    bPendingImport = await savePendingImport(t.db.pool, t.config.secrets.keysEncryptionKey, {
      accountId: schoolB.id, options: { organizationId: SCHOOL_B.id, mode: 'replace', keepInvalidSnils: false }, file: Buffer.from(B_CSV), report: {},
    })
  })
  afterAll(async () => t.close())

  const cases = (): Record<string, Case> => {
    const attempt = { id: seeded.attempts.petrovaLastName }
    const bUser = { id: 'b-parent-petrova' }
    const orgB = { organization_id: SCHOOL_B.id }
    const erasure = { request_number: 'ЗП-1', request_date: '2026-01-15', reason: 'x' }
    return {
      // Admin API
      'GET /api/v1/admin/me': { expect: 'clean' },
      'GET /api/v1/admin/organizations': { expect: 'clean' },
      'GET /api/v1/admin/accounts': { expect: 'refused' },
      'POST /api/v1/admin/accounts': { body: { login: 'b-friend', role: 'support', organization_ids: [SCHOOL_B.id] }, expect: 'refused' },
      'PATCH /api/v1/admin/accounts/:id': { params: { id: schoolB.id }, body: { organization_ids: [SCHOOL_A.id, SCHOOL_B.id] }, expect: 'refused' },
      'GET /api/v1/admin/tokens': { query: { account_id: schoolB.id }, expect: 'refused' },
      'POST /api/v1/admin/tokens': { body: { name: 'b', account_id: schoolB.id }, expect: 'refused' },
      'DELETE /api/v1/admin/tokens/:id': { params: { id: bTokenId }, query: { account_id: schoolB.id }, expect: 'refused' },
      'POST /api/v1/admin/users/search': { body: orgB, expect: 'refused' },
      'GET /api/v1/admin/users/:id': { params: bUser, expect: 'refused' },
      'POST /api/v1/admin/users/:id/unlink': { params: bUser, body: { reason: 'x' }, expect: 'refused' },
      'POST /api/v1/admin/users/:id/move-link': { params: bUser, body: { to_journal_user_id: 'a-parent-smirnov', reason: 'x' }, expect: 'refused' },
      'GET /api/v1/admin/failed-attempts': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/failed-attempts/:id': { params: attempt, expect: 'refused' },
      'POST /api/v1/admin/failed-attempts/:id/link': { params: attempt, body: { reason: 'x' }, expect: 'refused' },
      'POST /api/v1/admin/failed-attempts/:id/resolve': { params: attempt, body: { reason: 'x' }, expect: 'refused' },
      'GET /api/v1/admin/audit-events': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/audit-events.csv': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/completeness': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/completeness/problems': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/completeness.csv': { query: orgB, expect: 'refused' },
      'GET /api/v1/admin/completeness/problems.csv': { query: orgB, expect: 'refused' },
      'POST /api/v1/admin/imports': { query: { dry_run: 'false', mode: 'replace', ...orgB }, csv: B_CSV, expect: 'refused' },
      'GET /api/v1/admin/subjects/report': { query: { journal_user_id: bUser.id }, expect: 'refused' },
      'POST /api/v1/admin/subjects/report': { body: { subject: '2000001' }, expect: 'refused' },
      'POST /api/v1/admin/subjects/erase': { body: { journal_user_id: bUser.id, ...erasure }, expect: 'refused' },
      'GET /api/v1/admin/destruction-records': { expect: 'refused' },
      'GET /api/v1/admin/destruction-records.csv': { expect: 'refused' },
      // Console
      'GET /admin': { expect: 'clean' },
      'GET /admin/console.css': { expect: 'clean' },
      'GET /admin/login': { expect: 'clean' },
      'POST /admin/login': { body: { login: 'school-b-support', password: 'a-guess-at-their-password' }, expect: 'clean' },
      'GET /admin/password': { expect: 'clean' },
      'POST /admin/password': { body: { current: 'wrong-wrong-wrong', next: 'n', repeat: 'n' }, expect: 'clean' },
      'GET /admin/users': { query: orgB, expect: 'refused' },
      'POST /admin/users/search': { body: orgB, expect: 'refused' },
      'GET /admin/users/:id': { params: bUser, expect: 'refused' },
      'POST /admin/users/:id/unlink': { params: bUser, body: { reason: 'x' }, expect: 'refused' },
      'POST /admin/users/:id/move-link': { params: bUser, body: { to_journal_user_id: 'a-parent-smirnov', reason: 'x' }, expect: 'refused' },
      'GET /admin/failed-attempts': { query: orgB, expect: 'refused' },
      'GET /admin/failed-attempts/:id': { params: attempt, expect: 'refused' },
      'POST /admin/failed-attempts/:id/link': { params: attempt, body: { reason: 'x' }, expect: 'refused' },
      'POST /admin/failed-attempts/:id/resolve': { params: attempt, body: { reason: 'x' }, expect: 'refused' },
      'GET /admin/audit': { query: orgB, expect: 'refused' },
      'GET /admin/audit.csv': { query: orgB, expect: 'refused' },
      'GET /admin/accounts': { expect: 'refused' },
      'POST /admin/accounts': { body: { login: 'b-friend', role: 'support', organization_ids: SCHOOL_B.id }, expect: 'refused' },
      'POST /admin/accounts/:id/enable': { params: { id: schoolB.id }, expect: 'refused' },
      'POST /admin/accounts/:id/disable': { params: { id: schoolB.id }, expect: 'refused' },
      'GET /admin/tokens': { expect: 'clean' },
      'POST /admin/tokens': { body: { name: 'mine' }, expect: 'clean' },
      'POST /admin/tokens/:id/revoke': { params: { id: bTokenId }, expect: 'refused' },
      'GET /admin/completeness': { query: orgB, expect: 'refused' },
      'GET /admin/completeness/problems': { query: orgB, expect: 'refused' },
      'GET /admin/completeness.csv': { query: orgB, expect: 'refused' },
      'GET /admin/completeness/problems.csv': { query: orgB, expect: 'refused' },
      'GET /admin/guardians': { query: orgB, expect: 'refused' },
      'GET /admin/guardians.csv': { query: orgB, expect: 'refused' },
      'GET /admin/import': { expect: 'clean' },
      'POST /admin/import': { body: { mode: 'replace', ...orgB }, csv: B_CSV, expect: 'refused' },
      'POST /admin/import/:id/apply': { params: { id: bPendingImport }, expect: 'refused' },
      'GET /admin/subjects/report': { query: { journal_user_id: bUser.id }, expect: 'refused' },
      'POST /admin/subjects/report': { body: { subject: '2000001' }, expect: 'refused' },
      'POST /admin/subjects/erase': { body: { journal_user_id: bUser.id, ...erasure, confirm: 'yes' }, expect: 'refused' },
      'GET /admin/destruction-records': { expect: 'refused' },
      'GET /admin/destruction-records.csv': { expect: 'refused' },
      'GET /admin/events': { expect: 'refused' },
      'GET /admin/events/:client_id': { params: { client_id: 'journal-test' }, expect: 'refused' },
      'POST /admin/events/:client_id/retry': { params: { client_id: 'journal-test' }, expect: 'refused' },
      // Last: it ends the session the walk uses.
      'POST /admin/logout': { expect: 'clean' },
    }
  }

  it('refuses every school-B id and filter, and shows nothing of school B anywhere', async () => {
    const table = cases()
    const routes = routesOf(t.app.printRoutes({ commonPrefix: false })).filter((r) => r.url.startsWith('/admin') || r.url.startsWith('/api/v1/admin'))
    const keys = routes.map((r) => `${r.method} ${r.url}`)
    expect(keys.length).toBeGreaterThan(40)
    expect(keys.filter((k) => !(k in table)), 'admin routes without a scope case').toEqual([])
    expect(Object.keys(table).filter((k) => !keys.includes(k)), 'scope cases for routes that do not exist').toEqual([])

    const browser = new ConsoleClient(t.app)
    await browser.login('school-a-support', schoolA.password)
    const ordered = [...keys.filter((k) => k !== 'POST /admin/logout'), 'POST /admin/logout']
    for (const key of ordered) {
      const c = table[key]!
      const [method, pattern] = key.split(' ') as [string, string]
      const url = pattern.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(c.params?.[name])))
      const query = c.query ? `?${new URLSearchParams(c.query)}` : ''
      let res: LightMyRequestResponse
      if (url.startsWith('/api/')) {
        const payload = c.csv !== undefined ? { payload: c.csv, headers: { ...bearer(schoolA.token), 'content-type': 'text/csv; charset=utf-8' } } : { headers: bearer(schoolA.token), ...(c.body ? { payload: c.body } : {}) }
        res = await t.app.inject({ method: method as 'GET', url: url + query, ...payload })
      } else if (c.csv !== undefined) {
        await browser.get('/admin/import')
        res = await browser.postFile(url, c.body as Record<string, string>, { field: 'file', name: 'school-b.csv', type: 'text/csv', content: c.csv })
      } else if (method === 'GET') {
        res = await browser.get(url + query)
      } else {
        if (key === 'POST /admin/login') await browser.get('/admin/password')
        const form = Object.fromEntries(Object.entries(c.body ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]))
        res = await browser.post(url + query, form)
      }
      const location = String(res.headers.location ?? '')
      if (c.expect === 'refused') {
        const refused = res.statusCode === 403 || (res.statusCode === 303 && /[?&]error=/.test(location))
        expect(refused, `${key} answered ${res.statusCode} ${location}`).toBe(true)
      } else {
        expect(res.statusCode, `${key}`).toBeLessThan(500)
        expect([200, 201, 204, 303, 401].includes(res.statusCode), `${key} answered ${res.statusCode}`).toBe(true)
      }
      for (const marker of B_MARKERS) expect(res.body.includes(marker), `${key} shows "${marker}"`).toBe(false)
    }
  })

  it('lists of users, attempts and the audit trail without a filter hold nothing of school B', async () => {
    const api = (url: string, payload?: object) => t.app.inject({ method: payload ? 'POST' : 'GET', url, headers: bearer(schoolA.token), ...(payload ? { payload } : {}) })
    const bodies = [
      await api('/api/v1/admin/users/search', {}),
      await api('/api/v1/admin/users/search', { name: 'Петрова' }),
      await api('/api/v1/admin/failed-attempts?state=all'),
      await api('/api/v1/admin/audit-events?limit=500'),
      await api('/api/v1/admin/audit-events.csv'),
      await api('/api/v1/admin/organizations'),
      await api('/api/v1/admin/completeness'),
      await api('/api/v1/admin/completeness/problems?limit=1000'),
      await api('/api/v1/admin/completeness.csv'),
      await api('/api/v1/admin/completeness/problems.csv'),
    ]
    for (const res of bodies) {
      expect(res.statusCode).toBe(200)
      for (const marker of B_MARKERS) expect(res.body).not.toContain(marker)
    }
  })

  it('left school B exactly as it was', async () => {
    expect(await findLink(t.db.pool, 'b-parent-petrova')).toMatchObject({ upstreamSubject: '2000001' })
    expect(await findLink(t.db.pool, 'b-parent-sidorov')).toBeUndefined()
    const attempts = await t.db.pool.query(`SELECT count(*)::int AS n FROM failed_attempts WHERE organization_id = $1 AND resolved_at IS NULL`, [SCHOOL_B.id])
    expect(attempts.rows[0].n).toBe(2)
    const account = await t.db.pool.query('SELECT disabled, organization_ids FROM support_accounts WHERE id = $1', [schoolB.id])
    expect(account.rows[0]).toEqual({ disabled: false, organization_ids: [SCHOOL_B.id] })
    expect((await t.db.pool.query('SELECT 1 FROM support_api_tokens WHERE id = $1', [bTokenId])).rowCount).toBe(1)
    const touched = await t.db.pool.query(
      `SELECT type FROM audit_events WHERE actor_id = $1 AND (organization_id = $2 OR journal_user_id LIKE 'b-%')`,
      [schoolA.id, SCHOOL_B.id],
    )
    expect(touched.rows).toEqual([])
    expect((await t.db.pool.query(`SELECT 1 FROM support_accounts WHERE login = 'b-friend'`)).rowCount).toBe(0)
    expect((await t.db.pool.query('SELECT 1 FROM support_pending_imports WHERE id = $1', [bPendingImport])).rowCount).toBe(1)
    expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM journal_users WHERE organization_id = $1`, [SCHOOL_B.id])).rows[0].n).toBe(2)
  })
})
