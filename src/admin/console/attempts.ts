import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { html, type Html } from '../../web/html.js'
import { listFailedAttempts, readFailedAttempt, type CandidateCard, type FailedAttemptView, type OverrideBlocker } from '../attempts.js'
import { auditSupportRead, auditSupportView } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { linkFromAttempt, resolveAttempt } from '../link-actions.js'
import { RowId } from '../api/schemas.js'
import { day, formAction, fullName, HIDE, NoticeQuery, optionsOf, queryString, render, scopeOrganizations, select, when } from './forms.js'
import { csrfField } from './layout.js'
import { attemptSummary } from './users.js'
import { fieldLabel, FIELD_STATES, FLOWS, LEVELS, ROLE_NAMES } from './texts.js'

/**
 * Failed attempts: what Госуслуги said next to what the journal card says, field by field, the
 * differing row marked — the screen a school administrator opens when a parent calls to say the
 * link does not work (docs/sources.md: Камчатка slides, step ⑤). From here: «Связать вопреки расхождению» or mark resolved.
 */
const STATES = { open: 'Неразобранные', resolved: 'Разобранные', all: 'Все' }

const BLOCKERS: Record<OverrideBlocker, string> = {
  resolved: 'Попытка уже разобрана.',
  no_subject: 'Госуслуги не назвали человека (ошибка или отказ на стороне Госуслуг) — связывать не с чем.',
  untrusted: 'Учётная запись на Госуслугах не подтверждена. Человеку нужно подтвердить её (в МФЦ, центре обслуживания или онлайн через банк), затем повторить привязку.',
  not_overridable_reason: 'Причину исправляет сам человек на Госуслугах (например, согласие родителя для детской учётной записи); связать вручную нельзя.',
}

const FOUND_BY: Record<CandidateCard['foundBy'], string> = {
  snils: 'тот же СНИЛС',
  name_birth_date: 'те же фамилия, имя и дата рождения; СНИЛС в карточке не указан',
}

/** Whether the attempt was compared with a card at all (not_found and ambiguous were not). */
const compared = (a: FailedAttemptView) => a.comparison.some((c) => c.state !== 'not_compared')

/** The attempt was compared with a card that the journal has since removed: nothing left to show beside ЕСИА's side. */
const cardRemoved = (a: FailedAttemptView) => !compared(a) && a.journalUserId !== null

/** Why the comparison table has only ЕСИА's side. */
const notComparedCaption = (a: FailedAttemptView) =>
  cardRemoved(a) ? `Карточка ${a.journalUserId ?? ''} удалена из журнала после попытки: сравнить не с чем` : 'Карточка не определена: поля не сравнивались'

/** The cards an attempt without a card may have been about, each with a button to open it. */
function candidatesSection(a: FailedAttemptView): Html {
  if (compared(a)) return html``
  if (a.candidates.length === 0) return html`<h3>Возможные карточки</h3><p>Карточек с тем же СНИЛС или с теми же фамилией, именем и датой рождения (без СНИЛС) не найдено.</p>`
  return html`<h3>Возможные карточки</h3>
<p class="small">${cardRemoved(a) ? 'Карточки попытки больше нет в журнале. Эти карточки могут относиться к тому же человеку:' : 'Карточка не определена, поэтому поля не сравнивались. Эти карточки могли относиться к попытке:'}</p>
<div class="table-wrap"><table><thead><tr><th scope="col">ФИО</th><th scope="col">Дата рождения</th><th scope="col">Роль, организация</th><th scope="col">Почему показана</th><th scope="col"></th></tr></thead><tbody>
${a.candidates.map((c) => html`<tr><td>${fullName(c)}</td><td>${day(c.birthDate)}</td><td>${ROLE_NAMES[c.role] ?? c.role}<br><span class="muted small">${c.organizationName}</span></td><td>${FOUND_BY[c.foundBy]}</td>
<td><a class="btn secondary" href="/admin/users/${encodeURIComponent(c.journalUserId)}" aria-label="Открыть карточку: ${fullName(c)}">Открыть карточку</a></td></tr>`)}
</tbody></table></div>`
}

function comparison(a: FailedAttemptView): Html {
  const value = (field: string, v: string | null) => (field === 'birth_date' ? day(v) : (v ?? '—'))
  if (!compared(a)) {
    return html`<div class="table-wrap"><table class="compare"><caption class="muted small">${notComparedCaption(a)}</caption>
<thead><tr><th scope="col">Поле</th><th scope="col">На Госуслугах</th><th scope="col">Сравнение</th></tr></thead><tbody>
${a.comparison.map((c) => html`<tr><th scope="row">${fieldLabel(c.field)}</th><td>${value(c.field, c.esia)}</td><td>${FIELD_STATES.not_compared}</td></tr>`)}
</tbody></table></div><p class="muted small">Номер СНИЛС не показывается: только, указан ли он.</p>`
  }
  return html`<div class="table-wrap"><table class="compare"><caption class="muted small">Строки с расхождением выделены</caption>
<thead><tr><th scope="col">Поле</th><th scope="col">В журнале</th><th scope="col">На Госуслугах</th><th scope="col">Сравнение</th></tr></thead><tbody>
${a.comparison.map((c) => html`<tr class="${c.state}"><th scope="row">${fieldLabel(c.field)}</th><td>${value(c.field, c.journal)}</td><td>${value(c.field, c.esia)}</td><td>${FIELD_STATES[c.state] ?? c.state}</td></tr>`)}
</tbody></table></div><p class="muted small">Номер СНИЛС не показывается ни с одной стороны: сравнивается только, совпадает ли он.</p>`
}

function attemptPage(a: FailedAttemptView, csrf: string, canWrite: boolean): Html {
  const actions = !canWrite
    ? html`<p class="muted">Ваша роль позволяет только просмотр.</p>`
    : a.overrideBlocker
      ? html`<div class="notice">${BLOCKERS[a.overrideBlocker]}</div>`
      : html`<form method="post" action="/admin/failed-attempts/${a.id}/link" id="override">${csrfField(csrf)}
<h3>Связать вопреки расхождению</h3>
<p class="small">Делайте это, только если вы убедились, что это тот же человек (например, проверили документы в школе). Расхождение будет записано вместе со связью.</p>
${a.journalUserId ? '' : html`<label for="override-user">Идентификатор карточки в журнале</label><input type="text" id="override-user" name="journal_user_id" required maxlength="128">`}
<label for="override-reason">Причина (обязательно)</label><textarea id="override-reason" name="reason" required maxlength="1000"></textarea>
<div class="actions"><button type="submit">Связать вопреки расхождению</button></div></form>`
  const resolve = canWrite && !a.resolvedAt
    ? html`<form method="post" action="/admin/failed-attempts/${a.id}/resolve" id="resolve">${csrfField(csrf)}
<h3>Отметить как разобранную</h3><p class="small">Например, данные в журнале исправлены и человек попробует снова.</p>
<label for="resolve-reason">Что сделано (обязательно)</label><textarea id="resolve-reason" name="reason" required maxlength="1000"></textarea>
<div class="actions"><button type="submit" class="secondary">Отметить</button></div></form>`
    : ''
  return html`<section class="card" aria-labelledby="what"><h2 id="what">Что произошло</h2>
<dl class="kv"><dt>Когда</dt><dd>${when(a.at)}</dd><dt>Что делал человек</dt><dd>${FLOWS[a.flow]}</dd>
<dt>Карточка в журнале</dt><dd>${a.journalUserId ? (a.cardExists ? html`<a href="/admin/users/${encodeURIComponent(a.journalUserId)}">${a.journalUserId}</a>` : html`${a.journalUserId} (удалена)`) : 'не определена'}</dd>
<dt>Организация</dt><dd>${a.organizationName ?? '—'}</dd>
<dt>Учётная запись ЕСИА</dt><dd>${a.upstreamSubject ? html`<code>${a.upstreamSubject}</code>` : '—'}${a.level ? `, ${LEVELS[a.level] ?? a.level}` : ''}</dd>
<dt>Разобрана</dt><dd>${a.resolvedAt ? html`${when(a.resolvedAt)} <code class="small">${a.resolvedBy}</code>` : 'нет'}</dd></dl>
<h3>Почему не получилось</h3>${attemptSummary(a)}
<h3>Журнал и Госуслуги</h3>${comparison(a)}${candidatesSection(a)}</section>
<section class="card" aria-labelledby="do"><h2 id="do">Что сделать</h2>${actions}${resolve}</section>`
}

function attemptsTable(attempts: FailedAttemptView[]): Html {
  if (attempts.length === 0) return html`<p>Неудачных попыток нет.</p>`
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">Когда</th><th scope="col">Карточка в журнале</th><th scope="col">На Госуслугах</th><th scope="col">Что различается</th><th scope="col">Причина</th><th scope="col"></th></tr></thead><tbody>
${attempts.map((a) => {
    const differs = a.comparison.filter((c) => c.state === 'differs' || c.state === 'missing_in_journal').map((c) => fieldLabel(c.field))
    const card = a.journalUserId && a.cardExists
      ? html`<a href="/admin/users/${encodeURIComponent(a.journalUserId)}">${fullName(journalName(a))}</a><br><span class="muted small">${a.organizationName}</span>`
      : a.candidates.length > 0
        ? html`<span class="muted">не определена; возможно:</span><ul class="small plain">${a.candidates.map((c) => html`<li><a href="/admin/users/${encodeURIComponent(c.journalUserId)}">${fullName(c)}</a> <span class="muted">(${c.foundBy === 'snils' ? 'тот же СНИЛС' : 'ФИО и дата рождения'})</span></li>`)}</ul>`
        : html`<span class="muted">не определена</span>`
    return html`<tr><td>${when(a.at)}<br><span class="muted small">${FLOWS[a.flow]}</span></td>
<td>${card}</td>
<td>${fullName(a.esiaName)}</td><td>${!compared(a) ? html`<span class="muted">не сравнивалось</span>` : differs.length ? html`<span class="tag bad">${differs.join(', ')}</span>` : '—'}</td>
<td>${attemptSummary(a)}</td><td><a class="btn secondary" href="/admin/failed-attempts/${a.id}">Открыть</a></td></tr>`
  })}
</tbody></table></div>`
}

/** The card's name as the comparison carries it (journal side). */
const journalName = (a: FailedAttemptView) => {
  const v = (f: string) => a.comparison.find((c) => c.field === f)?.journal ?? null
  return { lastName: v('last_name'), firstName: v('first_name'), middleName: v('middle_name') }
}

const ListQuery = Type.Object({
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  flow: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('link'), Type.Literal('login')])),
  state: Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')], { default: 'open' }),
  before_id: Type.Optional(RowId),
  ...NoticeQuery,
})
const Params = Type.Object({ id: RowId })

export const attemptConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/admin/failed-attempts', { schema: { ...HIDE, querystring: ListQuery } }, async (request, reply) => {
    const caller = requireCaller(request)
    const q = request.query
    const organizationId = q.organization_id || undefined
    checkOrganizationFilter(caller, organizationId)
    const organizations = await scopeOrganizations(app.db, caller)
    const { attempts, nextBeforeId } = await listFailedAttempts(app.db, caller, { organizationId, flow: q.flow || undefined, state: q.state, beforeId: q.before_id }, 50)
    await auditSupportRead(app.db, caller, 'support.failed_attempts_viewed', { organizationId: organizationId ?? null, details: { results: attempts.length } })
    return render(request, reply, {
      title: 'Неудачные попытки',
      section: 'attempts',
      done: q.done,
      error: q.error,
      body: () => html`<form method="get" action="/admin/failed-attempts" class="card"><div class="filters">
${select('organization_id', 'Организация', organizations, organizationId)}${select('flow', 'Что делал человек', optionsOf(FLOWS), q.flow || undefined)}
${select('state', 'Состояние', optionsOf(STATES), q.state, 'Неразобранные')}</div>
<div class="actions"><button type="submit">Показать</button></div></form>
<section class="card"><p class="muted small">Попытки хранятся ${app.config.failedAttemptRetentionDays} дн., затем удаляются.</p>${attemptsTable(attempts)}
${nextBeforeId ? html`<div class="pager"><a class="btn secondary" href="/admin/failed-attempts${queryString({ organization_id: organizationId, flow: q.flow, state: q.state, before_id: nextBeforeId })}">Более ранние</a></div>` : ''}</section>`,
    })
  })

  app.get('/admin/failed-attempts/:id', { schema: { ...HIDE, params: Params, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => {
    const caller = requireCaller(request)
    const attempt = await readFailedAttempt(app.db, caller, request.params.id)
    await auditSupportView(app.db, caller, 'support.failed_attempt_viewed', { journalUserId: attempt.journalUserId, organizationId: attempt.organizationId, details: { failed_attempt_id: attempt.id } })
    return render(request, reply, {
      title: 'Неудачная попытка',
      section: 'attempts',
      done: request.query.done,
      error: request.query.error,
      body: (csrf) => attemptPage(attempt, csrf, caller.role !== 'auditor'),
    })
  })

  const attemptUrl = (id: number) => `/admin/failed-attempts/${id}`

  app.post(
    '/admin/failed-attempts/:id/link',
    { schema: { ...HIDE, params: Params, body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })), journal_user_id: Type.Optional(Type.String({ maxLength: 128 })), _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection },
    async (request, reply) =>
      formAction(reply, attemptUrl(request.params.id), async () => {
        const { link } = await linkFromAttempt(app.db, requireCaller(request), request.params.id, { reason: request.body.reason, journalUserId: request.body.journal_user_id?.trim() || undefined })
        return { done: 'linked', to: `/admin/users/${encodeURIComponent(link.journalUserId)}` }
      }),
  )

  app.post(
    '/admin/failed-attempts/:id/resolve',
    { schema: { ...HIDE, params: Params, body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })), _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection },
    async (request, reply) =>
      formAction(reply, attemptUrl(request.params.id), async () => {
        await resolveAttempt(app.db, requireCaller(request), request.params.id, request.body.reason)
        return 'resolved'
      }),
  )
}
