import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { withTransaction } from '../../db/pool.js'
import { ApiError } from '../../http/errors.js'
import { publicRateLimit } from '../../http/rate-limit.js'
import { writeAudit } from '../../linking/audit.js'
import { html } from '../../web/html.js'
import { AccountError, findAccountForLogin, normalizeLogin, recordLogin, setPassword } from '../accounts.js'
import { actorOf, callerForAccount, requireCaller, type SupportCaller } from '../caller.js'
import { clearLoginFailures, loginBlocked, recordLoginFailure } from '../login-throttle.js'
import { hashPassword, MIN_PASSWORD_LENGTH, needsRehash, verifyPassword } from '../passwords.js'
import { createSession, deleteSession, resolveSession, SESSION_ABSOLUTE_HOURS } from '../sessions.js'
import { formAction, HIDE, NoticeQuery, render } from './forms.js'
import { csrfField, notice, publicConsolePage } from './layout.js'

/**
 * Console login, logout and password change. The session cookie is HttpOnly and SameSite=Lax, with
 * the `__Host-` prefix and Secure behind https (no subdomain can plant or read it); a login always
 * issues a new session id (no fixation) and logout deletes the session on the server.
 */
export const sessionCookieName = (https: boolean) => (https ? '__Host-esb_support' : 'esb_support')

export async function callerFromSession(request: FastifyRequest): Promise<SupportCaller | undefined> {
  const id = request.cookies[sessionCookieName(request.server.config.publicUrl.startsWith('https://'))]
  const accountId = id ? await resolveSession(request.server.db, id) : undefined
  return accountId ? callerForAccount(request.server.db, accountId, 'session') : undefined
}

function loginPage(csrf: string, error?: string, done?: string): string {
  return publicConsolePage(
    'Вход в консоль поддержки',
    html`<div class="card">${notice(done, error)}
<p>Консоль для администраторов школ и отдела образования: поиск пользователей, связи с Госуслугами, неудачные попытки входа, контроль заполнения данных.</p>
<form method="post" action="/admin/login">${csrfField(csrf)}
<label for="login">Логин</label><input type="text" id="login" name="login" autocomplete="username" required autofocus>
<label for="password">Пароль</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<div class="actions"><button type="submit">Войти</button></div>
</form></div>`,
  )
}

const sendLoginPage = (reply: FastifyReply, status: number, error?: string, done?: string) =>
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(loginPage(reply.generateCsrf(), error, done))

/** Routes reachable without a session: the login form and its POST. */
export const loginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const https = app.config.publicUrl.startsWith('https://')
  const cookieName = sessionCookieName(https)

  app.get('/admin/login', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => {
    if (await callerFromSession(request)) return reply.redirect('/admin', 303)
    return sendLoginPage(reply, 200, request.query.error, request.query.done)
  })

  app.post(
    '/admin/login',
    {
      schema: { ...HIDE, body: Type.Object({ login: Type.String({ maxLength: 200 }), password: Type.String({ maxLength: 500 }), _csrf: Type.Optional(Type.String()) }) },
      preHandler: app.csrfProtection,
      config: publicRateLimit(app),
    },
    async (request, reply) => {
      const login = normalizeLogin(request.body.login)
      const address = request.ip
      if (await loginBlocked(app.db, login, address)) return sendLoginPage(reply, 429, 'login_blocked')
      const found = await findAccountForLogin(app.db, login)
      // verifyPassword runs scrypt even for an unknown login, so timing does not reveal which exist.
      const ok = (await verifyPassword(request.body.password, found?.passwordHash)) && found && !found.account.disabled
      if (!ok || !found) {
        await recordLoginFailure(app.db, login, address)
        if (found) await writeAudit(app.db, { type: 'support.login_failed', actor: { kind: 'support', id: found.account.id }, details: {} })
        return sendLoginPage(reply, 401, 'login_failed')
      }
      const previous = request.cookies[cookieName]
      const sessionId = await withTransaction(app.db, async (tx) => {
        if (previous) await deleteSession(tx, previous)
        await clearLoginFailures(tx, login)
        await recordLogin(tx, found.account.id, needsRehash(found.passwordHash!) ? await hashPassword(request.body.password) : undefined)
        await writeAudit(tx, { type: 'support.login', actor: { kind: 'support', id: found.account.id }, details: {} })
        return createSession(tx, found.account.id)
      })
      reply.setCookie(cookieName, sessionId, { path: '/', httpOnly: true, sameSite: 'lax', secure: https, maxAge: SESSION_ABSOLUTE_HOURS * 3600 })
      return reply.redirect('/admin', 303)
    },
  )
}

/** Routes of a signed-in account: logout and its own password. */
export const accountSelfRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const https = app.config.publicUrl.startsWith('https://')
  const cookieName = sessionCookieName(https)

  app.post('/admin/logout', { schema: { ...HIDE, body: Type.Object({ _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection }, async (request, reply) => {
    const caller = requireCaller(request)
    const id = request.cookies[cookieName]
    await withTransaction(app.db, async (tx) => {
      if (id) await deleteSession(tx, id)
      await writeAudit(tx, { type: 'support.logout', actor: actorOf(caller), details: {} })
    })
    reply.clearCookie(cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: https })
    return reply.redirect('/admin/login?done=logged_out', 303)
  })

  app.get('/admin/password', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) =>
    render(request, reply, {
      title: 'Смена пароля',
      section: 'password',
      done: request.query.done,
      error: request.query.error,
      body: (csrf) => html`<div class="card"><form method="post" action="/admin/password">${csrfField(csrf)}
<label for="current">Текущий пароль</label><input type="password" id="current" name="current" autocomplete="current-password" required>
<label for="next">Новый пароль (не короче ${MIN_PASSWORD_LENGTH} знаков)</label><input type="password" id="next" name="next" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required>
<label for="repeat">Новый пароль ещё раз</label><input type="password" id="repeat" name="repeat" autocomplete="new-password" required>
<div class="actions"><button type="submit">Сменить пароль</button></div></form></div>`,
    }),
  )

  app.post(
    '/admin/password',
    {
      schema: { ...HIDE, body: Type.Object({ current: Type.String({ maxLength: 500 }), next: Type.String({ maxLength: 500 }), repeat: Type.String({ maxLength: 500 }), _csrf: Type.Optional(Type.String()) }) },
      preHandler: app.csrfProtection,
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      return formAction(reply, '/admin/password', async () => {
        const found = await findAccountForLogin(app.db, caller.login)
        if (!found || !(await verifyPassword(request.body.current, found.passwordHash))) throw new ApiError(400, 'wrong_password', 'The current password is wrong')
        if (request.body.next !== request.body.repeat) throw new ApiError(400, 'passwords_differ', 'The new password and its repetition differ')
        await withTransaction(app.db, async (tx) => {
          await setPassword(tx, caller.id, request.body.next, actorOf(caller)).catch((err: unknown) => {
            throw err instanceof AccountError ? new ApiError(400, err.code, err.message) : err
          })
          // Other sessions of this account end: a password change is how a person throws out an intruder.
          await tx.query('DELETE FROM support_sessions WHERE account_id = $1 AND id_sha256 <> sha256(convert_to($2, \'UTF8\'))', [caller.id, request.cookies[cookieName] ?? ''])
        })
        return 'password_changed'
      })
    },
  )
}
