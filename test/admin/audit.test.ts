import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { auditRows, bearer, BOOTSTRAP, seedSchools, SCHOOL_A, SCHOOL_B, supportAccount, type Seeded } from './fixtures.js'

describe('the action log and what housekeeping removes', () => {
  let t: TestApp
  let seeded: Seeded
  let schoolA: { id: string; token: string }
  const events = async (query: string, headers = bearer(schoolA.token)) => {
    const res = await t.app.inject({ url: `/api/v1/admin/audit-events${query}`, headers })
    expect(res.statusCode).toBe(200)
    return res.json().events as { id: number; type: string; actor_id: string; organization_id: string | null; journal_user_id: string | null }[]
  }

  beforeAll(async () => {
    t = await buildTestApp()
    seeded = await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    await t.app.inject({ method: 'POST', url: `/api/v1/admin/failed-attempts/${seeded.attempts.smirnovBirthDate}/link`, headers: bearer(schoolA.token), payload: { reason: 'Проверили документы' } })
    await t.app.inject({ url: '/api/v1/admin/users/a-parent-ivanova', headers: bearer(schoolA.token) })
    // An old event, for the period filter.
    await t.db.pool.query(`INSERT INTO audit_events (at, type, actor_kind, actor_id, journal_user_id, organization_id) VALUES ('2025-03-01 10:00+03', 'link.removed', 'support', 'someone', 'a-student-ivanov', $1)`, [SCHOOL_A.id])
  })
  afterAll(async () => t.close())

  it('filters by type, family, actor, organisation and period, newest first', async () => {
    expect((await events('?type=link.created&organization_id=school-a')).map((e) => e.journal_user_id)).toEqual(['a-parent-smirnov', 'a-parent-ivanova'])
    expect(new Set((await events('?type=link.*')).map((e) => e.type))).toEqual(new Set(['link.created', 'link.removed']))
    expect((await events(`?actor=${schoolA.id}`)).map((e) => e.type)).toEqual(['support.user_viewed', 'link.created'])
    expect((await events('?actor=School-A-Support')).map((e) => e.type)).toEqual(['support.user_viewed', 'link.created'])
    expect((await events('?from=2025-03-01&to=2025-03-01')).map((e) => e.journal_user_id)).toEqual(['a-student-ivanov'])
    expect(await events('?from=2025-03-02&to=2025-03-31')).toEqual([])
  })

  it('pages backwards with before_id', async () => {
    const first = await t.app.inject({ url: '/api/v1/admin/audit-events?limit=2', headers: BOOTSTRAP })
    const { events: page1, next_before_id } = first.json()
    expect(page1).toHaveLength(2)
    const page2 = await events(`?limit=2&before_id=${next_before_id}`, BOOTSTRAP)
    expect(page2[0]!.id).toBeLessThan(page1[1].id)
  })

  it('keeps events without an organisation (account management) from a school’s support', async () => {
    expect((await events('?type=support.account_created'))).toEqual([])
    expect((await events('?type=support.account_created', BOOTSTRAP)).length).toBeGreaterThan(0)
    expect(await events(`?organization_id=${SCHOOL_B.id}`, BOOTSTRAP)).not.toEqual([])
  })

  it('exports CSV through the API and records the export', async () => {
    const res = await t.app.inject({ url: '/api/v1/admin/audit-events.csv?type=link.*', headers: bearer(schoolA.token) })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-disposition']).toBe('attachment; filename="audit-events.csv"')
    const lines = res.body.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines).toHaveLength(1 + 3)
    expect(lines.find((l) => l.includes('a-student-ivanov'))).toContain('01.03.2025, 10:00:00 МСК')
    const [exported] = await auditRows(t.db.pool, `type = 'support.export'`)
    expect(exported).toMatchObject({ actor_id: schoolA.id, details: { export: 'audit_events', filters: ['type'] } })
  })

  it('neutralises a reason typed as a spreadsheet formula in the export', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/admin/users/a-parent-smirnov/unlink', headers: bearer(schoolA.token), payload: { reason: '=HYPERLINK("http://evil.example";"ok")' } })
    const res = await t.app.inject({ url: '/api/v1/admin/audit-events.csv?type=link.removed', headers: bearer(schoolA.token) })
    expect(res.body).toContain(`;"'=HYPERLINK(""http://evil.example"";""ok"")";`)
  })

  it('purges failed attempts after FAILED_ATTEMPT_RETENTION_DAYS, and expired console sessions', async () => {
    await t.db.pool.query(`UPDATE failed_attempts SET at = now() - interval '31 days' WHERE id = $1`, [seeded.attempts.petrovaLastName])
    await t.db.pool.query(`INSERT INTO support_sessions (id_sha256, account_id, expires_at) VALUES (sha256('stale'), $1, now() - interval '1 minute')`, [schoolA.id])
    const removed = await t.app.housekeeping.runAll()
    expect(removed).toMatchObject({ failed_attempts: 1, support_sessions: 1 })
    const res = await t.app.inject({ url: '/api/v1/admin/failed-attempts?state=all', headers: BOOTSTRAP })
    expect(res.json().attempts.map((a: { id: number }) => a.id)).not.toContain(seeded.attempts.petrovaLastName)
  })
})
