import { describeReason, describeReasons } from '../matching/messages.js'
import type { UntrustedRedirect } from '../oidc-provider/authorize.js'
import { html } from '../web/html.js'
import { page } from '../web/layout.js'
import { messagePage, postButton, SITUATIONS } from './pages.js'

/**
 * Pages of «Войти через Госуслуги» other than the chooser (chooser.ts): why a login failed, with the
 * way back to the journal; a journal request we cannot accept; the logout page. Outcomes take their
 * words from the catalogue (src/matching/messages.ts); the situations below are not outcomes of
 * matching and are worded here, after the seeds' labels.
 */
export const LOGIN_BUTTON_TEXT = {
  back: 'Вернуться в журнал',
  retry: 'Попробовать ещё раз',
} as const

type Situation = (typeof SITUATIONS)[keyof typeof SITUATIONS]

// Nothing the person did wrong: the journal's settings need a look.
const JOURNAL_SETUP_STEPS = ['Вернитесь на страницу журнала и попробуйте войти ещё раз.', 'Если ошибка повторяется, сообщите в школу: администратору журнала нужно проверить настройки входа через Госуслуги.']

/** The journal sent a request we cannot answer on its redirect (unknown journal, unregistered address). */
const BAD_JOURNAL_REQUEST: Record<UntrustedRedirect | 'malformed', Situation> = {
  malformed: {
    title: 'Не получилось начать вход',
    text: 'Электронный журнал прислал запрос на вход, который мы не можем разобрать. Мы никуда вас не перенаправили, ваши данные не передавались.',
    steps: JOURNAL_SETUP_STEPS,
  },
  unknown_client: {
    title: 'Не получилось начать вход',
    text: 'Электронный журнал, с которого вы пришли, не подключён к входу через Госуслуги. Мы никуда вас не перенаправили, ваши данные не передавались.',
    steps: JOURNAL_SETUP_STEPS,
  },
  invalid_redirect_uri: {
    title: 'Не получилось начать вход',
    text: 'Электронный журнал прислал адрес возврата, который у нас не зарегистрирован. Чтобы никто не смог перехватить вход, мы никуда вас не перенаправили.',
    steps: JOURNAL_SETUP_STEPS,
  },
}

export const LOGGED_OUT: Situation = {
  title: 'Вы вышли',
  text: 'Вы вышли из входа через Госуслуги на этом устройстве.',
  steps: ['Если вы пользуетесь чужим или общим компьютером, закройте все окна браузера.'],
}

/**
 * Asked before a logout that no journal vouched for with an ID token (`id_token_hint`): any site can
 * send a browser to /oauth2/logout, and the logout reaches every journal this browser logged in to
 * (OpenID Connect RP-Initiated Logout 1.0 §2: the OP asks the person in that case).
 */
export const LOGOUT_QUESTION: Situation = {
  title: 'Выйти из журнала?',
  text: 'Вы выйдете из всех электронных журналов, в которые входили через Госуслуги в этом браузере, и из Госуслуг на этом устройстве.',
  steps: ['Если вы не собирались выходить, просто закройте эту страницу: ничего не изменится.'],
}
export const LOGOUT_BUTTON_TEXT = 'Выйти'

/** The question before a logout, with the journal's parameters carried to the answer. */
export function logoutQuestionPage(opts: { action: string; fields: Readonly<Record<string, string>>; csrfToken: string }): string {
  return messagePage([LOGOUT_QUESTION], postButton(opts.action, opts.csrfToken, LOGOUT_BUTTON_TEXT, false, opts.fields))
}

/** A logout request whose journal we could not confirm: logged out all the same, but not sent anywhere. */
export const LOGGED_OUT_UNCONFIRMED: Situation = {
  ...LOGGED_OUT,
  steps: [...LOGGED_OUT.steps, 'Вернуться в журнал автоматически не получилось: откройте его сами.'],
}

/** A login that failed: every reason from the catalogue, then the way back that tells the journal. */
export function loginFailedPage(opts: { pendingId: string; reasons: readonly string[]; csrfToken: string }): string {
  return messagePage(describeReasons(opts.reasons, 'login'), postButton(`/login/${opts.pendingId}/return`, opts.csrfToken, LOGIN_BUTTON_TEXT.back))
}

/** The journal's authorize request cannot be trusted enough to send the person back with an error. */
export function badJournalRequestPage(problem: UntrustedRedirect | 'malformed'): string {
  return messagePage([BAD_JOURNAL_REQUEST[problem]])
}

/** The login is unknown, expired or already used (back button, second tab, reload after leaving). */
export function loginGonePage(): string {
  return messagePage([describeReason('flow_expired', 'login')])
}

/**
 * The login cannot start now (Госуслуги or our own service is down): trying again repeats the
 * journal's own request; going back tells the journal `temporarily_unavailable`.
 */
export function startFailedPage(opts: { message: Situation; retryUrl: string; backUrl: string }): string {
  return messagePage(
    [opts.message],
    html`<a class="btn" href="${opts.retryUrl}">${LOGIN_BUTTON_TEXT.retry}</a><a class="btn secondary" href="${opts.backUrl}">${LOGIN_BUTTON_TEXT.back}</a>`,
  )
}

/** Logout done: good news, so a status rather than an alert. */
export function loggedOutPage(unconfirmed = false): string {
  const message = unconfirmed ? LOGGED_OUT_UNCONFIRMED : LOGGED_OUT
  const body = html`<section class="card" aria-labelledby="page-title">
<h1 id="page-title">${message.title}</h1>
<div class="notice ok" role="status"><p>${message.text}</p></div>
<ul class="steps">${message.steps.map((s) => html`<li>${s}</li>`)}</ul>
</section>`
  return page({ title: message.title, body })
}
