import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyError } from 'fastify'
import { Type } from 'typebox'
import { ApiError } from '../../http/errors.js'
import { retryLater, unavailablePart } from '../../http/unavailable.js'
import { html } from '../../web/html.js'
import { countOpenAttempts } from '../attempts.js'
import { requireCaller } from '../caller.js'
import { accountConsoleRoutes } from './accounts.js'
import { attemptConsoleRoutes } from './attempts.js'
import { auditConsoleRoutes } from './audit.js'
import { eventConsoleRoutes } from './events.js'
import { accountSelfRoutes, callerFromSession, loginRoutes } from './auth.js'
import { HIDE, NoticeQuery, render } from './forms.js'
import { guardianConsoleRoutes } from './guardians.js'
import { importConsoleRoutes } from './import.js'
import { reportConsoleRoutes } from './reports.js'
import { subjectConsoleRoutes } from './subjects.js'
import { consolePage, publicConsolePage } from './layout.js'
import { CONSOLE_CSS } from './styles.js'
import { errorText } from './texts.js'
import { userConsoleRoutes } from './users.js'

/** Fastify's own error codes the console explains in its words. */
function consoleErrorCode(error: FastifyError | ApiError): { status: number; code: string } {
  if (error instanceof ApiError) return { status: error.statusCode, code: error.code }
  if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') return { status: 403, code: 'csrf' }
  if (error.validation) return { status: 400, code: 'invalid_request' }
  if (error.code === 'FST_REQ_FILE_TOO_LARGE' || error.statusCode === 413) return { status: 413, code: 'file_too_large' }
  if (error.statusCode === 429) return { status: 429, code: 'rate_limited' }
  const part = unavailablePart(error)
  if (part) return { status: 503, code: part === 'report' ? 'report_unavailable' : 'unavailable' }
  const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500
  return { status, code: status === 500 ? 'internal_error' : 'invalid_request' }
}

/**
 * The server-rendered Russian console under /admin. Signed-in pages sit behind one hook that
 * resolves the session; without one the browser goes to the login form. Errors become Russian
 * pages (a 5xx never shows its message, only the request id to quote).
 */
export const adminConsole: FastifyPluginAsyncTypebox = async (app) => {
  app.setErrorHandler(async (error: FastifyError | ApiError, request, reply) => {
    const { status, code } = consoleErrorCode(error)
    const unavailable = status === 503 ? unavailablePart(error) : undefined
    if (unavailable) retryLater(request, reply, unavailable, error)
    else if (status >= 500) request.log.error({ err: error }, 'console request failed')
    const text = html`<div class="notice error" role="alert">${errorText(code)}${status === 500 ? html` Номер запроса: <code>${request.id}</code>.` : ''}</div><p><a href="/admin">На главную консоли</a></p>`
    const caller = request.supportCaller
    reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store')
    return caller ? consolePage({ title: 'Не получилось', caller, csrf: reply.generateCsrf(), section: 'home', body: text }) : publicConsolePage('Не получилось', text)
  })

  app.get('/admin/console.css', { schema: HIDE }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8')
    return CONSOLE_CSS
  })
  await app.register(loginRoutes)

  const signedInRoutes: FastifyPluginAsyncTypebox = async (signedIn) => {
    signedIn.addHook('onRequest', async (request, reply) => {
      const caller = await callerFromSession(request)
      if (!caller) return reply.redirect('/admin/login', 303)
      request.supportCaller = caller
    })

    signedIn.get('/admin', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => {
      const caller = requireCaller(request)
      const open = await countOpenAttempts(app.db, caller)
      return render(request, reply, {
        title: 'Консоль поддержки',
        section: 'home',
        done: request.query.done,
        error: request.query.error,
        body: () => html`<div class="grid4">
<a class="card" href="/admin/failed-attempts"><strong>Неразобранные попытки</strong><span class="stat">${open}</span>неудачные привязки и входы через Госуслуги</a>
<a class="card" href="/admin/users"><strong>Пользователи</strong><span class="stat">Поиск</span>по ФИО, организации, роли или СНИЛС</a>
<a class="card" href="/admin/completeness"><strong>Контроль заполнения</strong><span class="stat">Отчёт</span>СНИЛС, даты рождения, отчества</a>
<a class="card" href="/admin/import"><strong>Пакетное обновление</strong><span class="stat">CSV</span>загрузка справочника из файла</a></div>
<p class="muted">Каждый просмотр карточки и каждое изменение записываются в журнал действий.</p>`,
      })
    })

    await signedIn.register(accountSelfRoutes)
    await signedIn.register(userConsoleRoutes)
    await signedIn.register(attemptConsoleRoutes)
    await signedIn.register(auditConsoleRoutes)
    await signedIn.register(accountConsoleRoutes)
    await signedIn.register(importConsoleRoutes)
    await signedIn.register(reportConsoleRoutes)
    await signedIn.register(guardianConsoleRoutes)
    await signedIn.register(eventConsoleRoutes)
    await signedIn.register(subjectConsoleRoutes)
  }
  await app.register(signedInRoutes)
}
