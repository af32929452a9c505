import { CHILDREN_LINKED, childStateText, describeChildren, describeReason, describeReasons, type ReasonMessage } from '../matching/messages.js'
import type { LinkedChildren, LinkOutcome } from '../oidc-provider/codes.js'
import { html } from '../web/html.js'
import { page } from '../web/layout.js'
import { journalLink, messagePage, OTHER_BROWSER, postButton } from './pages.js'

/**
 * Pages of the link flow. The confirmation page takes its words from the journal's own page in
 * docs/sources.md: Губкинский slides («Привязка пользователя к порталу гос. услуг», «Перейти» / «Отменить»), so a parent who
 * followed the school's instructions sees what the slides showed.
 */
export const CONFIRMATION = {
  title: 'Привязка пользователя к порталу гос. услуг',
  redirect: 'Сейчас вы будете перенаправлены на портал гос. услуг, для привязки вашего профиля к учётной записи портала гос. услуг.',
  existingLink:
    'С вашей учётной записью уже связан пользователь портала гос. услуг. Если вы хотите привязать вашу учётную запись к другому пользователю портала гос. услуг, то существующая связь будет удалена.',
  // docs/sources.md: Губкинский slides, «Как родителю зарегистрироваться в ЕСИА?»: the account must be confirmed first.
  confirmedOnly: 'Привязать можно только подтверждённую учётную запись портала гос. услуг.',
  journal: 'Электронный журнал',
  go: 'Перейти',
  cancel: 'Отменить',
  back: 'Вернуться в журнал',
  retry: 'Попробовать ещё раз',
} as const

const linkPath = (intentId: string) => `/link/${intentId}`

/**
 * What the person sees before leaving for Госуслуги: the journal that asked, the seed's text, the
 * warning when a link exists (nothing else about it), and the two buttons, each a CSRF-protected POST.
 */
export function confirmationPage(opts: { intentId: string; journalName: string; linked: boolean; csrfToken: string }): string {
  const body = html`<section class="card" aria-labelledby="page-title">
<p class="muted">${CONFIRMATION.journal}: ${opts.journalName}</p>
<h1 id="page-title">${CONFIRMATION.title}</h1>
<p>${CONFIRMATION.redirect}</p>
${opts.linked ? html`<div class="notice" role="note"><p>${CONFIRMATION.existingLink}</p></div>` : ''}
<p class="muted">${CONFIRMATION.confirmedOnly}</p>
<div class="actions">
${postButton(`${linkPath(opts.intentId)}/start`, opts.csrfToken, CONFIRMATION.go)}
${postButton(`${linkPath(opts.intentId)}/cancel`, opts.csrfToken, CONFIRMATION.cancel, true)}
</div>
</section>`
  return page({ title: CONFIRMATION.title, body })
}

/** A failed link: every reason from the catalogue, and the way back that tells the journal too. */
export function resultPage(opts: { intentId: string; outcome: LinkOutcome; csrfToken: string }): string {
  const messages = opts.outcome.result === 'cancelled' ? [describeReason('cancelled', 'link')] : describeReasons(opts.outcome.reasons, 'link')
  return messagePage(messages, postButton(`${linkPath(opts.intentId)}/return`, opts.csrfToken, CONFIRMATION.back))
}

/** A child as the journal has it: what the linked parent's page lists (the parent sees these in the journal). */
export interface JournalChildName {
  id: string
  lastName: string
  firstName: string
  middleName: string | null
}

const stepsOf = (m: ReasonMessage) =>
  html`<h3>${m.title}</h3><p>${m.text}</p><ol class="steps">${m.steps.map((step) => html`<li>${step}</li>`)}</ol>`

/**
 * Linked, and some of the parent's children Госуслуги could not confirm: the link is done (said
 * first, as good news), then each such child with what is wrong, then where to look — at school and
 * under «Семья и дети» on Госуслуги — and the way back, which mints the code.
 */
export function linkedChildrenPage(opts: { intentId: string; children: LinkedChildren; names: JournalChildName[]; csrfToken: string }): string {
  const byId = new Map(opts.names.map((n) => [n.id, n]))
  const fullName = (n: JournalChildName | undefined) => (n ? [n.lastName, n.firstName, n.middleName].filter(Boolean).join(' ') : '')
  const body = html`<section class="card" aria-labelledby="page-title">
<h1 id="page-title">${CHILDREN_LINKED.title}</h1>
<div class="notice ok" role="status"><p>${CHILDREN_LINKED.text}</p></div>
<h2>${CHILDREN_LINKED.childrenTitle}</h2>
<ul class="children">${opts.children.unconfirmed.map((c) => html`<li><strong>${fullName(byId.get(c.childId))}</strong> — ${childStateText(c.state, c.reasons)}</li>`)}</ul>
${describeChildren(opts.children.unconfirmed, opts.children.withheld).map(stepsOf)}
<div class="actions">${postButton(`${linkPath(opts.intentId)}/return`, opts.csrfToken, CONFIRMATION.back)}</div>
</section>`
  return page({ title: CHILDREN_LINKED.title, body })
}

/** The intent is unknown, expired or already used. */
export function intentGonePage(journalHome: string | undefined): string {
  return messagePage([describeReason('flow_expired', 'link')], journalHome ? journalLink(journalHome, CONFIRMATION.back) : '')
}

/** The intent was opened first in another browser. */
export function otherBrowserPage(journalHome: string): string {
  return messagePage([OTHER_BROWSER.link], journalLink(journalHome, CONFIRMATION.back))
}

/** Госуслуги could not be reached to start: the intent is intact, the person may try again. */
export function upstreamStartFailedPage(opts: { intentId: string; reason: string; journalHome: string }): string {
  return messagePage([describeReason(opts.reason, 'link')], html`<a class="btn" href="${linkPath(opts.intentId)}">${CONFIRMATION.retry}</a>${journalLink(opts.journalHome, CONFIRMATION.back)}`)
}
