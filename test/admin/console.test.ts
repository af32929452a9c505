import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ConsoleClient, pageText } from './console-client.js'
import { auditRows, seedSchools, SCHOOL_A, SNILS, supportAccount, type Seeded } from './fixtures.js'

describe('the support console in a browser without JavaScript', () => {
  let t: TestApp
  let seeded: Seeded
  let schoolA: { id: string; password: string }
  let auditor: { id: string; password: string }

  beforeAll(async () => {
    t = await buildTestApp()
    seeded = await seedSchools(t.db.pool)
    schoolA = await supportAccount(t, 'shvets', 'support', [SCHOOL_A.id])
    auditor = await supportAccount(t, 'inspector', 'auditor', [SCHOOL_A.id])
  })
  afterAll(async () => t.close())

  describe('signing in', () => {
    it('sends a visitor without a session to the login form, which carries a CSRF token', async () => {
      const browser = new ConsoleClient(t.app)
      const home = await browser.get('/admin/users')
      expect(home.statusCode).toBe(303)
      expect(home.headers.location).toBe('/admin/login')
      const form = await browser.get('/admin/login')
      expect(form.statusCode).toBe(200)
      expect(pageText(form)).toContain('Вход в консоль поддержки')
      expect(form.body).toMatch(/<label for="login">Логин<\/label>/)
      expect(browser.csrf).not.toBe('')
    })

    it('refuses a login form sent without its CSRF token', async () => {
      const browser = new ConsoleClient(t.app)
      await browser.get('/admin/login')
      const res = await browser.post('/admin/login', { login: 'shvets', password: schoolA.password }, { csrf: false })
      expect(res.statusCode).toBe(403)
      expect(pageText(res)).toContain('Страница устарела')
      expect(browser.cookies.has('esb_support')).toBe(false)
    })

    it('says «Неверный логин или пароль» the same way for a wrong password and an unknown login', async () => {
      const wrong = await new ConsoleClient(t.app).login('inspector', 'not-the-password')
      const unknown = await new ConsoleClient(t.app).login('nobody-here', 'not-the-password')
      expect(wrong.statusCode).toBe(401)
      expect(unknown.statusCode).toBe(401)
      expect(pageText(wrong)).toContain('Неверный логин или пароль')
      expect(pageText(unknown)).toContain('Неверный логин или пароль')
      expect(await auditRows(t.db.pool, `type = 'support.login_failed'`)).toEqual([expect.objectContaining({ actor_id: auditor.id })])
    })

    it('issues a new session id at login, keeps only its hash, and sets an HttpOnly SameSite=Lax cookie', async () => {
      const browser = new ConsoleClient(t.app)
      browser.cookies.set('esb_support', 'planted-by-an-attacker')
      const res = await browser.login('SHVETS', schoolA.password)
      expect(res.statusCode).toBe(303)
      expect(res.headers.location).toBe('/admin')
      const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('esb_support='))!
      expect(setCookie).toMatch(/HttpOnly/)
      expect(setCookie).toMatch(/SameSite=Lax/)
      expect(setCookie).toMatch(/Path=\//)
      const sessionId = browser.cookies.get('esb_support')!
      expect(sessionId).not.toBe('planted-by-an-attacker')
      expect(sessionId).toMatch(/^[\w-]{43}$/)
      const { rows } = await t.db.pool.query('SELECT encode(id_sha256, \'hex\') AS h FROM support_sessions WHERE account_id = $1', [schoolA.id])
      expect(rows.map((r) => r.h).join()).not.toContain(Buffer.from(sessionId).toString('hex'))

      const second = new ConsoleClient(t.app)
      await second.get('/admin/login')
      second.cookies.set('esb_support', sessionId)
      await second.post('/admin/login', { login: 'shvets', password: schoolA.password })
      expect(second.cookies.get('esb_support')).not.toBe(sessionId)
      expect((await second.get('/admin')).statusCode).toBe(200)
      // The id the second login replaced is dead.
      expect((await browser.get('/admin')).statusCode).toBe(303)
    })

    it('throttles guessing: after five wrong passwords even the right one waits', async () => {
      const victim = await supportAccount(t, 'throttled', 'support', [SCHOOL_A.id])
      for (let i = 0; i < 5; i++) expect((await new ConsoleClient(t.app).login('throttled', `guess-${i}-0000000`)).statusCode).toBe(401)
      const res = await new ConsoleClient(t.app).login('throttled', victim.password)
      expect(res.statusCode).toBe(429)
      expect(pageText(res)).toContain('Слишком много неудачных попыток входа')
    })

    it('ends a session at logout, after 30 idle minutes and after 8 hours whatever happens', async () => {
      const browser = new ConsoleClient(t.app)
      await browser.login('shvets', schoolA.password)
      await browser.get('/admin')
      const out = await browser.post('/admin/logout')
      expect(out.headers.location).toBe('/admin/login?done=logged_out')
      expect(pageText(await browser.get('/admin/login?done=logged_out'))).toContain('Вы вышли из консоли')
      expect((await browser.get('/admin')).statusCode).toBe(303)

      const idle = new ConsoleClient(t.app)
      await idle.login('shvets', schoolA.password)
      await t.db.pool.query(`UPDATE support_sessions SET last_seen_at = now() - interval '31 minutes'`)
      expect((await idle.get('/admin')).statusCode).toBe(303)

      const old = new ConsoleClient(t.app)
      await old.login('shvets', schoolA.password)
      await t.db.pool.query(`UPDATE support_sessions SET expires_at = now() - interval '1 second'`)
      expect((await old.get('/admin')).statusCode).toBe(303)
    })

    it('names the cookie __Host-… and marks it Secure behind https', async () => {
      const secure = await buildTestApp({ env: { PUBLIC_URL: 'https://bridge.example' }, db: t.db })
      try {
        const browser = new ConsoleClient(secure.app)
        const res = await browser.login('shvets', schoolA.password)
        const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-esb_support='))
        expect(setCookie).toMatch(/Secure/)
      } finally {
        await secure.app.close()
      }
    })
  })

  describe('working in the console', () => {
    let browser: ConsoleClient
    beforeAll(async () => {
      browser = new ConsoleClient(t.app)
      await browser.login('shvets', schoolA.password)
    })

    it('finds a person by SNILS and never writes the number back into the page', async () => {
      await browser.get('/admin/users')
      const digits = SNILS.ivanova.replace(/\D/g, '')
      const res = await browser.post('/admin/users/search', { snils: digits })
      expect(res.statusCode).toBe(200)
      expect(pageText(res)).toContain('Иванова Мария Петровна')
      expect(res.body).not.toContain(digits)
      expect(res.body).not.toContain(SNILS.ivanova)
      expect(res.headers['cache-control']).toBe('no-store')
      expect(t.logs.text()).not.toContain(digits)
      expect(JSON.stringify(await auditRows(t.db.pool))).not.toContain(digits)
    })

    it('explains a SNILS that is not 11 digits', async () => {
      const res = await browser.post('/admin/users/search', { snils: '12345' })
      expect(res.statusCode).toBe(400)
      expect(pageText(res)).toContain('СНИЛС должен состоять из 11 цифр')
    })

    it('shows the card, asks for a reason to unlink, then unlinks', async () => {
      const card = await browser.get('/admin/users/a-parent-ivanova')
      expect(pageText(card)).toContain('Связь с Госуслугами')
      expect(pageText(card)).toContain('1000001')
      const noReason = await browser.post('/admin/users/a-parent-ivanova/unlink', { reason: '  ' })
      expect(noReason.headers.location).toBe('/admin/users/a-parent-ivanova?error=reason_required')
      expect(pageText(await browser.get(noReason.headers.location as string))).toContain('Укажите причину')
      const done = await browser.post('/admin/users/a-parent-ivanova/unlink', { reason: 'Родитель просит отвязать' })
      expect(done.headers.location).toBe('/admin/users/a-parent-ivanova?done=unlinked')
      const after = await browser.get(done.headers.location as string)
      expect(pageText(after)).toContain('Связь с Госуслугами удалена')
      expect(pageText(after)).toContain('Связи нет')
    })

    it('shows a failed attempt with the differing field marked and both values side by side', async () => {
      const res = await browser.get(`/admin/failed-attempts/${seeded.attempts.smirnovBirthDate}`)
      expect(res.statusCode).toBe(200)
      expect(res.body).toMatch(/<tr class="differs"><th scope="row">Дата рождения<\/th><td>02\.01\.1981<\/td><td>02\.01\.1980<\/td>/)
      expect(pageText(res)).toContain('Связать вопреки расхождению')
    })

    it('refuses a school-B attempt and card with «Нет доступа к этой организации»', async () => {
      for (const url of [`/admin/failed-attempts/${seeded.attempts.petrovaLastName}`, '/admin/users/b-parent-petrova']) {
        const res = await browser.get(url)
        expect(res.statusCode).toBe(403)
        expect(pageText(res)).toContain('Нет доступа к этой организации')
      }
    })

    it('exports the audit trail as CSV Excel opens in Russian', async () => {
      const res = await browser.get('/admin/audit.csv?type=link.*')
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8')
      expect(res.headers['content-disposition']).toBe('attachment; filename="audit-events.csv"')
      expect(res.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
      const lines = res.body.replace(/^\uFEFF/, '').trim().split('\r\n')
      expect(lines[0]).toBe('Номер;Дата и время;Событие;Кто (вид);Кто (идентификатор);Кто (логин поддержки);Пользователь журнала;ФИО по справочнику;Организация;Субъект ЕСИА;Причина;Подробности;Информационная система')
      const removed = lines.find((l) => l.includes(';link.removed;'))!
      expect(removed).toContain(';shvets;a-parent-ivanova;Иванова Мария Петровна;school-a;1000001;Родитель просит отвязать;')
      expect(lines.some((l) => l.includes('school-b'))).toBe(false)
      expect(await auditRows(t.db.pool, `type = 'support.export' AND actor_id = $1`, [schoolA.id])).toHaveLength(1)
    })
  })

  describe('changing one\'s password', () => {
    it('needs the current password, then ends the account\'s other sessions', async () => {
      const person = await supportAccount(t, 'changer', 'support', [SCHOOL_A.id])
      const elsewhere = new ConsoleClient(t.app)
      await elsewhere.login('changer', person.password)
      const here = new ConsoleClient(t.app)
      await here.login('changer', person.password)
      await here.get('/admin/password')
      const wrong = await here.post('/admin/password', { current: 'not-my-password', next: 'новый-пароль-12345', repeat: 'новый-пароль-12345' })
      expect(wrong.headers.location).toBe('/admin/password?error=wrong_password')
      const ok = await here.post('/admin/password', { current: person.password, next: 'новый-пароль-12345', repeat: 'новый-пароль-12345' })
      expect(ok.headers.location).toBe('/admin/password?done=password_changed')
      expect((await here.get('/admin')).statusCode).toBe(200)
      expect((await elsewhere.get('/admin')).statusCode).toBe(303)
      expect((await new ConsoleClient(t.app).login('changer', 'новый-пароль-12345')).statusCode).toBe(303)
    })
  })

  describe('an auditor', () => {
    it('reads the card without any form to change it, and is refused a change sent anyway', async () => {
      const browser = new ConsoleClient(t.app)
      await browser.login('inspector', auditor.password)
      const card = await browser.get('/admin/users/a-parent-smirnov')
      expect(card.statusCode).toBe(200)
      expect(card.body).not.toContain('/unlink')
      const res = await browser.post('/admin/failed-attempts/' + seeded.attempts.smirnovBirthDate + '/link', { reason: 'попробую' })
      expect(res.statusCode).toBe(403)
      expect(pageText(res)).toContain('Ваша роль — аудитор')
    })
  })
})
