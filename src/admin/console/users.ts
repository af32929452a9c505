import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { ROLES } from '../../directory/cards.js'
import { childStateText } from '../../matching/messages.js'
import { html, type Html } from '../../web/html.js'
import { listFailedAttempts, type FailedAttemptView } from '../attempts.js'
import { auditSupportRead, auditSupportView } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { moveLink, unlinkUser } from '../link-actions.js'
import { readUserCard, searchFilterNames, searchUsers, type RelatedCard, type UserCard, type UserSearch, type UserSummary } from '../users.js'
import { day, formAction, fullName, HIDE, NoticeQuery, optionsOf, queryString, render, scopeOrganizations, select, when, type Option } from './forms.js'
import { csrfField } from './layout.js'
import { CHILD_STATES, eventLabel, fieldLabel as fieldName, FIELD_STATES, FLOWS, LEVELS, LINK_METHODS, PARENT_STATES, PROBLEMS, reasonTitle, ROLE_NAMES } from './texts.js'

/**
 * Finding people and their cards. Searches by name or SNILS are POSTed and answered directly, so a
 * name or a SNILS never lands in a URL (browser history, proxies, server logs); the SNILS field is
 * never filled back in. Browsing by organisation, role and link state (no personal data) is a GET.
 */
const PAGE_SIZE = 50
const Id = Type.String({ minLength: 1, maxLength: 128 })
const Opt = (max: number) => Type.Optional(Type.String({ maxLength: max }))
const LinkStateOpt = Type.Optional(Type.Union([Type.Literal(''), Type.Literal('linked'), Type.Literal('unlinked')]))
const RoleOpt = Type.Optional(Type.Union([Type.Literal(''), ...ROLES.map((r) => Type.Literal(r))]))

const LINK_STATES = { linked: 'Связан с Госуслугами', unlinked: 'Не связан' }

function searchForm(csrf: string, organizations: Option[], s: Partial<UserSearch>): Html {
  return html`<form method="post" action="/admin/users/search" class="card" aria-labelledby="search-title">
<h2 id="search-title">Поиск пользователей</h2>${csrfField(csrf)}
<div class="filters">
<div><label for="f-name">ФИО</label><input type="search" id="f-name" name="name" value="${s.name ?? ''}" autocomplete="off" placeholder="Иванова Мария"></div>
<div><label for="f-snils">СНИЛС полностью</label><input type="search" id="f-snils" name="snils" value="" autocomplete="off" inputmode="numeric" placeholder="123-456-789 01"></div>
${select('organization_id', 'Организация', organizations, s.organizationId)}
${select('role', 'Роль', optionsOf(ROLE_NAMES), s.role)}
${select('link_state', 'Связь с Госуслугами', optionsOf(LINK_STATES), s.linkState)}
</div>
<p class="muted small">Фамилия ищется целиком, имя и отчество — по началу; регистр, «ё» и дефисы не важны. СНИЛС сравнивается без хранения и не сохраняется в журнале действий.</p>
<div class="actions"><button type="submit">Найти</button></div></form>`
}

function resultsTable(users: UserSummary[]): Html {
  if (users.length === 0) return html`<p>Никого не нашли. Проверьте написание фамилии или выберите другую организацию.</p>`
  return html`<div class="table-wrap"><table><caption class="muted">Найдено: ${users.length}</caption><thead><tr><th scope="col">ФИО</th><th scope="col">Дата рождения</th><th scope="col">Роль</th><th scope="col">Организация</th><th scope="col">СНИЛС</th><th scope="col">Госуслуги</th></tr></thead><tbody>
${users.map((u) => html`<tr><td><a href="/admin/users/${encodeURIComponent(u.id)}">${fullName(u)}</a></td><td>${day(u.birthDate)}</td><td>${ROLE_NAMES[u.role] ?? u.role}</td><td>${u.organizationName}</td>
<td>${u.snilsPresent ? (u.snilsValid ? html`<span class="tag good">указан</span>` : html`<span class="tag bad">ошибка в номере</span>`) : html`<span class="tag bad">нет</span>`}</td>
<td>${u.linked ? html`<span class="tag good">связан</span>` : html`<span class="tag">нет связи</span>`}</td></tr>`)}
</tbody></table></div>`
}

function comparisonTable(a: FailedAttemptView): Html {
  return html`<table class="compare"><thead><tr><th scope="col">Поле</th><th scope="col">В журнале</th><th scope="col">На Госуслугах</th><th scope="col"></th></tr></thead><tbody>
${a.comparison.map((c) => html`<tr class="${c.state}"><td>${fieldName(c.field)}</td><td>${c.field === 'birth_date' ? day(c.journal) : (c.journal ?? '—')}</td><td>${c.field === 'birth_date' ? day(c.esia) : (c.esia ?? '—')}</td><td>${stateLabel(c.state)}</td></tr>`)}
</tbody></table>`
}

const stateLabel = (s: string) => FIELD_STATES[s] ?? s

export function attemptSummary(a: FailedAttemptView): Html {
  return html`<ul class="small">${[...new Set(a.reasons)].map((r) => html`<li>${reasonTitle(r, a.flow)} <span class="muted">(${r})</span></li>`)}</ul>`
}

function cardPage(card: UserCard, attempts: FailedAttemptView[], csrf: string, canWrite: boolean): Html {
  const u = card.user
  const link = card.link
  return html`<div class="grid2">
<section class="card" aria-labelledby="data"><h2 id="data">Данные в журнале</h2>
<dl class="kv"><dt>ФИО</dt><dd>${fullName(u)}${card.noMiddleName ? html` <span class="muted">(нет отчества)</span>` : ''}</dd><dt>Дата рождения</dt><dd>${day(u.birthDate)}</dd>
<dt>СНИЛС</dt><dd>${u.snilsPresent ? (u.snilsValid ? 'указан' : 'указан с ошибкой в контрольной сумме') : 'не указан'}</dd>
<dt>Роль</dt><dd>${ROLE_NAMES[u.role] ?? u.role}</dd><dt>Организация</dt><dd>${u.organizationName}</dd><dt>Идентификатор</dt><dd><code>${u.id}</code></dd></dl>
<p><a href="/admin/subjects/report?journal_user_id=${encodeURIComponent(u.id)}">Сведения об обработке персональных данных</a></p>
${card.problems.length
    ? html`<h3>Что не заполнено</h3><ul>${card.problems.map((p) => html`<li><span class="tag bad">${PROBLEMS[p] ?? p}</span>${p === 'shared_snils' && card.sharedSnilsWith.length ? html` — ${card.sharedSnilsWith.map((id) => html`<a href="/admin/users/${encodeURIComponent(id)}">${id}</a> `)}` : ''}</li>`)}</ul>
<p class="muted small">Данные исправляют в журнале; сюда они придут со следующим обновлением справочника.</p>`
    : html`<p><span class="tag good">Данные для входа через Госуслуги заполнены</span></p>`}
${relatedList(card.related.filter((r) => r.relation === 'child'), 'Дети', CHILD_STATES)}
${relatedList(card.related.filter((r) => r.relation === 'parent'), 'Родители', PARENT_STATES)}
</section>
<section class="card" aria-labelledby="link"><h2 id="link">Связь с Госуслугами</h2>
${link
    ? html`<dl class="kv"><dt>Учётная запись ЕСИА</dt><dd><code>${link.upstreamSubject}</code></dd><dt>Как связана</dt><dd>${LINK_METHODS[link.method] ?? link.method}</dd>
<dt>Совпало</dt><dd>${link.evidence.length ? link.evidence.map((f) => fieldName(f)).join(', ') : '—'}</dd>
${link.mismatches.length ? html`<dt>Расхождения</dt><dd>${link.mismatches.map((m) => reasonTitle(m, 'link')).join('; ')}</dd>` : ''}
<dt>Уровень учётной записи</dt><dd>${link.level ? (LEVELS[link.level] ?? link.level) : '—'}</dd>
<dt>Когда</dt><dd>${when(link.createdAt)}</dd><dt>Последний вход</dt><dd>${when(link.lastLoginAt)}</dd></dl>
${canWrite ? linkForms(u.id, csrf) : html`<p class="muted">Ваша роль позволяет только просмотр.</p>`}`
    : html`<p>Связи нет. Человек может привязать учётную запись сам: в журнале «Персональные настройки» → «Привязать пользователя портала гос. услуг».</p>`}
</section></div>
<section class="card" aria-labelledby="attempts"><h2 id="attempts">Неудачные попытки</h2>
${attempts.length
    ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Когда</th><th scope="col">Что делал</th><th scope="col">Почему не получилось</th><th scope="col">На Госуслугах</th><th scope="col"></th></tr></thead><tbody>
${attempts.map((a) => html`<tr><td>${when(a.at)}</td><td>${FLOWS[a.flow]}</td><td>${attemptSummary(a)}</td><td>${fullName(a.esiaName)}</td><td><a href="/admin/failed-attempts/${a.id}">${a.resolvedAt ? 'Разобрана' : 'Разобрать'}</a></td></tr>`)}
</tbody></table></div>`
    : html`<p class="muted">Неудачных попыток нет (они хранятся ограниченное время).</p>`}
</section>
<section class="card" aria-labelledby="history"><h2 id="history">История</h2>
${card.history.length
    ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Когда</th><th scope="col">Событие</th><th scope="col">Кто</th><th scope="col">Причина</th></tr></thead><tbody>
${card.history.map((e) => html`<tr><td>${when(e.at)}</td><td>${eventLabel(e.type)}</td><td>${actorLabel(e)}</td><td>${e.reason ?? ''}</td></tr>`)}
</tbody></table></div>`
    : html`<p class="muted">Событий нет.</p>`}
</section>`
}

const STATE_TAGS: Record<string, string> = { confirmed: 'tag good', mismatch: 'tag bad', not_in_esia: 'tag bad', unchecked: 'tag' }

/**
 * A card's children (or parents), each with what Госуслуги said of the relation: the state, what
 * did not agree, when it was checked, and — kept for the failed attempts' retention only — ЕСИА's
 * birth date or the card that carries ЕСИА's SNILS when those differ.
 */
function relatedList(related: RelatedCard[], title: string, states: Record<string, string>): Html {
  if (related.length === 0) return html``
  return html`<h3>${title}</h3><ul class="relations">${related.map((r) => {
    const g = r.guardian
    const state = g?.state ?? 'unchecked'
    return html`<li><a href="/admin/users/${encodeURIComponent(r.id)}">${fullName(r)}</a> <span class="${STATE_TAGS[state] ?? 'tag'}">${states[state] ?? state}</span>
${g?.state === 'mismatch' ? html`<br><span class="small">${childStateText('mismatch', g.reasons)}</span>` : ''}
${g?.esiaBirthDate ? html`<br><span class="small">Дата рождения на Госуслугах: ${day(g.esiaBirthDate)}</span>` : ''}
${g?.esiaSnilsOnCards.length ? html`<br><span class="small">СНИЛС с Госуслуг записан в журнале у карточки ${g.esiaSnilsOnCards.map((id) => html`<a href="/admin/users/${encodeURIComponent(id)}">${id}</a> `)}</span>` : ''}
${g?.checkedAt ? html`<br><span class="muted small">Сверено с Госуслугами: ${when(g.checkedAt)}</span>` : ''}</li>`
  })}</ul>`
}

const linkForms = (id: string, csrf: string): Html => html`<form method="post" action="/admin/users/${encodeURIComponent(id)}/unlink" id="unlink">${csrfField(csrf)}
<h3>Отвязать</h3><p class="small">Человек больше не сможет входить через Госуслуги с этой карточкой, пока не привяжет учётную запись снова.</p>
<label for="unlink-reason">Причина (обязательно)</label><textarea id="unlink-reason" name="reason" required maxlength="1000"></textarea>
<div class="actions"><button type="submit" class="danger">Отвязать</button></div></form>
<details><summary>Перенести связь на другую карточку</summary>
<form method="post" action="/admin/users/${encodeURIComponent(id)}/move-link" id="move">${csrfField(csrf)}
<p class="small">Например, человеку завели вторую карточку, а связь осталась на старой. У новой карточки не должно быть своей связи.</p>
<label for="move-to">Идентификатор карточки в журнале</label><input type="text" id="move-to" name="to_journal_user_id" required maxlength="128">
<label for="move-reason">Причина (обязательно)</label><textarea id="move-reason" name="reason" required maxlength="1000"></textarea>
<div class="actions"><button type="submit" class="secondary">Перенести</button></div></form></details>`

export const ACTOR_KINDS: Record<string, string> = { person: 'сам человек', support: 'поддержка', journal: 'журнал', system: 'система' }
export const actorLabel = (e: { actorKind: string; actorId: string | null; actorLogin: string | null }): Html =>
  html`${ACTOR_KINDS[e.actorKind] ?? e.actorKind}${e.actorLogin ? html` <strong>${e.actorLogin}</strong>` : e.actorId ? html` <code class="small">${e.actorId}</code>` : ''}`

const SearchBody = Type.Object({
  name: Opt(200),
  snils: Opt(30),
  organization_id: Opt(128),
  role: RoleOpt,
  link_state: LinkStateOpt,
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  _csrf: Type.Optional(Type.String()),
})
const BrowseQuery = Type.Object({
  organization_id: Opt(128),
  role: RoleOpt,
  link_state: LinkStateOpt,
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  ...NoticeQuery,
})

export const userConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  async function showSearch(request: FastifyRequest, reply: FastifyReply, s: UserSearch, runSearch: boolean, via: 'get' | 'post', error?: string) {
    const caller = requireCaller(request)
    checkOrganizationFilter(caller, s.organizationId)
    const organizations = await scopeOrganizations(app.db, caller)
    let results: Html = html``
    if (runSearch) {
      const { users, more } = await searchUsers(app.db, app.config.secrets.snilsHmacKey, caller, s)
      await auditSupportRead(app.db, caller, 'support.search', { organizationId: s.organizationId ?? null, details: { filters: searchFilterNames(s), results: users.length } })
      const next = more
        ? via === 'get'
          ? html`<div class="pager"><a class="btn secondary" href="/admin/users${queryString({ organization_id: s.organizationId, role: s.role, link_state: s.linkState, offset: s.offset + PAGE_SIZE })}">Следующие ${PAGE_SIZE}</a></div>`
          : html`<form method="post" action="/admin/users/search" class="pager">${csrfField(reply.generateCsrf())}
<input type="hidden" name="name" value="${s.name ?? ''}"><input type="hidden" name="organization_id" value="${s.organizationId ?? ''}"><input type="hidden" name="role" value="${s.role ?? ''}"><input type="hidden" name="link_state" value="${s.linkState ?? ''}"><input type="hidden" name="offset" value="${s.offset + PAGE_SIZE}">
<button type="submit" class="secondary">Следующие ${PAGE_SIZE}</button></form>`
        : ''
      results = html`<section class="card" aria-labelledby="results-title"><h2 id="results-title">Результаты</h2>${resultsTable(users)}${next}</section>`
    }
    return render(request, reply, { title: 'Пользователи', section: 'users', error, body: (csrf) => html`${searchForm(csrf, organizations, s)}${results}` }, error ? 400 : 200)
  }

  app.get('/admin/users', { schema: { ...HIDE, querystring: BrowseQuery } }, async (request, reply) => {
    const q = request.query
    const s: UserSearch = { organizationId: q.organization_id || undefined, role: q.role || undefined, linkState: q.link_state || undefined, limit: PAGE_SIZE, offset: q.offset }
    return showSearch(request, reply, s, Boolean(s.organizationId || s.role || s.linkState), 'get', q.error)
  })

  app.post('/admin/users/search', { schema: { ...HIDE, body: SearchBody }, preHandler: app.csrfProtection }, async (request, reply) => {
    const b = request.body
    const s: UserSearch = { name: b.name?.trim() || undefined, snils: b.snils?.trim() || undefined, organizationId: b.organization_id || undefined, role: b.role || undefined, linkState: b.link_state || undefined, limit: PAGE_SIZE, offset: b.offset }
    try {
      return await showSearch(request, reply, s, true, 'post')
    } catch (err) {
      if ((err as { code?: string }).code === 'invalid_snils') return showSearch(request, reply, { ...s, snils: undefined }, false, 'post', 'invalid_snils')
      throw err
    }
  })

  app.get('/admin/users/:id', { schema: { ...HIDE, params: Type.Object({ id: Id }), querystring: Type.Object(NoticeQuery) } }, async (request, reply) => {
    const caller = requireCaller(request)
    const card = await readUserCard(app.db, caller, request.params.id)
    const { attempts } = await listFailedAttempts(app.db, caller, { journalUserId: card.user.id, state: 'all' }, 20)
    await auditSupportView(app.db, caller, 'support.user_viewed', { journalUserId: card.user.id, organizationId: card.user.organizationId })
    return render(request, reply, { title: fullName(card.user), section: 'users', done: request.query.done, error: request.query.error, body: (csrf) => cardPage(card, attempts, csrf, caller.role !== 'auditor') })
  })

  const ReasonForm = Type.Object({ reason: Opt(2000), _csrf: Type.Optional(Type.String()) })
  const cardUrl = (id: string) => `/admin/users/${encodeURIComponent(id)}`

  app.post('/admin/users/:id/unlink', { schema: { ...HIDE, params: Type.Object({ id: Id }), body: ReasonForm }, preHandler: app.csrfProtection }, async (request, reply) =>
    formAction(reply, cardUrl(request.params.id), async () => {
      await unlinkUser(app.db, requireCaller(request), request.params.id, request.body.reason)
      return 'unlinked'
    }),
  )

  app.post(
    '/admin/users/:id/move-link',
    { schema: { ...HIDE, params: Type.Object({ id: Id }), body: Type.Object({ to_journal_user_id: Type.String({ maxLength: 128 }), reason: Opt(2000), _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection },
    async (request, reply) => {
      const to = request.body.to_journal_user_id.trim()
      return formAction(reply, cardUrl(request.params.id), async () => {
        await moveLink(app.db, requireCaller(request), request.params.id, to, request.body.reason)
        return { done: 'moved', to: cardUrl(to) }
      })
    },
  )
}
