import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { retryLater, unavailablePart } from '../http/unavailable.js'
import { describeReason, type Flow, type ReasonMessage } from '../matching/messages.js'
import { html, type Html } from '../web/html.js'
import { page } from '../web/layout.js'

/**
 * Pages the flows show people: outcome messages from the catalogue (src/matching/messages.ts), and
 * the few situations that are not reason codes (another browser, a stale form, too many attempts,
 * our own failure), whose wording lives in SITUATIONS below. Every page works without JavaScript;
 * buttons that change something are forms that POST with a CSRF token.
 */

/** A message shaped like the catalogue's, for situations that are not outcomes of matching. */
export type Situation = Pick<ReasonMessage, 'title' | 'text' | 'steps'>

/** The intent or the upstream trip belongs to another browser (src/flows/browser.ts). */
export const OTHER_BROWSER: Record<Flow, Situation> = {
  link: {
    title: 'Откройте ссылку в том же браузере',
    text: 'Привязка уже начата в другом браузере или на другом устройстве. Чтобы никто другой не смог привязать вашу учётную запись, продолжить можно только там, где вы её начали.',
    steps: ['Вернитесь в электронный журнал в этом браузере и снова нажмите «Привязать пользователя портала гос. услуг».'],
  },
  login: {
    title: 'Вход начат в другом браузере',
    text: 'Вход через Госуслуги был начат в другом браузере или на другом устройстве. Чтобы никто другой не смог войти под вашей учётной записью, закончить вход можно только там, где он начат.',
    steps: ['Вернитесь на страницу журнала в этом браузере и снова нажмите «Войти через Госуслуги».'],
  },
}

export const SITUATIONS = {
  staleForm: {
    title: 'Страница устарела',
    text: 'Мы не смогли проверить, что кнопку нажали на нашей странице. Так мы защищаем вашу учётную запись. Ничего не изменилось.',
    steps: ['Вернитесь назад, обновите страницу и нажмите кнопку ещё раз.', 'Если не помогает, проверьте, что в браузере разрешены файлы cookie.'],
  },
  tooManyRequests: {
    title: 'Слишком много попыток',
    text: 'С вашего адреса пришло слишком много запросов подряд. Ничего не изменилось.',
    steps: ['Подождите минуту и попробуйте ещё раз.'],
  },
  unavailable: {
    title: 'Сервис временно не работает',
    text: 'Сейчас у нас технический сбой, и мы не можем ни привязать учётную запись, ни выполнить вход через Госуслуги. Ваши данные в порядке и никуда не пропали.',
    steps: [
      'Подождите несколько минут и попробуйте ещё раз: обновите эту страницу или вернитесь в журнал и снова нажмите кнопку Госуслуг.',
      'Если сервис не заработает в течение часа, сообщите в школу и укажите время попытки.',
    ],
  },
  internalError: {
    title: 'Сервис временно не работает',
    text: 'У нас что-то сломалось. Ваши данные не изменились.',
    steps: ['Попробуйте ещё раз через несколько минут.', 'Если ошибка повторяется, сообщите в школу и укажите время попытки.'],
  },
} satisfies Record<string, Situation>

function messageBody(message: Situation, first: boolean): Html {
  // Only the first message's sentence is announced (role=alert), not the whole list of steps.
  const what = first ? html`<div class="notice error" role="alert"><p>${message.text}</p></div>` : html`<p>${message.text}</p>`
  return html`${first ? html`<h1 id="page-title">${message.title}</h1>` : html`<h2>${message.title}</h2>`}
${what}
${message.steps.length > 0 ? html`<h2 class="steps-title">Что делать</h2><ol class="steps">${message.steps.map((s) => html`<li>${s}</li>`)}</ol>` : ''}`
}

/**
 * One page explaining one or several messages (e.g. an unconfirmed account whose names also
 * differ: the person learns everything to fix in one visit), followed by the page's buttons.
 */
export function messagePage(messages: readonly Situation[], actions: Html | string = ''): string {
  const [first, ...rest] = messages
  const body = html`<section class="card" aria-labelledby="page-title">
${messageBody(first!, true)}
${rest.map((m) => messageBody(m, false))}
${actions ? html`<div class="actions">${actions}</div>` : ''}
</section>`
  return page({ title: first!.title, body })
}

/** A link (GET, nothing changes) back to the journal's own site, never to a URL from a request. */
export const journalLink = (url: string, label = 'Вернуться в журнал'): Html => html`<a class="btn secondary" href="${url}">${label}</a>`

/** A button that POSTs a CSRF-protected form, with `fields` carried along as hidden inputs. */
export const postButton = (action: string, csrfToken: string, label: string, secondary = false, fields: Readonly<Record<string, string>> = {}): Html =>
  html`<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrfToken}">${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}<button type="submit"${secondary ? html` class="secondary"` : ''}>${label}</button></form>`

export function sendPage(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body)
}

/**
 * Error handler of a flow's HTML routes: people get a Russian page, never JSON. A stale or forged
 * form (CSRF), a rate limit, a malformed request, an outage of ours (503, src/http/unavailable.ts)
 * and our own failures each say what to do next.
 */
export function htmlErrorHandler(flow: Flow) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode ?? 500
    if (status === 403 && error.code?.startsWith('FST_CSRF')) return sendPage(reply, 403, messagePage([SITUATIONS.staleForm]))
    if (status === 429) return sendPage(reply, 429, messagePage([SITUATIONS.tooManyRequests]))
    if (status < 500) return sendPage(reply, status, messagePage([describeReason('flow_expired', flow)]))
    const unavailable = unavailablePart(error)
    if (unavailable) return sendPage(retryLater(request, reply, unavailable, error), 503, messagePage([SITUATIONS.unavailable]))
    request.log.error({ err: error }, 'flow page failed')
    return sendPage(reply, 500, messagePage([SITUATIONS.internalError]))
  }
}
