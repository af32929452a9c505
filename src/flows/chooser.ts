import type { FastifyReply, FastifyRequest } from 'fastify'
import { html } from '../web/html.js'
import { page } from '../web/layout.js'
import type { LinkedCard, Role } from './login-cards.js'
import { postButton } from './pages.js'

/**
 * «Выберите организацию» (docs/matching.md, «The chooser («Выберите организацию»)»): one Госуслуги account, several
 * journal users — a parent with children in two schools, a teacher who is also a parent. The page
 * shows for each card what tells them apart (organisation, role, the name on the card, since a
 * parent's cards may carry different spellings) and nothing about anyone else. The last choice is
 * remembered per browser and marked next time, as the journal's own app keeps CURRENT_USER_ID.
 */
export const CHOOSER = {
  title: 'Выберите организацию',
  lead: 'С вашей учётной записью Госуслуг связано несколько учётных записей электронного журнала. Нажмите ту, под которой войти.',
  leadOne: 'Проверьте, под какой учётной записью электронного журнала вы входите, и нажмите её.',
  remembered: 'Вы выбирали её в прошлый раз',
  nothingChosen: 'Выберите одну из учётных записей: нажмите её в списке.',
  journal: 'Электронный журнал',
  cancel: 'Отменить',
} as const

/** Roles as the journal names them («Родитель», «Ученик», «Сотрудник»…). */
export const ROLE_LABELS: Record<Role, string> = { parent: 'Родитель', student: 'Обучающийся', staff: 'Сотрудник', admin: 'Администратор' }

const fullName = (c: LinkedCard) => [c.lastName, c.firstName, c.middleName].filter(Boolean).join(' ')

/**
 * Each card is a button of one form: one press chooses and goes on, and every card is reached with
 * Tab (radio buttons would let Tab reach only one of them, the others needing the arrow keys).
 * A list, so a screen reader says how many there are; the remembered card says so in its own name.
 */
export function chooserPage(opts: {
  pendingId: string
  journalName: string
  cards: readonly LinkedCard[]
  preselected: string | undefined
  csrfToken: string
  nothingChosen?: boolean
}): string {
  const { pendingId, cards, preselected } = opts
  const body = html`<section class="card" aria-labelledby="page-title">
<p class="muted">${CHOOSER.journal}: ${opts.journalName}</p>
<h1 id="page-title">${CHOOSER.title}</h1>
<p>${cards.length > 1 ? CHOOSER.lead : CHOOSER.leadOne}</p>
${opts.nothingChosen ? html`<div class="notice error" role="alert"><p>${CHOOSER.nothingChosen}</p></div>` : ''}
<form method="post" action="/login/${pendingId}/choose">
<input type="hidden" name="_csrf" value="${opts.csrfToken}">
<ul class="choices">
${cards.map(
  (c) => html`<li><button type="submit" name="journal_user_id" value="${c.journalUserId}"${c.journalUserId === preselected ? html` class="remembered"` : ''}><strong>${c.organizationName}</strong> <span>${ROLE_LABELS[c.role]} · ${fullName(c)}</span>${c.journalUserId === preselected ? html` <span class="tag">${CHOOSER.remembered}</span>` : ''}</button></li>`,
)}
</ul>
</form>
<div class="actions">${postButton(`/login/${pendingId}/return`, opts.csrfToken, CHOOSER.cancel, true)}</div>
</section>`
  return page({ title: CHOOSER.title, body })
}

// ── the remembered choice ───────────────────────────────────────────────────────────────────────

/**
 * A signed, HttpOnly cookie holding the journal user id last chosen in this browser. It only ever
 * marks one of the cards of whoever has just logged in at Госуслуги, so a
 * cookie left by another person on a shared computer shows nothing and chooses nothing; the
 * signature keeps it from being set by anyone but us. A year, like the journal app's own memory.
 * Logout keeps it: the next login, which usually follows a logout, is what it is for.
 */
const REMEMBER_S = 365 * 24 * 3600
const isHttps = (request: FastifyRequest) => request.server.config.publicUrl.startsWith('https://')
const cookieName = (request: FastifyRequest) => (isHttps(request) ? '__Host-bridge-last-choice' : 'bridge-last-choice')

export function rememberedChoice(request: FastifyRequest): string | undefined {
  const raw = request.cookies[cookieName(request)]
  if (!raw) return undefined
  const unsigned = request.unsignCookie(raw)
  return unsigned.valid && unsigned.value ? unsigned.value : undefined
}

export function rememberChoice(request: FastifyRequest, reply: FastifyReply, journalUserId: string): void {
  reply.setCookie(cookieName(request), journalUserId, { path: '/', httpOnly: true, sameSite: 'lax', secure: isHttps(request), signed: true, maxAge: REMEMBER_S })
}
