import { readFileSync } from 'node:fs'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import { JOURNAL_COLOUR, serveFavicon } from '../web/favicon.js'
import type { BridgeClient, LinkEventReceived } from './bridge.js'
import { homePage, journalPage, loginPage, messagePage, ROLE_NAMES, settingsPage, type JournalUserView, type LinkNote } from './pages.js'
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

/** «Отказать» at Госуслуги: the person's choice, shown as a cancel. */
const DECLINED = new Set(['idp_error:ESIA-007004', 'idp_error:access_denied', 'idp_error:consent_required'])

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

/** What the journal says after a login through Госуслуги that brought no code, by the bridge's category. */
const LOGIN_OUTCOMES: Record<string, { title: string; text: string; neutral?: boolean }> = {
  cancelled: { title: 'Вход через Госуслуги отменён', text: 'Вы отменили вход. Можно войти по логину и паролю журнала или снова через Госуслуги.', neutral: true },
  account: { title: 'Вход через Госуслуги не выполнен', text: 'Учётную запись Госуслуг пока нельзя использовать для входа: например, она не подтверждена или для детской учётной записи нужно согласие родителя. Что сделать, было сказано на предыдущей странице. Пока войдите по логину и паролю журнала.' },
  mismatch: { title: 'Вход через Госуслуги не выполнен', text: 'Данные в журнале не совпадают с данными на Госуслугах. Войдите по логину и паролю журнала и проверьте фамилию, имя, отчество и дату рождения в «Персональных настройках»; если ошибка в журнале, сообщите в школу.' },
  not_found: { title: 'Вход через Госуслуги не выполнен', text: 'Мы не нашли вашу учётную запись в журнале по данным Госуслуг. Войдите по логину и паролю журнала и привяжите Госуслуги в «Персональных настройках» или обратитесь в школу.' },
  unavailable: { title: 'Госуслуги сейчас не отвечают', text: 'Попробуйте войти через Госуслуги через несколько минут или войдите по логину и паролю журнала.' },
  error: { title: 'Вход через Госуслуги не выполнен', text: 'Войдите по логину и паролю журнала и проверьте привязку в «Персональных настройках», или обратитесь в школу.' },
}

/**
 * «Демо-журнал»: a small journal in the spirit of «Сетевой город. Образование», integrated with the
 * bridge only through its public contract (see bridge.ts). Password login for demo accounts,
 * «Персональные настройки» with «Привязать пользователя портала гос. услуг», «Войти через Госуслуги».
 */
export async function buildDemoJournal(opts: DemoJournalOptions) {
  // No request lines at info: under `npm start` they buried the admin password printed at start.
  // At debug, one short line per request (method, path, status).
  const app = Fastify({ ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }), logController: new LogController({ disableRequestLogging: true }) })
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(`${request.method} ${request.url.split('?', 1)[0]} ${reply.statusCode}`)
  })
  serveFavicon(app, JOURNAL_COLOUR)
  await app.register(cookie)
  await app.register(formbody)
  const sessions = new SessionStore()
  const orgNames = new Map(opts.directory.organizations.map((o) => [o.id, o.name]))
  const users = new Map(opts.directory.users.map((u) => [u.id, u]))
  const secure = opts.publicUrl.startsWith('https://')

  const view = (id: string, csrf: string): JournalUserView | undefined => {
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
      csrf,
    }
  }

  // What the bridge told us about each user's link (its events), for the settings page.
  const linkNotes = new Map<string, LinkNote>()
  // Delivery is at least once: an event seen before is acknowledged again and not applied twice.
  const seenJtis = new Set<string>()

  const session = (request: FastifyRequest): JournalSession | undefined => sessions.get(request.cookies[SESSION_COOKIE])
  const ensureSession = (request: FastifyRequest, reply: FastifyReply): JournalSession => {
    const existing = session(request)
    if (existing) return existing
    const { id, session: fresh } = sessions.create()
    reply.setCookie(SESSION_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure })
    return fresh
  }
  /** A fresh session id at every login (session fixation). */
  const startSession = (request: FastifyRequest, reply: FastifyReply, userId: string, bridge?: { idToken: string; sid: string | undefined }) => {
    sessions.delete(request.cookies[SESSION_COOKIE])
    const { id, session: fresh } = sessions.create()
    fresh.userId = userId
    fresh.idToken = bridge?.idToken
    fresh.bridgeSid = bridge?.sid
    reply.setCookie(SESSION_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure })
  }
  const currentUser = (request: FastifyRequest) => {
    const s = session(request)
    return s?.userId ? view(s.userId, s.csrf) : undefined
  }
  /** A form of ours from this session: the token it carries is the session's. */
  const fromOurPage = (request: FastifyRequest): boolean => {
    const expected = session(request)?.csrf
    const given = (request.body as { _csrf?: unknown } | undefined)?._csrf
    return expected !== undefined && typeof given === 'string' && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  }
  const stalePage = (reply: FastifyReply, user: JournalUserView | undefined) =>
    send(reply, 'Страница устарела', user, messagePage('Страница устарела', 'Действие не выполнено: форма устарела или отправлена с другого сайта. Откройте «Персональные настройки» и повторите.', { href: '/settings', label: 'Персональные настройки' }), 403)
  const send = (reply: FastifyReply, title: string, user: JournalUserView | undefined, body: ReturnType<typeof homePage>, status = 200) =>
    reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(journalPage(title, user, body))

  app.get('/static/journal.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(CSS))

  app.get('/', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login')
    return send(reply, 'Главная', user, homePage(user))
  })

  const accounts = [...users.values()].map((u) => {
    const v = view(u.id, '')!
    return { login: u.id, label: `${v.fullName}, ${v.roleName.toLowerCase()}, ${v.organizationName}` }
  })
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
    if (session(request)?.userId && !fromOurPage(request)) return stalePage(reply, currentUser(request))
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
    return send(reply, 'Персональные настройки', user, settingsPage(user, link, undefined, linkNotes.get(user.id)))
  })

  app.post('/settings/gosuslugi', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login', 303)
    if (!fromOurPage(request)) return stalePage(reply, user)
    const state = randomBytes(16).toString('base64url')
    ensureSession(request, reply).pendingLinkState = state
    const intent = await opts.bridge.createLinkIntent(user.id, state)
    return reply.redirect(intent.url, 303)
  })

  // Only the person signed in as this user unlinks it: the journal's session is the authority.
  app.post('/settings/gosuslugi/unlink', async (request, reply) => {
    const user = currentUser(request)
    if (!user) return reply.redirect('/login', 303)
    if (!fromOurPage(request)) return stalePage(reply, user)
    try {
      await opts.bridge.unlink(user.id)
    } catch (err) {
      request.log.warn({ err }, 'unlink refused')
      const link = await opts.bridge.linkStatus(user.id).catch(() => undefined)
      return send(reply, 'Персональные настройки', user, settingsPage(user, link, { kind: 'alert', text: 'Не удалось отвязать учётную запись Госуслуг. Попробуйте ещё раз.' }), 502)
    }
    linkNotes.delete(user.id)
    return send(reply, 'Персональные настройки', user, settingsPage(user, { linked: false, linkedAt: null }, { kind: 'info', text: 'Учётная запись Госуслуг отвязана. Входить через Госуслуги больше нельзя, пока вы не привяжете её снова.' }))
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
          : result.result === 'cancelled' || (result.reasons.length > 0 && result.reasons.every((r) => DECLINED.has(r)))
            ? { kind: 'info' as const, text: 'Привязка отменена. Привязать учётную запись Госуслуг можно в любой момент.' }
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

  app.get<{ Querystring: { error?: string; error_description?: string } }>('/auth/callback', async (request, reply) => {
    const s = session(request)
    const pending = s?.pendingLogin
    if (!s || !pending) return reply.redirect('/login')
    s.pendingLogin = undefined
    const back = { href: '/login', label: 'Вернуться ко входу' }
    if (request.query.error) {
      // The bridge's error_description starts with a category (docs/integration.md,
      // «Login with openid-client»): a cancel is the person's choice, not a failure.
      const category = (request.query.error_description ?? '').split(':', 1)[0]!.trim()
      const outcome = LOGIN_OUTCOMES[category] ?? LOGIN_OUTCOMES.error!
      return send(reply, 'Вход через Госуслуги', undefined, messagePage(outcome.title, outcome.text, back, outcome.neutral), outcome.neutral ? 200 : 401)
    }
    try {
      const { claims, idToken } = await opts.bridge.finishLogin(new URL(request.url, opts.publicUrl), pending)
      if (!users.has(claims.sub)) throw new Error('the bridge returned a journal user this journal does not know')
      startSession(request, reply, claims.sub, { idToken, sid: typeof claims.sid === 'string' ? claims.sid : undefined })
      return reply.redirect('/', 303)
    } catch (err) {
      request.log.warn({ err }, 'login through the bridge rejected')
      return send(reply, 'Вход через Госуслуги', undefined, messagePage('Вход через Госуслуги не выполнен', 'Не удалось проверить ответ. Попробуйте войти ещё раз.', back), 400)
    }
  })

  // ── What the bridge sends on its own (docs/integration.md shows the same receiver) ──

  const applyLinkEvent = (event: LinkEventReceived) => {
    const at = typeof event.data.at === 'string' ? event.data.at : new Date().toISOString()
    if (event.type === 'urn:esia-bridge:event:link-created') linkNotes.set(event.journalUserId, { kind: 'created', at })
    else if (event.type === 'urn:esia-bridge:event:link-removed') linkNotes.set(event.journalUserId, { kind: 'removed', by: String(event.data.by), at })
    else if (event.type === 'urn:esia-bridge:event:link-moved') {
      linkNotes.set(String(event.data.from_journal_user_id), { kind: 'moved_away', at })
      linkNotes.set(String(event.data.to_journal_user_id), { kind: 'moved_here', at })
    }
  }

  // RFC 8935: one SET per POST, `application/secevent+jwt`; 202 when taken, 400 {err, description} when not.
  app.addContentTypeParser('application/secevent+jwt', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body))
  app.post('/bridge/events', async (request, reply) => {
    if (typeof request.body !== 'string' || request.headers['content-type']?.split(';')[0]?.trim() !== 'application/secevent+jwt') {
      return reply.code(400).send({ err: 'invalid_request', description: 'expected one SET as application/secevent+jwt' })
    }
    let event: LinkEventReceived
    try {
      event = await opts.bridge.verifySecurityEvent(request.body)
    } catch (err) {
      request.log.warn({ err }, 'security event token rejected')
      return reply.code(400).send({ err: 'invalid_key', description: 'the SET did not verify' })
    }
    if (!seenJtis.has(event.jti)) {
      seenJtis.add(event.jti)
      if (seenJtis.size > 10_000) seenJtis.delete(seenJtis.values().next().value!)
      applyLinkEvent(event)
    }
    return reply.code(202).send()
  })

  // OpenID Connect Back-Channel Logout 1.0 §2.5: a form POST with logout_token; 200 when done, 400 when invalid.
  app.post<{ Body: { logout_token?: string } }>('/bridge/backchannel-logout', async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const token = request.body?.logout_token
    if (typeof token !== 'string') return reply.code(400).send({ error: 'invalid_request' })
    try {
      const logout = await opts.bridge.verifyLogoutToken(token)
      // With a sid, that one session; without, every session of the user (§2.4).
      sessions.deleteWhere((s) => (logout.sid ? s.bridgeSid === logout.sid : s.userId === logout.sub))
      return reply.code(200).send()
    } catch (err) {
      request.log.warn({ err }, 'logout token rejected')
      return reply.code(400).send({ error: 'invalid_request' })
    }
  })

  return app
}
