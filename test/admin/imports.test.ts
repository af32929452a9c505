import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ConsoleClient, pageText } from './console-client.js'
import { auditRows, bearer, seedSchools, SCHOOL_A, SCHOOL_B, snilsFrom, supportAccount } from './fixtures.js'

/**
 * «Пакетное обновление» by a school's support person: the school sends a corrected export of its
 * parents — Смирнов's birth year fixed, a new parent — with one row of another school mixed in.
 */
const NEW_SNILS = snilsFrom('556677889')
const HEADER = 'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор'
const CSV = [
  HEADER,
  `Смирнов;Алексей;Иванович;02.01.1980;${snilsFrom('223344556')};Родитель;${SCHOOL_A.id};a-parent-smirnov`,
  `Орлова;Вера;Николаевна;02.02.1990;${NEW_SNILS};Родитель;${SCHOOL_A.id};a-parent-orlova`,
  `Сидоров;Иван;Ильич;05.06.1975;;Родитель;${SCHOOL_B.id};b-parent-sidorov`,
].join('\r\n') + '\r\n'

describe('batch update by support: dry run, then apply', () => {
  let t: TestApp
  let schoolA: { id: string; token: string; password: string }
  let auditor: { id: string; token: string }
  const post = (token: string, query: string, body = CSV) =>
    t.app.inject({ method: 'POST', url: `/api/v1/admin/imports${query}`, headers: { ...bearer(token), 'content-type': 'text/csv; charset=utf-8' }, payload: body })
  const birthDate = async (id: string) => (await t.db.pool.query('SELECT birth_date FROM journal_users WHERE id = $1', [id])).rows[0]?.birth_date ?? null

  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    auditor = await supportAccount(t, 'inspector', 'auditor', [SCHOOL_A.id])
  })
  afterAll(async () => t.close())

  describe('through the API', () => {
    it('reports what would change, refuses the other school’s row, and changes nothing', async () => {
      const res = await post(schoolA.token, '?dry_run=true')
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ dry_run: true, rows: 3, inserted: 1, updated: 1, rejected: 1, rejected_by_reason: { organization_out_of_scope: 1 } })
      expect(res.json().rejected_rows).toEqual([expect.objectContaining({ line: 4, id: 'b-parent-sidorov', reason: 'organization_out_of_scope' })])
      expect(res.body).not.toContain('Сидоров')
      expect(await birthDate('a-parent-smirnov')).toBe('1981-01-02')
      expect(await birthDate('a-parent-orlova')).toBeNull()
      const [event] = await auditRows(t.db.pool, `type = 'support.import'`)
      expect(event).toMatchObject({ actor_id: schoolA.id, details: { dry_run: true, rows: 3, inserted: 1, updated: 1, rejected: 1 } })
    })

    it('lets an auditor check a file but not apply it', async () => {
      expect((await post(auditor.token, '?dry_run=true')).statusCode).toBe(200)
      const res = await post(auditor.token, '?dry_run=false')
      expect(res.statusCode).toBe(403)
      expect(res.json().error).toBe('read_only')
    })

    it('refuses an import for another school and explains a file it cannot read', async () => {
      expect((await post(schoolA.token, `?dry_run=false&mode=replace&organization_id=${SCHOOL_B.id}`)).statusCode).toBe(403)
      const bad = await post(schoolA.token, '?dry_run=true', 'ФИО;Школа\r\nИванов;1\r\n')
      expect(bad.statusCode).toBe(400)
      expect(bad.json().error).toBe('bad_header')
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/admin/imports', headers: { ...bearer(schoolA.token), 'content-type': 'text/csv' }, payload: CSV })).statusCode).toBe(400)
    })
  })

  describe('in the console', () => {
    let browser: ConsoleClient
    beforeAll(async () => {
      browser = new ConsoleClient(t.app)
      await browser.login('school-a-support', schoolA.password)
    })

    it('shows the dry-run report in Russian and keeps the file only encrypted', async () => {
      await browser.get('/admin/import')
      const res = await browser.postFile('/admin/import', { mode: 'merge' }, { field: 'file', name: 'roditeli.csv', type: 'text/csv', content: CSV })
      expect(res.statusCode).toBe(200)
      const text = pageText(res)
      expect(text).toContain('Проверка файла: что изменится')
      expect(text).toMatch(/Будет добавлено 1/)
      expect(text).toMatch(/Будет обновлено 1/)
      expect(text).toContain('Организация вне вашей области доступа')
      expect(text).toContain('Применить изменения')
      expect(await birthDate('a-parent-smirnov')).toBe('1981-01-02')

      const { rows } = await t.db.pool.query('SELECT encrypted FROM support_pending_imports')
      expect(rows).toHaveLength(1)
      const stored: Buffer = rows[0].encrypted
      for (const clear of [NEW_SNILS, 'Орлова', 'a-parent-orlova']) expect(stored.includes(Buffer.from(clear))).toBe(false)
    })

    it('applies the checked file with one button, then forgets it', async () => {
      await browser.get('/admin/import')
      const report = await browser.postFile('/admin/import', { mode: 'merge' }, { field: 'file', name: 'roditeli.csv', type: 'text/csv', content: CSV })
      const action = /action="(\/admin\/import\/[\w-]+\/apply)"/.exec(report.body)![1]!
      const res = await browser.post(action)
      expect(res.statusCode).toBe(200)
      expect(pageText(res)).toContain('Изменения применены')
      expect(pageText(res)).toMatch(/Добавлено 1/)
      expect(await birthDate('a-parent-smirnov')).toBe('1980-01-02')
      expect(await birthDate('a-parent-orlova')).toBe('1990-02-02')
      expect(await birthDate('b-parent-sidorov')).toBe('1975-06-05')
      expect((await t.db.pool.query('SELECT 1 FROM support_pending_imports WHERE $1 LIKE \'%\' || id || \'%\'', [action])).rowCount).toBe(0)
      const applied = await auditRows(t.db.pool, `type IN ('directory.import', 'support.import') AND actor_id = $1 AND details->>'dry_run' IS DISTINCT FROM 'true'`, [schoolA.id])
      expect(applied.map((e) => e.type).sort()).toEqual(['directory.import', 'support.import'])

      const again = await browser.post(action)
      expect(again.headers.location).toBe('/admin/import?error=import_expired')
    })

    it('asks for a file when none was chosen', async () => {
      await browser.get('/admin/import')
      const res = await browser.postFile('/admin/import', { mode: 'merge' }, { field: 'file', name: '', type: 'application/octet-stream', content: '' })
      expect(res.statusCode).toBe(400)
      expect(pageText(res)).toContain('Выберите файл CSV')
    })
  })
})
