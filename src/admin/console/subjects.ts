import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { html, type Html } from '../../web/html.js'
import { categoryTexts } from '../../subjects/categories.js'
import type { ItemValue, ReportCategory, ReportItem, SubjectReport } from '../../subjects/report.js'
import { lookupOf, subjectReport, type LookupInput } from '../../subjects/requests.js'
import type { MatchField } from '../../matching/types.js'
import { ApiError } from '../../http/errors.js'
import { eraseSubject } from '../../subjects/erase.js'
import { DESTRUCTION_CSV_HEADER, destructionCsvRows, listDestructionRecords, type DestructionRecord } from '../../subjects/destruction.js'
import { auditSupportRead } from '../audit-log.js'
import { requireCaller, requireEveryOrganization, type SupportCaller } from '../caller.js'
import { sendCsv } from '../csv.js'
import { formatMoscowTime } from '../time.js'
import { SYSTEM_NAME } from '../api/audit.js'
import { destructionTexts } from '../api/subjects.js'
import { day, formAction, HIDE, NoticeQuery, queryString, render, when } from './forms.js'
import { csrfField } from './layout.js'
import { CHILD_STATES, eventLabel, fieldLabel, FLOWS, LEVELS, LINK_METHODS, reasonTitle, ROLE_NAMES } from './texts.js'
import { ACTOR_KINDS } from './users.js'

/**
 * «Сведения об обработке персональных данных»: the report of src/subjects/report.ts as a page support
 * prints (or saves as PDF from the browser's print dialog) for the reply to the person. The print
 * stylesheet (src/admin/console/styles.ts, @media print) drops the navigation and the forms and
 * keeps the tables readable on paper. A SNILS is looked up by a POSTed form, never in the URL.
 */
export const REPORT_TITLE = 'Сведения об обработке персональных данных'

/** Columns of each category's table: item key → heading. */
const COLUMNS: Record<ReportCategory['code'], Record<string, string>> = {
  directory_cards: { journal_user_id: 'Идентификатор карточки', organization_name: 'Организация', role: 'Роль', last_name: 'Фамилия', first_name: 'Имя', middle_name: 'Отчество', birth_date: 'Дата рождения', snils_held: 'СНИЛС', updated_at: 'Получено от журнала' },
  links: { journal_user_id: 'Карточка', upstream_subject: 'Учётная запись ЕСИА', method: 'Как связана', evidence: 'Что совпало', level: 'Уровень учётной записи', created_at: 'Когда связана', last_login_at: 'Последний вход' },
  failed_attempts: { at: 'Когда', flow: 'Что делал', journal_user_id: 'Карточка', reasons: 'Почему не получилось', esia_last_name: 'Фамилия (Госуслуги)', esia_first_name: 'Имя (Госуслуги)', esia_middle_name: 'Отчество (Госуслуги)', esia_birth_date: 'Дата рождения (Госуслуги)', esia_snils_held: 'СНИЛС (Госуслуги)', deletes_at: 'Будет удалена' },
  guardians: { parent_id: 'Родитель (карточка)', child_id: 'Ребёнок (карточка)', state: 'Сверка с Госуслугами', esia_birth_date: 'Дата рождения ребёнка (Госуслуги)', esia_snils_held: 'СНИЛС ребёнка (Госуслуги)', checked_at: 'Когда сверено', deletes_at: 'Данные Госуслуг будут удалены' },
  audit_events: { at: 'Когда', type: 'Действие', actor_kind: 'Кто', actor_login: 'Сотрудник', journal_user_id: 'Карточка', reason: 'Причина', pseudonymises_at: 'Будет обезличено' },
  journal_events: { created_at: 'Когда', client_id: 'Журнал', event_type: 'Событие', status: 'Состояние', deletes_at: 'Будет удалено' },
  login_sessions: { client_id: 'Журнал', created_at: 'Вход', deletes_at: 'Будет удалён' },
  transient: { table: 'Что', count: 'Записей', deletes_at: 'Истекает' },
}

const TRANSIENT: Record<string, string> = { link_intents: 'Начатые привязки', authorization_codes: 'Коды входа для журнала', access_tokens: 'Токены доступа журнала', pending_logins: 'Незавершённые входы' }
const EVENT_STATUS: Record<string, string> = { pending: 'ждёт доставки', delivered: 'доставлено', failed: 'не доставлено' }
const EVENTS: Record<string, string> = {
  'urn:esia-bridge:event:link-created': 'Связь создана',
  'urn:esia-bridge:event:link-removed': 'Связь удалена',
  'urn:esia-bridge:event:link-moved': 'Связь перенесена',
  'http://schemas.openid.net/event/backchannel-logout': 'Завершение сеанса',
}

function cell(code: ReportCategory['code'], key: string, value: ItemValue, item: ReportItem): string {
  if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) return '—'
  if (typeof value === 'boolean') return key.endsWith('snils_held') ? (value ? 'есть (хранится только код HMAC)' : 'нет') : value ? 'да' : 'нет'
  if (key === 'at' || key.endsWith('_at')) return when(new Date(value as string))
  if (key.endsWith('birth_date')) return day(value as string)
  if (key === 'role') return ROLE_NAMES[value as string] ?? String(value)
  if (key === 'method') return LINK_METHODS[value as string] ?? String(value)
  if (key === 'level') return LEVELS[value as string] ?? String(value)
  if (key === 'flow') return FLOWS[value as string] ?? String(value)
  if (key === 'evidence') return (value as string[]).map((f) => fieldLabel(f as MatchField)).join(', ')
  if (key === 'reasons') return [...new Set(value as string[])].map((r) => reasonTitle(r, item.flow === 'login' ? 'login' : 'link')).join('; ')
  if (key === 'state' && code === 'guardians') return CHILD_STATES[value as string] ?? String(value)
  if (key === 'type') return eventLabel(value as string)
  if (key === 'actor_kind') return ACTOR_KINDS[value as string] ?? String(value)
  if (key === 'event_type') return EVENTS[value as string] ?? String(value)
  if (key === 'status') return EVENT_STATUS[value as string] ?? String(value)
  if (key === 'table') return TRANSIENT[value as string] ?? String(value)
  return Array.isArray(value) ? value.join(', ') : String(value)
}

function categorySection(c: ReportCategory, texts: ReturnType<typeof categoryTexts>): Html {
  const t = texts[c.code]
  const columns = Object.entries(COLUMNS[c.code])
  const id = `cat-${c.code}`
  return html`<section class="card subject-category" aria-labelledby="${id}"><h2 id="${id}">${t.title}</h2>
<dl class="kv"><dt>Цель обработки</dt><dd>${t.purpose}</dd><dt>Правовое основание</dt><dd>${t.legalBasis}</dd>
<dt>Срок хранения</dt><dd>${t.retention}</dd><dt>${c.code === 'audit_events' ? 'Плановая дата обезличивания' : 'Плановая дата удаления'}</dt><dd>${c.plannedDeletion ? when(new Date(c.plannedDeletion)) : c.count ? 'по событию (см. срок хранения)' : '—'}</dd>
<dt>Записей</dt><dd>${c.count}</dd></dl>
${t.note ? html`<p class="small">${t.note}</p>` : ''}
${c.items.length
    // Wide tables scroll sideways on a narrow screen; the scroll area takes the keyboard focus (WCAG 2.1.1).
    ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="${t.title}: записи"><table>${c.items.length < c.count ? html`<caption class="muted small">Показаны последние ${c.items.length} из ${c.count}.</caption>` : ''}
<thead><tr>${columns.map(([, label]) => html`<th scope="col">${label}</th>`)}</tr></thead><tbody>
${c.items.map((item) => html`<tr>${columns.map(([key]) => html`<td>${cell(c.code, key, item[key] ?? null, item)}</td>`)}</tr>`)}
</tbody></table></div>`
    : html`<p class="muted">Не хранится.</p>`}
</section>`
}

/**
 * «Уничтожить данные по запросу» under the report, for an admin: the person is named by exactly the
 * cards and ЕСИА accounts the report shows (one hidden field, JSON), never by a SNILS; the server
 * erases those or, if they changed meanwhile, nothing (src/subjects/erase.ts).
 */
function erasureForm(report: SubjectReport, csrf: string): Html {
  if (report.journalUserIds.length === 0 && report.subjects.length === 0) return html``
  const shown = JSON.stringify({ journal_user_ids: report.journalUserIds, subjects: report.subjects })
  return html`<form method="post" action="/admin/subjects/erase" class="card no-print" aria-labelledby="erase-title">${csrfField(csrf)}
<h2 id="erase-title">Уничтожить данные по запросу</h2>
<p class="small">Уничтожаются данные о карточках и учётных записях ЕСИА, показанных в отчёте выше. Удаляются связи с Госуслугами (журналу будут отправлены события, сеансы завершатся), неудачные попытки, результаты сверки детей, незавершённые входы и доставленные события; в журнале действий человек заменяется псевдонимом. Карточки журнала остаются — их удаляет журнал. Отменить нельзя.</p>
<input type="hidden" name="shown" value="${shown}">
<p class="small" id="erase-free-text">Не пишите в номер запроса и основание фамилию, имя или другие данные человека: эти поля хранятся в записи об уничтожении и журнале действий без обезличивания.</p>
<div class="filters"><div><label for="f-request-number">Номер запроса</label><input type="text" id="f-request-number" name="request_number" required maxlength="100" aria-describedby="erase-free-text"></div>
<div><label for="f-request-date">Дата запроса</label><input type="date" id="f-request-date" name="request_date" required></div></div>
<label for="f-erase-reason">Основание (обязательно)</label><textarea id="f-erase-reason" name="reason" required maxlength="1000" aria-describedby="erase-free-text">Отзыв согласия на обработку персональных данных (ст. 9 ч. 2, ст. 21 ч. 5 152-ФЗ)</textarea>
<div class="choice-line"><input type="checkbox" id="f-confirm" name="confirm" value="yes" required><label for="f-confirm">Понимаю, что данные будут уничтожены без возможности восстановления</label></div>
<div class="actions"><button type="submit" class="danger">Уничтожить</button></div></form>`
}

/** The hidden field of erasureForm, read back; undefined when it is missing or not what the form writes. */
function shownOf(raw: string | undefined): { journalUserIds: string[]; subjects: string[] } | undefined {
  if (!raw) return undefined
  try {
    const v = JSON.parse(raw) as { journal_user_ids?: unknown; subjects?: unknown }
    const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((x) => typeof x === 'string')
    return strings(v.journal_user_ids) && strings(v.subjects) ? { journalUserIds: v.journal_user_ids, subjects: v.subjects } : undefined
  } catch {
    return undefined
  }
}

function reportPage(report: SubjectReport, texts: ReturnType<typeof categoryTexts>): Html {
  const cards = report.categories.find((c) => c.code === 'directory_cards')!.items
  const names = [...new Set(cards.map((c) => [c.last_name, c.first_name, c.middle_name].filter(Boolean).join(' ')))]
  return html`<section class="card" aria-labelledby="subject"><h2 id="subject">О ком</h2>
<dl class="kv"><dt>ФИО по справочнику журнала</dt><dd>${names.length ? names.join('; ') : 'карточек в справочнике нет'}</dd>
<dt>Карточки в журнале</dt><dd>${report.journalUserIds.length ? report.journalUserIds.map((id) => html`<code>${id}</code> `) : '—'}</dd>
<dt>Учётные записи ЕСИА</dt><dd>${report.subjects.length ? report.subjects.map((s) => html`<code>${s}</code> `) : '—'}</dd>
<dt>Информационная система</dt><dd>${SYSTEM_NAME}</dd><dt>Сведения на</dt><dd>${when(new Date(report.generatedAt))}</dd></dl>
<p class="muted small no-print">Чтобы приложить сведения к ответу, распечатайте страницу или сохраните её в PDF через «Печать» браузера (Ctrl+P): навигация и формы на печать не выводятся.</p></section>
${report.categories.map((c) => categorySection(c, texts))}`
}

function recordsPage(records: DestructionRecord[], nextBeforeId: number | null, texts: ReturnType<typeof destructionTexts>, basis: string | undefined): Html {
  return html`<section class="card" aria-labelledby="records-title"><h2 id="records-title">Записи об уничтожении персональных данных</h2>
<p class="small">Каждое уничтожение — по запросу человека или по истечении срока хранения — записывается здесь: когда, кто, какие категории и сколько записей. Человек назван псевдонимом из журнала действий; его имя остаётся в запросе под указанным номером.</p>
<div class="actions no-print"><a class="btn secondary" href="/admin/destruction-records.csv">Выгрузить CSV</a>
${basis !== 'request' ? html`<a class="btn secondary" href="/admin/destruction-records?basis=request">Только по запросам</a>` : html`<a class="btn secondary" href="/admin/destruction-records">Все</a>`}</div>
${records.length
    ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Записи об уничтожении"><table><thead><tr><th scope="col">№</th><th scope="col">Когда</th><th scope="col">Основание</th><th scope="col">Запрос</th><th scope="col">Кто</th><th scope="col">Субъект (псевдоним)</th><th scope="col">Что уничтожено</th><th scope="col">Причина</th></tr></thead><tbody>
${records.map((r) => html`<tr><td>${r.id}</td><td>${when(r.at)}</td><td>${texts.basis(r.basis)}</td><td>${r.requestNumber ? html`№ ${r.requestNumber} от ${r.requestDate ? day(r.requestDate) : '—'}` : '—'}</td>
<td>${texts.actor(r)}</td><td>${r.subjectToken ? html`<code class="small">${r.subjectToken}</code>` : '—'}</td>
<td><ul class="small">${r.categories.filter((c) => c.count > 0).map((c) => html`<li>${texts.category(c.category)}: ${c.count} (${texts.action(c.action)})</li>`)}</ul></td><td>${r.reason}</td></tr>`)}
</tbody></table></div>`
    : html`<p>Записей нет.</p>`}
${nextBeforeId ? html`<div class="pager"><a class="btn secondary" href="/admin/destruction-records${queryString({ basis, before_id: nextBeforeId })}">Более ранние</a></div>` : ''}</section>`
}

function lookupForms(csrf: string): Html {
  return html`<div class="grid2 no-print">
<form method="get" action="/admin/subjects/report" class="card" aria-labelledby="by-id"><h2 id="by-id">По карточке или учётной записи ЕСИА</h2>
<p class="muted small">Заполните одно из полей.</p>
<label for="f-journal-user">Идентификатор карточки в журнале</label><input type="text" id="f-journal-user" name="journal_user_id" maxlength="128">
<label for="f-subject">Идентификатор учётной записи ЕСИА</label><input type="text" id="f-subject" name="subject" maxlength="128" inputmode="numeric">
<div class="actions"><button type="submit">Показать</button></div></form>
<form method="post" action="/admin/subjects/report" class="card" aria-labelledby="by-snils"><h2 id="by-snils">По СНИЛС</h2>${csrfField(csrf)}
<label for="f-snils">СНИЛС полностью</label><input type="text" id="f-snils" name="snils" autocomplete="off" inputmode="numeric" placeholder="123-456-789 01" maxlength="30">
<p class="muted small">СНИЛС сравнивается без хранения и не попадает ни в адрес страницы, ни в журнал действий.</p>
<div class="actions"><button type="submit">Показать</button></div></form></div>`
}

const Ident = Type.Optional(Type.String({ maxLength: 128 }))
const ReportQuery = Type.Object({ journal_user_id: Ident, subject: Ident, ...NoticeQuery })
const ReportForm = Type.Object({ journal_user_id: Ident, subject: Ident, snils: Type.Optional(Type.String({ maxLength: 30 })), _csrf: Type.Optional(Type.String()) })

export const subjectConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  async function show(request: FastifyRequest, reply: FastifyReply, input: LookupInput, notices: { done?: string | undefined; error?: string | undefined } = {}) {
    const caller = requireCaller(request)
    const texts = categoryTexts(app.config)
    const asked = Object.values(input).some((v) => v !== undefined && v.trim() !== '')
    if (!asked) return render(request, reply, { title: REPORT_TITLE, section: 'users', ...notices, body: (csrf) => lookupForms(csrf) })
    let report: SubjectReport
    try {
      report = await subjectReport(app.db, app.config, caller, lookupOf(input))
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'invalid_snils' || code === 'lookup_required') return render(request, reply, { title: REPORT_TITLE, section: 'users', error: code, body: (csrf) => lookupForms(csrf) }, 400)
      throw err
    }
    return render(request, reply, { title: REPORT_TITLE, section: 'users', ...notices, body: (csrf) => html`${reportPage(report, texts)}${caller.role === 'admin' ? erasureForm(report, csrf) : ''}` })
  }

  app.get('/admin/subjects/report', { schema: { ...HIDE, querystring: ReportQuery } }, async (request, reply) => {
    const { done, error, ...input } = request.query
    return show(request, reply, input, { done, error })
  })

  app.post('/admin/subjects/report', { schema: { ...HIDE, body: ReportForm }, preHandler: app.csrfProtection }, async (request, reply) => {
    const { _csrf: _, ...input } = request.body
    return show(request, reply, input)
  })

  const EraseForm = Type.Object({
    // The report's cards and accounts, JSON (erasureForm); a few hundred ids at most.
    shown: Type.Optional(Type.String({ maxLength: 200_000 })),
    request_number: Type.Optional(Type.String({ maxLength: 200 })),
    request_date: Type.Optional(Type.String({ maxLength: 10 })),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
    confirm: Type.Optional(Type.String({ maxLength: 10 })),
    _csrf: Type.Optional(Type.String()),
  })

  app.post('/admin/subjects/erase', { schema: { ...HIDE, body: EraseForm }, preHandler: app.csrfProtection }, async (request, reply) => {
    const b = request.body
    const shown = shownOf(b.shown)
    // Back to a fresh report on the same person: after «Данные изменились» the admin sees what is there now.
    const back = `/admin/subjects/report${queryString(shown?.journalUserIds[0] ? { journal_user_id: shown.journalUserIds[0] } : { subject: shown?.subjects[0] })}`
    return formAction(reply, back, async () => {
      if (!shown) throw new ApiError(400, 'lookup_required', 'Erase from the report page')
      if (b.confirm !== 'yes') throw new ApiError(400, 'confirm_required', 'Confirm the erasure')
      const result = await eraseSubject(app.db, app.config, requireCaller(request), { lookup: undefined, shown, requestNumber: b.request_number, requestDate: b.request_date, reason: b.reason })
      return { done: result.linksRemoved ? 'erased' : 'erased_unlinked', to: '/admin/destruction-records' }
    })
  })

  const RecordsQuery = Type.Object({
    basis: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('request'), Type.Literal('retention')])),
    before_id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    ...NoticeQuery,
  })

  const readerOf = (request: FastifyRequest): SupportCaller => {
    const caller = requireCaller(request)
    requireEveryOrganization(caller)
    return caller
  }

  app.get('/admin/destruction-records', { schema: { ...HIDE, querystring: RecordsQuery } }, async (request, reply) => {
    readerOf(request)
    const basis = request.query.basis || undefined
    const { records, nextBeforeId } = await listDestructionRecords(app.db, { limit: 100, beforeId: request.query.before_id, basis })
    return render(request, reply, {
      title: 'Уничтожение персональных данных',
      section: 'destruction',
      done: request.query.done,
      error: request.query.error,
      body: () => recordsPage(records, nextBeforeId, destructionTexts(app.config), basis),
    })
  })

  app.get('/admin/destruction-records.csv', { schema: HIDE }, async (request, reply) => {
    const caller = readerOf(request)
    await auditSupportRead(app.db, caller, 'support.export', { details: { export: 'destruction_records' } })
    return sendCsv(reply, 'destruction-records.csv', DESTRUCTION_CSV_HEADER, destructionCsvRows(app.db, destructionTexts(app.config), formatMoscowTime, SYSTEM_NAME))
  })
}
