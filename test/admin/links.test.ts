import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findLink } from '../../src/linking/links.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { auditRows, bearer, BOOTSTRAP, seedSchools, SCHOOL_A, supportAccount, type Seeded } from './fixtures.js'

describe('support changes links: unlink, «Связать вопреки расхождению», move', () => {
  let t: TestApp
  let seeded: Seeded
  let schoolA: { id: string; token: string }
  let auditor: { id: string; token: string }
  const post = (token: string | Record<string, string>, url: string, payload: object = {}) =>
    t.app.inject({ method: 'POST', url: `/api/v1/admin${url}`, headers: typeof token === 'string' ? bearer(token) : token, payload })
  const linkCount = async () => (await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM links')).rows[0]!.n
  const auditCount = async () => (await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events')).rows[0]!.n

  beforeAll(async () => {
    t = await buildTestApp()
    seeded = await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    auditor = await supportAccount(t, 'municipal-auditor', 'auditor')
  })
  afterAll(async () => t.close())

  describe('unlink', () => {
    it('asks for a reason and changes nothing without one', async () => {
      const before = await auditCount()
      for (const payload of [{}, { reason: '   ' }]) {
        const res = await post(schoolA.token, '/users/a-parent-ivanova/unlink', payload)
        expect(res.statusCode).toBe(400)
        expect(res.json().error).toBe('reason_required')
      }
      expect(await findLink(t.db.pool, 'a-parent-ivanova')).toBeDefined()
      expect(await auditCount()).toBe(before)
    })

    it('lets an auditor read but never unlink', async () => {
      const res = await post(auditor.token, '/users/a-parent-ivanova/unlink', { reason: 'проверка' })
      expect(res.statusCode).toBe(403)
      expect(res.json().error).toBe('read_only')
      expect(await findLink(t.db.pool, 'a-parent-ivanova')).toBeDefined()
    })

    it('refuses a card of another school, writing nothing', async () => {
      const res = await post(schoolA.token, '/users/b-parent-petrova/unlink', { reason: 'чужая школа' })
      expect(res.statusCode).toBe(403)
      expect(await findLink(t.db.pool, 'b-parent-petrova')).toBeDefined()
    })

    it('removes the link with a link.removed event naming the support account and the reason', async () => {
      const res = await post(schoolA.token, '/users/a-parent-ivanova/unlink', { reason: 'Родитель сообщил, что привязан чужой аккаунт' })
      expect(res.statusCode).toBe(200)
      expect(res.json().removed).toMatchObject({ journal_user_id: 'a-parent-ivanova', upstream_subject: '1000001' })
      expect(await findLink(t.db.pool, 'a-parent-ivanova')).toBeUndefined()
      const events = await auditRows(t.db.pool, `type = 'link.removed' AND journal_user_id = 'a-parent-ivanova'`)
      expect(events).toEqual([
        expect.objectContaining({
          actor_kind: 'support', actor_id: schoolA.id, organization_id: SCHOOL_A.id, upstream_subject: '1000001',
          reason: 'Родитель сообщил, что привязан чужой аккаунт',
          details: { method: 'link', destroyed: ['upstream_subject', 'link_evidence'] },
        }),
      ])
    })

    it('says so when there is no link to remove', async () => {
      const res = await post(schoolA.token, '/users/a-parent-ivanova/unlink', { reason: 'ещё раз' })
      expect(res.statusCode).toBe(409)
      expect(res.json().error).toBe('not_linked')
    })
  })

  describe('failed attempts and «Связать вопреки расхождению»', () => {
    it('lists the attempts of school A only, with ЕСИА-side names next to the card, field by field', async () => {
      const res = await t.app.inject({ url: '/api/v1/admin/failed-attempts', headers: bearer(schoolA.token) })
      expect(res.statusCode).toBe(200)
      const { attempts } = res.json()
      expect(attempts.map((a: { id: number }) => a.id)).toEqual([seeded.attempts.smirnovBirthDate])
      const [smirnov] = attempts
      expect(smirnov).toMatchObject({ flow: 'link', reasons: ['mismatch:birth_date'], esia_last_name: 'Смирнов', upstream_subject: '1000002', can_override: true })
      expect(smirnov.comparison).toEqual([
        { field: 'last_name', journal: 'Смирнов', esia: 'Смирнов', state: 'agrees' },
        { field: 'first_name', journal: 'Алексей', esia: 'Алексей', state: 'agrees' },
        { field: 'middle_name', journal: 'Иванович', esia: 'Иванович', state: 'agrees' },
        { field: 'birth_date', journal: '1981-01-02', esia: '1980-01-02', state: 'differs' },
        { field: 'snils', journal: 'указан', esia: 'указан', state: 'agrees' },
      ])
      expect((await auditRows(t.db.pool, `type = 'support.failed_attempts_viewed' AND actor_id = $1`, [schoolA.id]))[0]!.details).toEqual({ results: 1 })
    })

    it('asks for a reason before overriding', async () => {
      const res = await post(schoolA.token, `/failed-attempts/${seeded.attempts.smirnovBirthDate}/link`, { reason: '' })
      expect(res.statusCode).toBe(400)
      expect(res.json().error).toBe('reason_required')
      expect(await findLink(t.db.pool, 'a-parent-smirnov')).toBeUndefined()
    })

    it('links despite the mismatch: method support_override, the mismatch recorded, the attempt resolved, in one go', async () => {
      const res = await post(schoolA.token, `/failed-attempts/${seeded.attempts.smirnovBirthDate}/link`, { reason: 'Проверили паспорт в школе: в журнале опечатка в годе рождения' })
      expect(res.statusCode).toBe(200)
      const link = await findLink(t.db.pool, 'a-parent-smirnov')
      expect(link).toMatchObject({ upstreamSubject: '1000002', method: 'support_override', mismatches: ['mismatch:birth_date'], evidence: ['last_name', 'first_name', 'middle_name', 'snils'], trusted: true })
      const { rows } = await t.db.pool.query('SELECT resolved_at, resolved_by FROM failed_attempts WHERE id = $1', [seeded.attempts.smirnovBirthDate])
      expect(rows[0].resolved_at).not.toBeNull()
      expect(rows[0].resolved_by).toBe(schoolA.id)
      const [event] = await auditRows(t.db.pool, `type = 'link.created' AND journal_user_id = 'a-parent-smirnov'`)
      expect(event).toMatchObject({ actor_kind: 'support', actor_id: schoolA.id, reason: 'Проверили паспорт в школе: в журнале опечатка в годе рождения' })
      expect(event!.details).toMatchObject({ method: 'support_override', mismatches: ['mismatch:birth_date'], failed_attempt_id: seeded.attempts.smirnovBirthDate })

      const again = await post(schoolA.token, `/failed-attempts/${seeded.attempts.smirnovBirthDate}/link`, { reason: 'ещё раз' })
      expect(again.statusCode).toBe(409)
      expect(again.json().error).toBe('already_resolved')
    })

    it('does not override an unconfirmed account: the person must confirm it on Госуслуги', async () => {
      const res = await post(BOOTSTRAP, `/failed-attempts/${seeded.attempts.sidorovUntrusted}/link`, { reason: 'очень просили' })
      expect(res.statusCode).toBe(409)
      expect(res.json().error).toBe('not_overridable')
      expect(await findLink(t.db.pool, 'b-parent-sidorov')).toBeUndefined()
    })

    it('keeps school B’s attempts out of reach of school A, and a login that found nobody for admins', async () => {
      for (const id of [seeded.attempts.petrovaLastName, seeded.attempts.loginNotFound]) {
        expect((await t.app.inject({ url: `/api/v1/admin/failed-attempts/${id}`, headers: bearer(schoolA.token) })).statusCode).toBe(403)
        expect((await post(schoolA.token, `/failed-attempts/${id}/link`, { reason: 'x', journal_user_id: 'a-staff-kuznetsova-2' })).statusCode).toBe(403)
        expect((await post(schoolA.token, `/failed-attempts/${id}/resolve`, { reason: 'x' })).statusCode).toBe(403)
      }
      const { rows } = await t.db.pool.query('SELECT count(*)::int AS n FROM failed_attempts WHERE resolved_at IS NOT NULL')
      expect(rows[0].n).toBe(1)
    })

    it('lets an admin link a login that found nobody to the card named', async () => {
      const missing = await post(BOOTSTRAP, `/failed-attempts/${seeded.attempts.loginNotFound}/link`, { reason: 'Карточка заведена с другой фамилией' })
      expect(missing.json().error).toBe('journal_user_required')
      const res = await post(BOOTSTRAP, `/failed-attempts/${seeded.attempts.loginNotFound}/link`, { reason: 'Карточка заведена с другой фамилией', journal_user_id: 'a-staff-kuznetsova-2' })
      expect(res.statusCode).toBe(200)
      expect(await findLink(t.db.pool, 'a-staff-kuznetsova-2')).toMatchObject({ upstreamSubject: '3000001', method: 'support_override', mismatches: ['not_found'] })
    })

    it('marks an attempt resolved without linking, with a reason', async () => {
      expect((await post(BOOTSTRAP, `/failed-attempts/${seeded.attempts.petrovaLastName}/resolve`, {})).statusCode).toBe(400)
      const res = await post(BOOTSTRAP, `/failed-attempts/${seeded.attempts.petrovaLastName}/resolve`, { reason: 'Фамилию в журнале исправили' })
      expect(res.statusCode).toBe(204)
      const [event] = await auditRows(t.db.pool, `type = 'support.failed_attempt_resolved'`)
      expect(event).toMatchObject({ actor_id: 'bootstrap', journal_user_id: 'b-parent-sidorov', reason: 'Фамилию в журнале исправили', details: { failed_attempt_id: seeded.attempts.petrovaLastName, reasons: ['mismatch:last_name'] } })
    })
  })

  describe('move a link to another card', () => {
    it('asks for a reason, refuses a target in another school and a target with its own link', async () => {
      expect((await post(schoolA.token, '/users/a-parent-smirnov/move-link', { to_journal_user_id: 'a-parent-ivanova' })).json().error).toBe('reason_required')
      expect((await post(schoolA.token, '/users/a-parent-smirnov/move-link', { to_journal_user_id: 'b-parent-sidorov', reason: 'дубль' })).statusCode).toBe(403)
      const linked = await post(schoolA.token, '/users/a-parent-smirnov/move-link', { to_journal_user_id: 'a-staff-kuznetsova-2', reason: 'дубль' })
      expect(linked.statusCode).toBe(409)
      expect(linked.json().error).toBe('target_linked')
      expect(await findLink(t.db.pool, 'a-parent-smirnov')).toBeDefined()
    })

    it('moves the subject to the other card: link.removed and link.created(support_move) together', async () => {
      const links = await linkCount()
      const res = await post(schoolA.token, '/users/a-parent-smirnov/move-link', { to_journal_user_id: 'a-parent-ivanova', reason: 'Связь была сделана не на той карточке' })
      expect(res.statusCode).toBe(200)
      expect(await findLink(t.db.pool, 'a-parent-smirnov')).toBeUndefined()
      expect(await findLink(t.db.pool, 'a-parent-ivanova')).toMatchObject({ upstreamSubject: '1000002', method: 'support_move' })
      expect(await linkCount()).toBe(links)
      const events = await auditRows(t.db.pool, `reason = 'Связь была сделана не на той карточке'`)
      expect(events.map((e) => [e.type, e.journal_user_id, e.details.method])).toEqual([
        ['link.removed', 'a-parent-smirnov', 'support_override'],
        ['link.created', 'a-parent-ivanova', 'support_move'],
      ])
    })
  })
})
