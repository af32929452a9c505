import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withReport, ReportUnavailable } from '../../src/db/report-query.js'
import { ConsoleClient, pageText } from '../admin/console-client.js'
import { supportAccount } from '../admin/fixtures.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { CSV_HEADER, bootstrap, importFile, journal, putOrganization, snils } from './fixtures.js'

/**
 * «Контроль заполнения данных» as a region uses it: right after «Пакетное обновление» of a large
 * school, with nobody running ANALYZE; the summary apart from the cards behind it; a report that
 * takes too long is a 503 to retry, and leaves nothing running; «нет отчества» is not a gap; the
 * guardianship categories «Родители без детей в журнале» and «Дети без родителей в журнале».
 */
const BIG = 'big-school'
const CARDS = 20_400

/** Every 10th card without a birth date, every 50th with «-» as patronymic, cards 7 and 8 share a SNILS. */
function bigSchoolCsv(): string {
  const lines = [CSV_HEADER]
  for (let i = 1; i <= CARDS; i++) {
    const nine = String(i === 8 ? 200_000_007 : 200_000_000 + i)
    const date = i % 10 === 0 ? '' : `${String(1 + (i % 28)).padStart(2, '0')}.05.2012`
    const middle = i % 50 === 0 ? '-' : 'Петрович'
    lines.push(`Иванов;Пётр;${middle};${date};${snils(nine)};Ученик;${BIG};b${String(i).padStart(6, '0')}`)
  }
  return lines.join('\r\n') + '\r\n'
}
const activeReportQueries = async (t: TestApp) =>
  (
    await t.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ~ '(journal_users|completeness_counts|pg_sleep)'`,
    )
  ).rows[0]!.n

describe('completeness reports at a region’s scale', () => {
  let t: TestApp
  const get = (url: string, headers = journal) => t.app.inject({ url: `/api/v1/directory/reports/completeness${url}`, headers })

  beforeAll(async () => {
    t = await buildTestApp()
    await putOrganization(t, 'small-school')
    await putOrganization(t, BIG)
    // A directory that is not empty: the import takes the incremental path, not the bulk load of an empty table.
    const first = await importFile(
      t,
      `${CSV_HEADER};Дети\r\n` +
        [
          `Орлова;Анна;Ивановна;01.01.1985;${snils('300000001')};Родитель;small-school;s-parent-1;s-child-1`,
          `Орлов;Олег;Олегович;01.01.1984;${snils('300000002')};Родитель;small-school;s-parent-2;`,
          `Орлов;Илья;Олегович;01.01.2014;${snils('300000003')};Ученик;small-school;s-child-1;`,
          `Орлова;Ева;;01.01.2015;${snils('300000004')};Ученик;small-school;s-child-2;`,
          `Орлова;Ада;нет;01.01.2016;${snils('300000005')};Ученик;small-school;s-child-3;`,
        ].join('\r\n') +
        '\r\n',
    )
    expect(first.json()).toMatchObject({ inserted: 5, rejected: 0, relations_added: 1 })
    const big = await importFile(t, bigSchoolCsv())
    expect(big.json()).toMatchObject({ inserted: CARDS, rejected: 0 })
  }, 120_000)
  afterAll(async () => t.close())

  it('leaves fresh planner statistics behind every import', async () => {
    const { rows } = await t.db.pool.query<{ reltuples: number; analyzed: boolean }>(
      `SELECT c.reltuples::int AS reltuples, EXISTS (SELECT 1 FROM pg_stats s WHERE s.tablename = 'journal_users' AND s.attname = 'organization_id') AS analyzed
       FROM pg_class c WHERE c.oid = 'journal_users'::regclass`,
    )
    expect(rows[0]!.analyzed).toBe(true)
    expect(rows[0]!.reltuples).toBe(CARDS + 5)
  })

  it('answers the summary without the cards, and pages the big school’s problem list right after the import', async () => {
    const summary = await get(`?organization_id=${BIG}`)
    expect(summary.statusCode).toBe(200)
    expect(summary.json()).not.toHaveProperty('problem_cards')
    expect(summary.json().organizations).toEqual([
      expect.objectContaining({ organization_id: BIG, role: 'student', total: CARDS, without_birth_date: CARDS / 10, shared_snils: 2, without_middle_name: 0, no_middle_name: CARDS / 50, with_problems: CARDS / 10 + 2, children_without_parents: CARDS }),
    ])

    const first = await get(`/problems?organization_id=${BIG}&limit=3`)
    expect(first.statusCode).toBe(200)
    expect(first.json().items.map((c: { id: string; problems: string[] }) => [c.id, c.problems])).toEqual([
      ['b000007', ['shared_snils']],
      ['b000008', ['shared_snils']],
      ['b000010', ['without_birth_date']],
    ])
    expect(first.json().next_after).toBe('b000010')
    const second = await get(`/problems?organization_id=${BIG}&limit=2&after=b000010`)
    expect(second.json()).toEqual({ items: [expect.objectContaining({ id: 'b000020', problems: ['without_birth_date'] }), expect.objectContaining({ id: 'b000030' })], next_after: 'b000030' })

    // Every page to the end: each problem card once, in order.
    const seen: string[] = []
    let after: string | null = ''
    while (after !== null) {
      const page: { items: { id: string }[]; next_after: string | null } = (await get(`/problems?organization_id=${BIG}&limit=1000${after ? `&after=${after}` : ''}`)).json()
      seen.push(...page.items.map((c) => c.id))
      after = page.next_after
    }
    expect(seen).toHaveLength(CARDS / 10 + 2)
    expect([...seen].sort()).toEqual(seen)

    // Older clients: paging parameters on the report still bring the first page along.
    const old = await get(`?organization_id=${BIG}&limit=2`)
    expect(old.json().problem_cards.items.map((c: { id: string }) => c.id)).toEqual(['b000007', 'b000008'])
  })

  it('streams the problem list as CSV from one cursor', async () => {
    const res = await get(`/problems.csv?organization_id=${BIG}`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const lines = res.body.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines[0]).toBe('Идентификатор;Организация;Роль;Фамилия;Имя;Отчество;Без СНИЛС;СНИЛС с ошибкой;Без даты рождения;Без отчества;СНИЛС как у другой карточки;Родители без детей в журнале;Дети без родителей в журнале')
    expect(lines).toHaveLength(1 + CARDS / 10 + 2)
    expect(lines[1]).toBe(`b000007;${BIG};Обучающийся;Иванов;Пётр;Петрович;;;;;да;;`)
    expect(await activeReportQueries(t)).toBe(0)
  })

  it('keeps «нет отчества» apart from a patronymic never filled in', async () => {
    const rows = (await get('?organization_id=small-school', bootstrap)).json().organizations
    expect(rows.find((r: { role: string }) => r.role === 'student')).toMatchObject({ total: 3, without_middle_name: 1, no_middle_name: 1, with_problems: 1 })
    const page = (await get('/problems?organization_id=small-school')).json()
    expect(page.items.map((c: { id: string; problems: string[] }) => [c.id, c.problems])).toEqual([['s-child-2', ['without_middle_name']]])
  })

  it('counts and lists «Родители без детей в журнале» and «Дети без родителей в журнале»', async () => {
    const rows = (await get('?organization_id=small-school')).json().organizations
    expect(rows.map((r: { role: string; parents_without_children: number; children_without_parents: number }) => [r.role, r.parents_without_children, r.children_without_parents])).toEqual([
      ['student', 0, 2],
      ['parent', 1, 0],
    ])
    const parents = (await get('/problems?organization_id=small-school&problem=parents_without_children')).json()
    expect(parents).toEqual({ items: [expect.objectContaining({ id: 's-parent-2', role: 'parent', problems: ['parents_without_children'] })], next_after: null })
    const children = (await get('/problems?organization_id=small-school&problem=children_without_parents')).json()
    expect(children.items.map((c: { id: string; problems: string[] }) => [c.id, c.problems])).toEqual([
      ['s-child-2', ['without_middle_name', 'children_without_parents']],
      ['s-child-3', ['children_without_parents']],
    ])
    const csv = await get('/problems.csv?organization_id=small-school&problem=children_without_parents')
    expect(csv.body.replace(/^\uFEFF/, '').trim().split('\r\n').slice(1)).toEqual([
      's-child-2;small-school;Обучающийся;Орлова;Ева;;;;;да;;;да',
      's-child-3;small-school;Обучающийся;Орлова;Ада;;;;;;;;да',
    ])
  })

  it('shows the new categories in the console, each opening its cards', async () => {
    const support = await supportAccount(t, 'region-support', 'support', ['small-school', BIG])
    const browser = new ConsoleClient(t.app)
    await browser.login('region-support', support.password)
    const page = await browser.get('/admin/completeness?organization_id=small-school')
    expect(page.statusCode).toBe(200)
    for (const heading of ['Родители без детей в журнале', 'Дети без родителей в журнале', 'Нет отчества (так указано)']) expect(pageText(page)).toContain(heading)
    expect(page.body).toContain('href="/admin/completeness/problems?organization_id=small-school&amp;role=parent&amp;problem=parents_without_children"')
    const list = await browser.get('/admin/completeness/problems?organization_id=small-school&role=parent&problem=parents_without_children')
    expect(pageText(list)).toContain('Орлов Олег Олегович')
    expect(pageText(list)).toContain('Родитель без детей в журнале')
    // «нет» in the file: the card says so, and lists nothing to fill in.
    const card = pageText(await browser.get('/admin/users/s-child-3'))
    expect(card).toContain('Орлова Ада (нет отчества)')
    expect(card).not.toContain('Не указано отчество')
  })

  describe('a report past its statement timeout', () => {
    let slow: TestApp
    beforeAll(async () => {
      slow = await buildTestApp({ db: t.db, env: { REPORT_STATEMENT_TIMEOUT_MS: '1' } })
    })
    afterAll(async () => slow.close())

    it('answers 503 with Retry-After, in Russian in the console, and leaves no query running', async () => {
      // However fast the report would be, it waits here past its timeout.
      const blocker = await t.db.pool.connect()
      await blocker.query('BEGIN')
      await blocker.query('LOCK TABLE journal_users, completeness_counts IN ACCESS EXCLUSIVE MODE')
      try {
        await slowRequests()
      } finally {
        await blocker.query('ROLLBACK')
        blocker.release()
      }
      expect(await activeReportQueries(t)).toBe(0)
    })

    async function slowRequests() {
      for (const url of [`?organization_id=${BIG}`, `/problems?organization_id=${BIG}`, `/problems.csv?organization_id=${BIG}`]) {
        const res = await slow.app.inject({ url: `/api/v1/directory/reports/completeness${url}`, headers: journal })
        expect(res.statusCode, url).toBe(503)
        expect(res.headers['retry-after']).toBeDefined()
        expect(res.json()).toEqual({ error: 'report_unavailable', message: expect.stringMatching(/unavailable/) })
      }
      const support = await supportAccount(slow, 'slow-support', 'support', [BIG])
      const browser = new ConsoleClient(slow.app)
      await browser.login('slow-support', support.password)
      const page = await browser.get(`/admin/completeness/problems?organization_id=${BIG}`)
      expect(page.statusCode).toBe(503)
      expect(page.headers['retry-after']).toBeDefined()
      expect(pageText(page)).toContain('Отчёт сейчас недоступен, попробуйте позже')
      // An export that never happened is not recorded as one.
      const exports = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'support.export'`)).rows[0].n
      const before = await exports()
      expect((await browser.get(`/admin/completeness/problems.csv?organization_id=${BIG}`)).statusCode).toBe(503)
      expect(await exports()).toBe(before)
    }
  })

  it('cancels the query in flight when the client goes away', async () => {
    const controller = new AbortController()
    const running = withReport(t.db.pool, { timeoutMs: 60_000, signal: controller.signal }, (db) => db.query('SELECT pg_sleep(30)'))
    // Wait until the statement is really running, then leave.
    for (let i = 0; i < 100 && (await activeReportQueries(t)) === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await activeReportQueries(t)).toBe(1)
    controller.abort()
    await expect(running).rejects.toBeInstanceOf(Error)
    for (let i = 0; i < 100 && (await activeReportQueries(t)) > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await activeReportQueries(t)).toBe(0)
  })

  it('cancels the report of a journal that hung up (HTTP), leaving no query behind', async () => {
    // The report waits behind a lock for as long as the test wants: a report that would run long.
    // A timeout longer than the test waits: only the cancel can end the query.
    const patient = await buildTestApp({ db: t.db, env: { REPORT_STATEMENT_TIMEOUT_MS: '30000' } })
    const blocker = await t.db.pool.connect()
    await blocker.query('BEGIN')
    await blocker.query('LOCK TABLE journal_users, completeness_counts IN ACCESS EXCLUSIVE MODE')
    try {
      await patient.app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = patient.app.server.address() as AddressInfo
      const controller = new AbortController()
      const request = fetch(`http://127.0.0.1:${port}/api/v1/directory/reports/completeness?organization_id=${BIG}`, { headers: journal, signal: controller.signal }).catch(() => 'aborted')
      for (let i = 0; i < 200 && (await activeReportQueries(t)) === 0; i++) await new Promise((r) => setTimeout(r, 25))
      expect(await activeReportQueries(t)).toBe(1)
      controller.abort()
      expect(await request).toBe('aborted')
      for (let i = 0; i < 200 && (await activeReportQueries(t)) > 0; i++) await new Promise((r) => setTimeout(r, 25))
      expect(await activeReportQueries(t)).toBe(0)
    } finally {
      await blocker.query('ROLLBACK')
      blocker.release()
      await patient.close()
    }
  })

  it('turns a cancelled statement into ReportUnavailable', async () => {
    await expect(withReport(t.db.pool, { timeoutMs: 1 }, (db) => db.query('SELECT pg_sleep(1)'))).rejects.toBeInstanceOf(ReportUnavailable)
  })
})
