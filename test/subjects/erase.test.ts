import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeAudit } from '../../src/linking/audit.js'
import { snilsHmac } from '../../src/matching/snils.js'
import { buildTestApp, JOURNAL_CLIENT, TEST_SECRETS, type TestApp } from '../helpers/app.js'
import { bearer, BOOTSTRAP, SCHOOL_A, SCHOOL_B, supportAccount } from '../admin/fixtures.js'
import { ConsoleClient, pageText } from '../admin/console-client.js'
import { outboxSettled, startReceiver, verifySet, type Receiver } from '../events/receiver.js'
import { CHILD_SNILS, IVANOVA, seedIvanova } from './fixtures.js'

/**
 * Иванова withdraws her consent (request № ЗП-17 of 1 December). An admin erases what the bridge
 * holds about her: afterwards no table but the journal's own cards and the events telling the
 * journal names her; the audit trail still says who did what, with her as a pseudonym; the
 * destruction record counts what went; the journal heard of the removed link and ended her session.
 */
describe('erasure on a person\'s request', () => {
  let t: TestApp
  let receiver: Receiver
  let admin: { id: string; token: string; password: string }
  let schoolA: { token: string }
  let schoolB: { token: string }
  const erase = (headers: Record<string, string>, payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/admin/subjects/erase', headers, payload })
  const REQUEST = { request_number: 'ЗП-17', request_date: '2026-12-01', reason: 'Отзыв согласия на обработку персональных данных' }

  beforeAll(async () => {
    receiver = await startReceiver()
    t = await buildTestApp({ clients: [{ ...JOURNAL_CLIENT, events_endpoint: `${receiver.url}/events`, backchannel_logout_uri: `${receiver.url}/logout` }] })
    await seedIvanova(t)
    admin = await supportAccount(t, 'region-admin', 'admin')
    schoolA = await supportAccount(t, 'school-a-support', 'support', [SCHOOL_A.id])
    schoolB = await supportAccount(t, 'school-b-support', 'support', [SCHOOL_B.id])
    // Support once typed her name into a reason: free text the erasure must not keep.
    await writeAudit(t.db.pool, { type: 'support.user_viewed', actor: { kind: 'support', id: 'school-a-support' }, journalUserId: IVANOVA.card, organizationId: SCHOOL_A.id, reason: 'Звонила Иванова Мария Петровна, просила проверить привязку' })
    // Support looked at her card and her report before: reads name her too.
    expect((await t.app.inject({ url: `/api/v1/admin/users/${IVANOVA.card}`, headers: bearer(schoolA.token) })).statusCode).toBe(200)
    expect((await t.app.inject({ url: `/api/v1/admin/subjects/report?journal_user_id=${IVANOVA.card}`, headers: bearer(schoolA.token) })).statusCode).toBe(200)
    await outboxSettled(t.app)
    receiver.clear()
  })
  afterAll(async () => {
    await t?.close()
    await receiver?.close()
  })

  it('is for an admin only: support of her own school or another gets 403, and nothing changes', async () => {
    for (const token of [schoolA.token, schoolB.token]) {
      const res = await erase(bearer(token), { journal_user_id: IVANOVA.card, ...REQUEST })
      expect(res.statusCode).toBe(403)
      expect(res.json().error).toBe('admin_only')
    }
    expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = $1`, [IVANOVA.card])).rowCount).toBe(1)
  })

  it('asks for the request\'s number, date and a reason', async () => {
    expect((await erase(BOOTSTRAP, { journal_user_id: IVANOVA.card, ...REQUEST, request_number: ' ' })).json().error).toBe('request_number_required')
    expect((await erase(BOOTSTRAP, { journal_user_id: IVANOVA.card, ...REQUEST, request_date: '2026-02-30' })).json().error).toBe('request_date_required')
    expect((await erase(BOOTSTRAP, { journal_user_id: IVANOVA.card, ...REQUEST, request_date: '2099-01-01' })).json().error).toBe('request_date_in_future')
    expect((await erase(BOOTSTRAP, { journal_user_id: IVANOVA.card, ...REQUEST, reason: '' })).json().error).toBe('reason_required')
    expect((await erase(BOOTSTRAP, { ...REQUEST })).json().error).toBe('lookup_required')
  })

  it('erases her data in one go: links with events and logout, attempts, guardian checks; audit rows pseudonymised; a destruction record', async () => {
    const before = (await t.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE journal_user_id = $1 OR upstream_subject = $2`, [IVANOVA.card, IVANOVA.subject])).rows[0]!.n
    const res = await erase(bearer(admin.token), { journal_user_id: IVANOVA.card, ...REQUEST })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.subject_token).toMatch(/^subj_[A-Za-z0-9_-]{22}$/)
    const counts = Object.fromEntries(body.categories.map((c: { category: string; count: number }) => [c.category, c.count]))
    // The link-created of her link was delivered before: its row goes with the rest. The audit rows
    // counted are hers from before: not school A's view of her report, not the erasure's link.removed.
    expect(counts).toEqual({ links: 1, failed_attempts: 2, guardians: 1, login_sessions: 1, journal_events: 1, transient: 0, audit_events: before - 1 })

    const { rows: records } = await t.db.pool.query(`SELECT basis, actor_kind, actor_id, subject_token, request_number, request_date, reason, categories, total FROM destruction_records`)
    expect(records).toEqual([
      expect.objectContaining({ basis: 'request', actor_kind: 'support', actor_id: admin.id, subject_token: body.subject_token, request_number: 'ЗП-17', request_date: '2026-12-01', total: body.total }),
    ])
    expect(records[0].categories).toContainEqual({ category: 'audit_events', action: 'pseudonymised', count: before - 1 })

    // The journal heard: link-removed by support, and a logout token for her session.
    const [pushed] = await receiver.waitFor('/events', 1)
    const set = await verifySet(t.app, pushed!.body, JOURNAL_CLIENT.client_id)
    expect(set.type).toBe('urn:esia-bridge:event:link-removed')
    expect(set.event).toMatchObject({ journal_user_id: IVANOVA.card, by: 'support' })
    const [logout] = await receiver.waitFor('/logout', 1)
    expect(new URLSearchParams(logout!.body).get('logout_token')).toBeTruthy()
  })

  it('leaves no table naming her but the journal\'s own cards and the events that told the journal', async () => {
    await outboxSettled(t.app)
    const columns = await t.db.pool.query<{ table: string; column: string; type: string }>(
      `SELECT c.relname AS table, a.attname AS column, t.typname AS type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND t.typname IN ('text', 'varchar', 'jsonb', 'json', '_text', 'bytea')
       ORDER BY 1, 2`,
    )
    expect(columns.rows.length).toBeGreaterThan(50)
    const key = TEST_SECRETS.snilsHmacKey
    const needles = [
      IVANOVA.card, IVANOVA.subject, 'Петровнa', 'Звонила Иванова',
      snilsHmac(key, IVANOVA.snils.replace(/\D/g, '')).toString('hex'), snilsHmac(key, CHILD_SNILS.replace(/\D/g, '')).toString('hex'),
    ]
    const allowed = new Set(['journal_users', 'journal_user_relations', 'event_outbox'])
    const found: string[] = []
    for (const { table, column, type } of columns.rows) {
      const value = type === 'bytea' ? `encode("${column}", 'hex')` : `"${column}"::text`
      for (const needle of needles) {
        const { rows } = await t.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE strpos(${value}, $1) > 0`, [needle])
        if (rows[0]!.n > 0 && !allowed.has(table)) found.push(`${table}.${column}: ${needle}`)
      }
    }
    expect(found).toEqual([])
    // The journal's tables keep only the journal's own id, never her ЕСИА account.
    const outbox = await t.db.pool.query(`SELECT event_type, data FROM event_outbox WHERE journal_user_id = $1 ORDER BY id`, [IVANOVA.card])
    expect(outbox.rows.map((r) => r.event_type)).toEqual(['urn:esia-bridge:event:link-removed', 'http://schemas.openid.net/event/backchannel-logout'])
    expect(JSON.stringify(outbox.rows)).not.toContain(IVANOVA.subject)
    // Someone else's data is untouched.
    expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = 'b-parent-petrova'`)).rowCount).toBe(1)
  })

  it('keeps the audit trail: who acted stays, she is one pseudonym', async () => {
    const token = (await t.db.pool.query(`SELECT subject_token FROM destruction_records`)).rows[0].subject_token
    const { rows } = await t.db.pool.query(`SELECT type, actor_kind, actor_id, journal_user_id, upstream_subject, pseudonymised_at FROM audit_events WHERE journal_user_id = $1 ORDER BY id`, [token])
    const types = rows.map((r) => r.type)
    expect(types).toEqual(expect.arrayContaining(['link.created', 'guardian.checked', 'login.succeeded', 'support.user_viewed', 'support.subject_report_viewed', 'link.removed']))
    expect(rows.every((r) => r.pseudonymised_at !== null && r.upstream_subject === null || String(r.upstream_subject).startsWith('subj_'))).toBe(true)
    expect(rows.find((r) => r.type === 'support.user_viewed')).toMatchObject({ actor_kind: 'support' })
    expect(rows.find((r) => r.type === 'link.removed')).toMatchObject({ actor_kind: 'support', actor_id: admin.id })
    const person = rows.find((r) => r.type === 'login.succeeded')!
    expect(person.actor_id).toMatch(/^subj_/)
    expect(person.actor_id).toBe(person.upstream_subject)
    const erased = await t.db.pool.query(`SELECT actor_id, reason, details FROM audit_events WHERE type = 'subject.erased'`)
    expect(erased.rows).toEqual([expect.objectContaining({ actor_id: admin.id, details: expect.objectContaining({ subject_token: token, request_number: 'ЗП-17' }) })])
  })

  it('reports nothing left but her card; a second erasure takes only what came since, and a person with nothing held is a 409', async () => {
    const res = await t.app.inject({ url: `/api/v1/admin/subjects/report?journal_user_id=${IVANOVA.card}`, headers: bearer(admin.token) })
    const counts = Object.fromEntries(res.json().categories.map((c: { code: string; count: number }) => [c.code, c.count]))
    expect(counts).toMatchObject({ directory_cards: 1, links: 0, failed_attempts: 0, guardians: 1, login_sessions: 0 })
    // The relation is the journal's; its check result went.
    expect(res.json().categories.find((c: { code: string }) => c.code === 'guardians').items[0]).toMatchObject({ state: 'unchecked', esia_birth_date: null })
    // Since: the two events the journal received (this very report read is the handling, not her data).
    const again = await erase(bearer(admin.token), { journal_user_id: IVANOVA.card, ...REQUEST })
    expect(again.statusCode).toBe(200)
    const since = Object.fromEntries(again.json().categories.filter((c: { count: number }) => c.count > 0).map((c: { category: string; count: number }) => [c.category, c.count]))
    expect(since).toEqual({ journal_events: 2 })
    // Erased already, the report read once more: nothing to erase, no new record; the read is pseudonymised all the same.
    expect((await t.app.inject({ url: `/api/v1/admin/subjects/report?journal_user_id=${IVANOVA.card}`, headers: bearer(admin.token) })).statusCode).toBe(200)
    const records = (await t.db.pool.query(`SELECT 1 FROM destruction_records`)).rowCount
    const third = await erase(bearer(admin.token), { journal_user_id: IVANOVA.card, ...REQUEST })
    expect(third.statusCode).toBe(409)
    expect(third.json().error).toBe('nothing_to_erase')
    expect((await t.db.pool.query(`SELECT 1 FROM destruction_records`)).rowCount).toBe(records)
    expect((await t.db.pool.query(`SELECT 1 FROM audit_events WHERE journal_user_id = $1`, [IVANOVA.card])).rowCount).toBe(0)
    const nobody = await erase(bearer(admin.token), { subject: '9999999', ...REQUEST })
    expect(nobody.statusCode).toBe(409)
    expect(nobody.json().error).toBe('nothing_to_erase')
  })

  it('lists the record and exports it as CSV, for callers who see every organisation', async () => {
    const list = await t.app.inject({ url: '/api/v1/admin/destruction-records', headers: bearer(admin.token) })
    expect(list.statusCode).toBe(200)
    expect(list.json().records).toEqual([
      expect.objectContaining({ basis: 'request', actor_login: 'region-admin', request_number: 'ЗП-17' }),
      expect.objectContaining({ basis: 'request', actor_login: 'region-admin', request_number: 'ЗП-17' }),
    ])
    expect((await t.app.inject({ url: '/api/v1/admin/destruction-records', headers: bearer(schoolA.token) })).statusCode).toBe(403)
    const csv = await t.app.inject({ url: '/api/v1/admin/destruction-records.csv', headers: bearer(admin.token) })
    expect(csv.statusCode).toBe(200)
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    const lines = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines[0]).toBe('Номер записи;Дата и время;Основание;Номер запроса;Дата запроса;Кто уничтожил;Субъект (псевдоним);Категория персональных данных;Способ;Количество записей;Причина;Информационная система')
    expect(lines).toContainEqual(expect.stringMatching(/;запрос субъекта персональных данных;ЗП-17;01\.12\.2026;region-admin;subj_[^;]+;Неудачные попытки привязки и входа;удаление из базы данных;2;/))
    expect(lines).toContainEqual(expect.stringMatching(/;Журнал действий;обезличивание;\d+;/))
  })

  it('shows the records in the console, and the erasure form on the report page to an admin only', async () => {
    const console = new ConsoleClient(t.app)
    await console.login('region-admin', admin.password)
    const page = await console.get('/admin/destruction-records')
    expect(page.statusCode).toBe(200)
    expect(pageText(page)).toContain('№ ЗП-17 от 01.12.2026')
    const report = await console.get('/admin/subjects/report?journal_user_id=b-parent-petrova')
    expect(pageText(report)).toContain('Уничтожить данные по запросу')
    const shown = /name="shown" value="([^"]*)"/.exec(report.body)![1]!.replaceAll('&quot;', '"')
    const form = { shown, request_number: 'ЗП-18', request_date: '2026-12-02', reason: 'Отзыв согласия' }
    const unconfirmed = await console.post('/admin/subjects/erase', form)
    expect(unconfirmed.statusCode).toBe(303)
    expect(unconfirmed.headers.location).toBe('/admin/subjects/report?journal_user_id=b-parent-petrova&error=confirm_required')
    expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = 'b-parent-petrova'`)).rowCount).toBe(1)
    const done = await console.post('/admin/subjects/erase', { ...form, confirm: 'yes' })
    expect(done.headers.location).toBe('/admin/destruction-records?done=erased')
    expect((await t.db.pool.query(`SELECT 1 FROM links WHERE journal_user_id = 'b-parent-petrova'`)).rowCount).toBe(0)
    expect(pageText(await console.get('/admin/destruction-records?done=erased'))).toContain('№ ЗП-18 от 02.12.2026')
  })
})
