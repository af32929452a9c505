import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { buildTestApp, JOURNAL_CLIENT, type TestApp } from '../helpers/app.js'
import { badSnils, bootstrap, journal, snils } from './fixtures.js'

describe('directory API: the journal keeps its organisations and cards up to date', () => {
  let t: TestApp
  const put = (url: string, payload: unknown, headers: Record<string, string> = journal) =>
    t.app.inject({ method: 'PUT', url: `/api/v1/directory/${url}`, headers, payload: payload as Record<string, unknown> })
  const del = (url: string, headers: Record<string, string> = journal) => t.app.inject({ method: 'DELETE', url: `/api/v1/directory/${url}`, headers })
  const audit = async (type: string) =>
    (await t.db.pool.query('SELECT actor_kind, actor_id, journal_user_id, organization_id, reason, details FROM audit_events WHERE type = $1 ORDER BY id', [type])).rows
  const parent = { organization_id: 'school-1', role: 'Родитель', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '01.02.1985', snils: snils('112233445') }

  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  describe('who may call', () => {
    it('refuses a call without credentials with 401', async () => {
      const res = await t.app.inject({ method: 'PUT', url: '/api/v1/directory/organizations/school-1', payload: { name: 'Школа № 1', kind: 'school' } })
      expect(res.statusCode).toBe(401)
      expect(res.json().error).toBe('unauthorized')
    })

    it('refuses a wrong client secret and an unknown bearer token with 401', async () => {
      const wrong = `Basic ${Buffer.from(`${JOURNAL_CLIENT.client_id}:not-the-secret`).toString('base64')}`
      expect((await put('organizations/school-1', { name: 'Школа № 1', kind: 'school' }, { authorization: wrong })).statusCode).toBe(401)
      expect((await put('organizations/school-1', { name: 'Школа № 1', kind: 'school' }, { authorization: 'Bearer nope-nope-nope-nope-nope' })).statusCode).toBe(401)
      expect((await t.app.inject({ url: '/api/v1/directory/reports/completeness', headers: { authorization: wrong } })).statusCode).toBe(401)
    })

    it('refuses an import upload without credentials before reading it', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { 'content-type': 'text/csv' }, payload: 'x' })
      expect(res.statusCode).toBe(401)
    })
  })

  describe('organisations', () => {
    it('creates an organisation (201) as the journal client, and records who did it', async () => {
      const res = await put('organizations/school-1', { name: 'МБОУ «Школа № 1»', kind: 'school', municipality: 'Петропавловск-Камчатский' })
      expect(res.statusCode).toBe(201)
      expect(res.json()).toEqual({ id: 'school-1', name: 'МБОУ «Школа № 1»', kind: 'school', municipality: 'Петропавловск-Камчатский', result: 'inserted' })
      expect(await audit('directory.organization_upserted')).toEqual([
        { actor_kind: 'journal', actor_id: JOURNAL_CLIENT.client_id, journal_user_id: null, organization_id: 'school-1', reason: null, details: { result: 'inserted', kind: 'school' } },
      ])
    })

    it('answers 200 unchanged for the same data, and updated with the bootstrap token', async () => {
      const same = await put('organizations/school-1', { name: 'МБОУ «Школа № 1»', kind: 'school', municipality: 'Петропавловск-Камчатский' })
      expect(same.statusCode).toBe(200)
      expect(same.json().result).toBe('unchanged')
      const renamed = await put('organizations/school-1', { name: 'Школа № 1', kind: 'school' }, bootstrap)
      expect(renamed.json()).toMatchObject({ result: 'updated', municipality: null })
      expect((await audit('directory.organization_upserted')).at(-1)).toMatchObject({ actor_kind: 'support', actor_id: 'bootstrap' })
    })

    it('refuses an unknown kind, a missing name and unexpected fields with 400', async () => {
      expect((await put('organizations/x', { name: 'X', kind: 'university' })).statusCode).toBe(400)
      expect((await put('organizations/x', { kind: 'school' })).statusCode).toBe(400)
      const extra = await put('organizations/x', { name: 'X', kind: 'school', director: 'Иванов' })
      expect(extra.statusCode).toBe(400)
      expect(extra.json().error).toBe('invalid_request')
    })

    it('will not delete an organisation that still has cards (409), deletes an empty one, 404 for an unknown one', async () => {
      await put('organizations/school-2', { name: 'Школа № 2', kind: 'school' })
      await put('users/busy-1', { ...parent, organization_id: 'school-2', snils: null })
      const busy = await del('organizations/school-2')
      expect(busy.statusCode).toBe(409)
      expect(busy.json()).toMatchObject({ error: 'organization_has_users', details: { journal_users: 1 } })
      await del('users/busy-1')
      expect((await del('organizations/school-2')).json()).toEqual({ id: 'school-2', deleted: true })
      expect((await del('organizations/school-2')).statusCode).toBe(404)
      expect(await audit('directory.organization_deleted')).toHaveLength(1)
    })
  })

  describe('cards', () => {
    it('creates a parent card and never echoes the SNILS', async () => {
      const res = await put('users/p-1', parent)
      expect(res.statusCode).toBe(201)
      expect(res.json()).toEqual({ id: 'p-1', organization_id: 'school-1', role: 'parent', result: 'inserted', snils_present: true, snils_valid: true, problems: [] })
      expect(res.body).not.toContain('112')
      const { rows } = await t.db.pool.query('SELECT last_name, middle_name, birth_date, snils_present, snils_valid, length(snils_hmac) AS hmac FROM journal_users WHERE id = $1', ['p-1'])
      expect(rows[0]).toEqual({ last_name: 'Иванова', middle_name: 'Петровна', birth_date: '1985-02-01', snils_present: true, snils_valid: true, hmac: 32 })
    })

    it('treats a repeated PUT as unchanged and writes no audit event for it', async () => {
      const before = (await audit('directory.user_upserted')).length
      const res = await put('users/p-1', parent)
      expect(res.statusCode).toBe(200)
      expect(res.json().result).toBe('unchanged')
      expect(await audit('directory.user_upserted')).toHaveLength(before)
    })

    it('refuses a SNILS with wrong check digits, unless invalid_snils=keep, and then reports it', async () => {
      const refused = await put('users/s-1', { ...parent, role: 'student', snils: badSnils('223344556') })
      expect(refused.statusCode).toBe(400)
      expect(refused.json().error).toBe('snils_checksum')
      expect(refused.body).not.toContain('223')
      const kept = await t.app.inject({ method: 'PUT', url: '/api/v1/directory/users/s-1?invalid_snils=keep', headers: journal, payload: { ...parent, role: 'student', snils: badSnils('223344556'), middle_name: '-' } })
      expect(kept.statusCode).toBe(201)
      // «-»: the person has no patronymic — said, not missing, so not a problem to fix.
      expect(kept.json()).toMatchObject({ snils_present: true, snils_valid: false, problems: ['invalid_snils'] })
    })

    it('names what is wrong with a card: 400 with the reason code', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ ...parent, role: 'директор' }, 'unknown_role'],
        [{ ...parent, last_name: '  ' }, 'missing_last_name'],
        [{ ...parent, first_name: '' }, 'missing_first_name'],
        [{ ...parent, birth_date: '31.02.2010' }, 'invalid_birth_date'],
        [{ ...parent, snils: '123-45' }, 'invalid_snils'],
        [{ ...parent, last_name: 'Ива\u0000нова' }, 'invalid_characters'],
      ]
      for (const [body, code] of cases) {
        const res = await put('users/bad-1', body)
        expect(res.statusCode, code).toBe(400)
        expect(res.json().error).toBe(code)
      }
      const missing = await put('users/bad-1', { role: 'parent', last_name: 'Иванова', first_name: 'Мария' })
      expect(missing.statusCode).toBe(400)
      expect(missing.json().error).toBe('invalid_request')
      expect((await t.db.pool.query(`SELECT 1 FROM journal_users WHERE id = 'bad-1'`)).rowCount).toBe(0)
    })

    it('refuses a card of an unknown organisation with unknown_organization', async () => {
      const res = await put('users/u-x', { ...parent, organization_id: 'school-404' })
      expect(res.statusCode).toBe(422)
      expect(res.json().error).toBe('unknown_organization')
    })

    it("sets a parent's children, and refuses children that are not student cards", async () => {
      await put('users/c-1', { ...parent, role: 'Ученик', first_name: 'Анна', birth_date: '2014-09-01', snils: null })
      await put('users/c-2', { ...parent, role: 'student', first_name: 'Олег', birth_date: '2016-03-08', snils: null })
      const res = await put('users/p-1', { ...parent, child_ids: ['c-2', 'c-1'] })
      expect(res.json()).toMatchObject({ result: 'unchanged', child_ids: ['c-1', 'c-2'] })
      const rel = await t.db.pool.query(`SELECT child_id FROM journal_user_relations WHERE parent_id = 'p-1' ORDER BY child_id`)
      expect(rel.rows.map((r) => r.child_id)).toEqual(['c-1', 'c-2'])
      expect((await audit('directory.user_upserted')).at(-1)).toMatchObject({ journal_user_id: 'p-1', details: { result: 'unchanged', children: 2 } })

      expect((await put('users/p-1', { ...parent, child_ids: ['c-404'] })).json()).toMatchObject({ error: 'unknown_child', details: { child_ids: ['c-404'] } })
      expect((await put('users/p-1', { ...parent, child_ids: ['p-1'] })).json().error).toBe('invalid_child')
      expect((await put('users/c-1', { ...parent, role: 'student', child_ids: ['c-2'] })).json().error).toBe('invalid_child')
      const kept = await put('users/p-1', { ...parent, child_ids: ['c-1'] })
      expect(kept.json().child_ids).toEqual(['c-1'])
    })

    it('flags a SNILS shared with another card of the same organisation and role', async () => {
      const res = await put('users/p-2', { ...parent, first_name: 'Ольга' })
      expect(res.json().problems).toEqual(['shared_snils'])
      // The same person as staff of the same school is one person in two capacities: not flagged.
      const staff = await put('users/st-1', { ...parent, role: 'staff' })
      expect(staff.json().problems).toEqual([])
    })

    it('moves a linked card, and refuses with link_conflict when its person already holds that place', async () => {
      await put('users/p-3', { ...parent, first_name: 'Ирина', snils: null })
      await withTransaction(t.db.pool, async (tx) => {
        await saveLink(tx, { journalUserId: 'p-3', upstreamSubject: 'esia-1', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: 'esia-1' } })
        await saveLink(tx, { journalUserId: 'st-1', upstreamSubject: 'esia-1', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: 'esia-1' } })
      })
      const res = await put('users/p-3', { ...parent, first_name: 'Ирина', snils: null, role: 'staff' })
      expect(res.statusCode).toBe(409)
      expect(res.json().error).toBe('link_conflict')
      const { rows } = await t.db.pool.query(`SELECT role FROM journal_users WHERE id = 'p-3'`)
      expect(rows[0].role).toBe('parent')
    })

    it('deletes a linked card together with its link, each with its audit event', async () => {
      const res = await del('users/p-3')
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ id: 'p-3', deleted: true, link_removed: true })
      expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = 'p-3'`)).rowCount).toBe(0)
      expect((await audit('link.removed')).at(-1)).toMatchObject({ journal_user_id: 'p-3', actor_kind: 'journal', reason: 'card deleted from the journal directory' })
      expect((await audit('directory.user_deleted')).at(-1)).toMatchObject({ journal_user_id: 'p-3', details: { link_removed: true } })
      expect((await del('users/p-3')).statusCode).toBe(404)
    })
  })
})
