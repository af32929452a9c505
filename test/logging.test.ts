import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPersonas } from '../src/mock-idp/personas.js'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, type TestApp } from './helpers/app.js'
import { csv, snils } from './directory/fixtures.js'
import { linkAs, loginAs } from './flows/guardian-helpers.js'
import { startFlowWorld, type FlowWorld } from './flows/helpers.js'
import { StockJournal } from './flows/login-helpers.js'

/**
 * docs/security.md, «Personal data»: logs never contain SNILS, names, birth dates, credentials or
 * cookies. A journal sends all of them at once — in headers, the query string and the body, on a
 * request that succeeds and on ones that fail — and the captured log text holds none of them.
 */
describe('logs carry no personal data and no credentials', () => {
  let t: TestApp
  const person = { last_name: 'Шереметьева', first_name: 'Евдокия', middle_name: 'Аполлинарьевна', birth_date: '17.03.1986', snils: snils('987654321') }
  const secrets = {
    authorization: journalBasicAuth(),
    cookie: 'bridge_session=cookie-value-7f3a9c',
    bearer: 'Bearer not-a-real-token-but-secret-4e1d',
  }

  beforeAll(async () => {
    t = await buildTestApp({ env: { LOG_LEVEL: 'trace' } })
    await t.app.inject({ method: 'PUT', url: '/api/v1/directory/organizations/school-1', headers: { authorization: secrets.authorization }, payload: { name: 'Школа', kind: 'school' } })
    const query = new URLSearchParams({ invalid_snils: 'keep' }).toString()
    const headers = { authorization: secrets.authorization, cookie: secrets.cookie, 'x-person': encodeURIComponent(`${person.last_name} ${person.snils} ${person.birth_date}`) }
    // Succeeds.
    await t.app.inject({ method: 'PUT', url: `/api/v1/directory/users/u1?${query}`, headers, payload: { organization_id: 'school-1', role: 'parent', ...person } })
    // Fails validation, with personal data in the query string and a field that is not allowed.
    await t.app.inject({ method: 'PUT', url: `/api/v1/directory/users/u2?snils=${encodeURIComponent(person.snils)}&last_name=${encodeURIComponent(person.last_name)}`, headers, payload: { organization_id: 'school-1', role: 'parent', ...person, note: person.birth_date } })
    // Fails a card rule (wrong check digits).
    await t.app.inject({ method: 'PUT', url: '/api/v1/directory/users/u3', headers, payload: { organization_id: 'school-1', role: 'parent', ...person, snils: '987-654-321 00' } })
    // Fails authentication, with a bearer token and a cookie.
    await t.app.inject({ method: 'DELETE', url: '/api/v1/directory/users/u1', headers: { authorization: secrets.bearer, cookie: secrets.cookie } })
    // A batch import, and a broken one.
    const row = `${person.last_name};${person.first_name};${person.middle_name};${person.birth_date};${person.snils};Родитель;school-1;u4`
    await t.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { ...headers, 'content-type': 'text/csv' }, payload: csv(row) })
    await t.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { ...headers, 'content-type': 'text/csv' }, payload: `${row}\n` })
    // An unknown route.
    await t.app.inject({ url: `/api/v1/directory/nowhere?snils=${encodeURIComponent(person.snils)}`, headers })
  })
  afterAll(async () => t.close())

  it('logged the requests (method, path, status), so the absence below means something', () => {
    const logs = t.logs.text()
    expect(logs).toContain('"path":"/api/v1/directory/users/u1"')
    expect(logs).toContain('"statusCode":401')
    expect(logs).toContain('directory import')
  })

  it('holds no SNILS, name, patronymic or birth date, in any spelling', () => {
    const logs = t.logs.text()
    const digits = person.snils.replace(/\D/g, '')
    expect(logs).not.toMatch(new RegExp(digits.split('').join('\\D{0,3}')))
    for (const value of [person.last_name, person.first_name, person.middle_name, person.birth_date, '1986-03-17', encodeURIComponent(person.last_name)]) {
      expect(logs).not.toContain(value)
    }
  })

  it('holds no credentials or cookies', () => {
    const logs = t.logs.text()
    for (const value of [secrets.authorization.slice(6), JOURNAL_CLIENT.client_secret, 'cookie-value-7f3a9c', 'not-a-real-token-but-secret-4e1d']) {
      expect(logs).not.toContain(value)
    }
  })
})

describe('redaction of logged objects', () => {
  it('replaces sensitive fields at any depth a log call uses, in objects and arrays', async () => {
    const { redactLogObject } = await import('../src/logging.js')
    const logged = {
      flow: 'link',
      person: { lastName: 'Кузнецова' },
      attempt: { reasons: ['mismatch:last_name'], card: { last_name: 'Кузнецава', snils: '11223344595' } },
      rows: [{ first_name: 'Татьяна', birth_date: '1984-07-25', line: 2 }],
      headers: { authorization: 'Basic abc', cookie: 'sid=1', accept: 'text/html' },
    }
    expect(redactLogObject(logged)).toEqual({
      flow: 'link',
      person: '[redacted]',
      attempt: { reasons: ['mismatch:last_name'], card: { last_name: '[redacted]', snils: '[redacted]' } },
      rows: [{ first_name: '[redacted]', birth_date: '[redacted]', line: 2 }],
      headers: { authorization: '[redacted]', cookie: '[redacted]', accept: 'text/html' },
    })
    // The caller's object is left as it was.
    expect(logged.attempt.card.snils).toBe('11223344595')
  })

  it('leaves objects without sensitive fields as they are, without copying', async () => {
    const { redactLogObject } = await import('../src/logging.js')
    const logged = { kind: 'denied', code: 'ESIA-007004', details: { count: 3 } }
    expect(redactLogObject(logged)).toBe(logged)
  })
})

/**
 * Parents' children compared with Госуслуги (src/flows/guardians.ts), at trace level: a link whose
 * child differs, a child only on Госуслуги, a login that compares again, the result page — and no
 * child's name, birth date or SNILS from either side in any log line.
 */
describe('logs of guardianship checks carry no child\'s data', () => {
  let w: FlowWorld
  const kids = loadPersonas().flatMap((p) => p.kids ?? [])

  beforeAll(async () => {
    w = await startFlowWorld({ env: { LOG_LEVEL: 'trace' } })
    await linkAs(w, 'u3101', 'parent-child-typo')
    await linkAs(w, 'u3201', 'parent-child-not-in-journal')
    await linkAs(w, 'u3301', 'parent-journal-child-not-in-esia')
    await loginAs(w, new StockJournal(w), 'parent-journal-child-not-in-esia')
  })
  afterAll(async () => w?.close())

  it('logged the flows, so the absence below means something', () => {
    expect(w.logs.text()).toContain('/auth/callback')
    expect(w.logs.text()).toContain('link flow finished')
  })

  it('holds no child\'s name, birth date or SNILS, ЕСИА\'s or the journal\'s', () => {
    const logs = w.logs.text()
    for (const k of kids.filter((k) => ['Тимофей', 'Лев', 'Глеб', 'Ева'].includes(k.firstName))) {
      for (const value of [k.firstName, k.birthDate, k.snils!, k.snils!.replace(/\D/g, '')]) expect(logs).not.toContain(value)
    }
    for (const journalOnly of ['Тимафей', 'Орлов Денис', '2012-10-30']) expect(logs).not.toContain(journalOnly)
  })
})

describe('where log lines go', () => {
  it('in blocks, not line by line: a quiet line still arrives within about a second, and a burst goes out together', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const path = await import('node:path')
    const { createLogger, logDestination } = await import('../src/logging.js')
    const dir = await mkdtemp(path.join(tmpdir(), 'esia-bridge-log-'))
    const file = path.join(dir, 'bridge.log')
    const destination = logDestination(file)
    const lines = async () => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean)
    const waitFor = async (n: number) => {
      for (let i = 0; i < 60 && (await lines()).length < n; i++) await new Promise((r) => setTimeout(r, 50))
    }
    try {
      const log = createLogger('info', destination)
      log.info('one quiet line')
      expect(await lines()).toEqual([])
      await waitFor(1)
      expect((await lines()).map((l) => JSON.parse(l).msg)).toEqual(['one quiet line'])
      for (let i = 0; i < 200; i++) log.info({ i }, 'a request')
      await waitFor(201)
      expect(await lines()).toHaveLength(201)
    } finally {
      destination.end()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
