import { readFileSync } from 'node:fs'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import type { BridgeClient } from './bridge.js'
import { homePage, journalPage, loginPage, messagePage, ROLE_NAMES, settingsPage, type JournalUserView } from './pages.js'
import { SessionStore, type JournalSession } from './sessions.js'

const CSS = readFileSync(new URL('./static/journal.css', import.meta.url))
const SESSION_COOKIE = 'journal_sid'

export interface DemoDirectory {
  organizations: { id: string; name: string }[]
  users: { id: string; organization_id: string; role: string; last_name: string; first_name: string; middle_name?: string | null }[]
}

export interface DemoJournalOptions {
  /** The journal's own origin, e.g. http://localhost:3200 */
  publicUrl: string
  bridge: BridgeClient
  directory: DemoDirectory
  /** Password of every demo account (their logins are the card ids). */
  password: string
  logger?: FastifyBaseLogger
}

const LINK_REASON_TEXT: Record<string, string> = {
  'mismatch:last_name': 'фамилия в журнале не совпадает с Госуслугами',
  'mismatch:first_name': 'имя в журнале не совпадает с Госуслугами',
  'mismatch:middle_name': 'отчество в журнале не совпадает с Госуслугами',
  'mismatch:birth_date': 'дата рождения в журнале не совпадает с Госуслугами',
  'mismatch:snils': 'СНИЛС в журнале не совпадает с Госуслугами',
  untrusted_account: 'учётная запись Госуслуг не подтверждена',
  child_consent_required: 'нужно согласие родителя на портале Госуслуг',
  already_linked_elsewhere: 'эта учётная запись Госуслуг уже привязана к другому пользователю этой организации',
}

/**
 * «Демо-журнал»: a small journal in the spirit of «Сетевой город. Образование», integrated with the
 * bridge only through its public contract (see bridge.ts). Password login for demo accounts,
 * «Персональные настройки» with «Привязать пользователя портала гос. услуг», «Войти через Госуслуги».
 */
export async function buildDemoJournal(opts: DemoJournalOptions) {
  const app = Fastify({ ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }) })
  await app.register(cookie)
  await app.register(formbody)
  const sessions = new SessionStore()
  const orgNames = new Map(opts.directory.organizations.map((o) => [o.id, o.name]))
  const users = new Map(opts.directory.users.map((u) => [u.id, u]))
  const secure = opts.publicUrl.startsWith('https://')

  const view = (id: string): JournalUserView | undefined => {
    const u = users.get(id)
    if (!u) return undefined
    const middleName = u.middle_name?.trim() || null
    return {
      id: u.id,
      lastName: u.last_name,
      firstName: u.first_name,
      middleName,
      fullName: [u.last_name, u.first_name, middleName].filter(Boolean).join(' '),
      roleName: ROLE_NAMES[u.role] ?? u.role,
      organizationName: orgNames.get(u.organization_id) ?? u.organization_id,
    }
  }

  const session = (request: FastifyRequest): JournalSession | undefined => sessions.get(request.cookies[SESSION_COOKIE])
  const ensureSession = (request: FastifyRequest, reply: FastifyReply): JournalSession => {
    const existing = session(request)
    if (existing) return existing
    const { id, session: fresh } = sessions.create()
    reply.setCookie(SESSION_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure })
    return fresh
  }
  /** A fresh session id at every login (session fixation). */
  const startSession = (request: FastifyRequest, reply: FastifyReply, userId: string, idToken?: string) => {
    sessions.delete(request.cookies[SESSION_COOKIE])
    const { id, session: fresh } = sessions.create()
    fresh.userId = userId
    fresh.idToken = idToken
    reply.setCookie(SESSION_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure })
  }
  const currentUser = (request: FastifyRequest) => {
    const userId = session(request)?.userId
    return userId ? view(userId) : undefined
  }
  const send = (reply: FastifyReply, title: string, user: JournalUserView | undefined, body: ReturnType<typeof homePage>, status = 200) =>
    reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(journalPage(title, user, body))

  app.get('/static/journal.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(CSS))

  app.get('/', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login')
    return send(reply, 'Главная', user, homePage(user))
  })

  const accounts = [...users.values()].map((u) => ({ login: u.id, label: `${view(u.id)!.fullName}, ${view(u.id)!.roleName.toLowerCase()}, ${view(u.id)!.organizationName}` }))
  app.get('/login', async (_request, reply) => send(reply, 'Вход', undefined, loginPage({ accounts })))

  const expectedPassword = Buffer.from(opts.password)
  app.post<{ Body: { login?: string; password?: string } }>('/login', async (request, reply) => {
    const login = String(request.body?.login ?? '').trim()
    const password = Buffer.from(String(request.body?.password ?? ''))
    const ok = users.has(login) && password.length === expectedPassword.length && timingSafeEqual(password, expectedPassword)
    if (!ok) return send(reply, 'Вход', undefined, loginPage({ accounts, error: 'Неверный логин или пароль.' }), 401)
    startSession(request, reply, login)
    return reply.redirect('/', 303)
  })

  app.post('/logout', async (request, reply) => {
    const idToken = session(request)?.idToken
    sessions.delete(request.cookies[SESSION_COOKIE])
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    // Someone who came in through Госуслуги also leaves the bridge (and ЕСИА) session.
    if (idToken) return reply.redirect((await opts.bridge.logoutUrl(idToken)).href, 303)
    return reply.redirect('/login', 303)
  })

  app.get('/settings', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login')
    const link = await opts.bridge.linkStatus(user.id).catch((err: unknown) => {
      request.log.warn({ err }, 'link status unavailable')
      return undefined
    })
    return send(reply, 'Персональные настройки', user, settingsPage(user, link))
  })

  app.post('/settings/gosuslugi', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login', 303)
    const state = randomBytes(16).toString('base64url')
    ensureSession(request, reply).pendingLinkState = state
    const intent = await opts.bridge.createLinkIntent(user.id, state)
    return reply.redirect(intent.url, 303)
  })

  app.get('/settings/gosuslugi/done', async (request, reply) => {
    const s = session(request)
    const user = currentUser(request)
    if (!s || !user || !s.pendingLinkState) return reply.redirect('/settings')
    const expected = { state: s.pendingLinkState, journalUserId: user.id }
    s.pendingLinkState = undefined
    try {
      const result = await opts.bridge.finishLink(new URL(request.url, opts.publicUrl), expected)
      const link = await opts.bridge.linkStatus(user.id).catch(() => undefined)
      const message =
        result.result === 'linked'
          ? { kind: 'ok' as const, text: result.replaced ? 'Пользователь портала гос. услуг привязан. Прежняя связь удалена.' : 'Пользователь портала гос. услуг привязан. Теперь можно входить через Госуслуги.' }
          : result.result === 'cancelled'
            ? { kind: 'alert' as const, text: 'Привязка отменена.' }
            : { kind: 'alert' as const, text: `Привязка не выполнена: ${result.reasons.map((r) => LINK_REASON_TEXT[r] ?? r).join('; ')}.` }
      return send(reply, 'Персональные настройки', user, settingsPage(user, link, message))
    } catch (err) {
      request.log.warn({ err }, 'link result rejected')
      return send(reply, 'Персональные настройки', user, settingsPage(user, undefined, { kind: 'alert', text: 'Не удалось получить результат привязки. Попробуйте ещё раз.' }), 400)
    }
  })

  app.post('/auth/gosuslugi', async (request, reply) => {
    const { url, transaction } = await opts.bridge.startLogin()
    ensureSession(request, reply).pendingLogin = transaction
    return reply.redirect(url.href, 303)
  })

  app.get<{ Querystring: { error?: string } }>('/auth/callback', async (request, reply) => {
    const s = session(request)
    const pending = s?.pendingLogin
    if (!s || !pending) return reply.redirect('/login')
    s.pendingLogin = undefined
    const back = { href: '/login', label: 'Вернуться ко входу' }
    if (request.query.error) {
      return send(reply, 'Вход через Госуслуги', undefined, messagePage('Вход через Госуслуги не выполнен', 'Войдите по логину и паролю журнала и проверьте привязку в «Персональных настройках», или обратитесь в школу.', back), 401)
    }
    try {
      const { claims, idToken } = await opts.bridge.finishLogin(new URL(request.url, opts.publicUrl), pending)
      if (!users.has(claims.sub)) throw new Error('the bridge returned a journal user this journal does not know')
      startSession(request, reply, claims.sub, idToken)
      return reply.redirect('/', 303)
    } catch (err) {
      request.log.warn({ err }, 'login through the bridge rejected')
      return send(reply, 'Вход через Госуслуги', undefined, messagePage('Вход через Госуслуги не выполнен', 'Не удалось проверить ответ. Попробуйте войти ещё раз.', back), 400)
    }
  })

  return app
}
