import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { html } from '../../web/html.js'
import { auditFilterOf, SYSTEM_NAME } from '../api/audit.js'
import { AuditQuery, Day } from '../api/schemas.js'

const RuDay = Type.String({ pattern: '^\\d{2}\\.\\d{2}\\.\\d{4}$' })
import { AUDIT_CSV_HEADER, auditCsvRows, auditFilterNames, auditSupportRead, queryAuditLog } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { sendCsv } from '../csv.js'
import { ApiError } from '../../http/errors.js'
import { formatMoscowTime } from '../time.js'
import { HIDE, NoticeQuery, optionsOf, queryString, render, scopeOrganizations, select, when } from './forms.js'
import { actorLabel } from './users.js'
import { eventLabel, EVENT_TYPES } from './texts.js'

/**
 * The action log (152-ФЗ ст. 19 ч. 2 п. 8) with filters by type, actor, organisation and period,
 * and its CSV export (itself recorded). Filters hold no personal data, so they live in the URL.
 */
const FAMILIES = { 'link.*': 'Все изменения связей', 'login.*': 'Все входы', 'support.*': 'Все действия поддержки', 'directory.*': 'Все изменения справочника' }
const ConsoleAuditQuery = Type.Object({
  ...Type.Omit(AuditQuery, ['limit', 'type', 'organization_id', 'from', 'to']).properties,
  type: Type.Optional(Type.String({ maxLength: 100 })),
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  from: Type.Optional(Type.Union([Type.Literal(''), Day, RuDay])),
  to: Type.Optional(Type.Union([Type.Literal(''), Day, RuDay])),
  ...NoticeQuery,
})

/**
 * The period is typed as дд.мм.гггг in a text field: a date input follows the browser's locale
 * (mm/dd/yyyy in an English browser), and support in Russia reads and types days as 05.12.2026.
 * ISO days (links, older bookmarks) are taken too.
 */
const RU_DAY = /^(\d{2})\.(\d{2})\.(\d{4})$/
const isoDay = (v: string | undefined): string | undefined => {
  const m = RU_DAY.exec(v ?? '')
  if (!m) return v || undefined
  const iso = `${m[3]}-${m[2]}-${m[1]}`
  // 31.02.2026 matches the pattern but is no day: a clear 400, not a database error.
  const parsed = Date.parse(`${iso}T00:00:00Z`)
  if (Number.isNaN(parsed) || new Date(parsed).toISOString().slice(0, 10) !== iso) throw new ApiError(400, 'invalid_date', `${v} is not a date (дд.мм.гггг)`)
  return iso
}
const ruDay = (v: string | undefined): string => {
  const iso = isoDay(v)
  return iso ? `${iso.slice(8, 10)}.${iso.slice(5, 7)}.${iso.slice(0, 4)}` : ''
}
const dayField = (id: string, name: string, label: string, value: string | undefined) =>
  html`<div><label for="${id}">${label}</label><input type="text" id="${id}" name="${name}" value="${ruDay(value)}" inputmode="numeric" pattern="\d{2}\.\d{2}\.\d{4}" placeholder="дд.мм.гггг" maxlength="10" autocomplete="off" aria-describedby="period-format"></div>`

export const auditConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/admin/audit', { schema: { ...HIDE, querystring: ConsoleAuditQuery } }, async (request, reply) => {
    const caller = requireCaller(request)
    const q = { ...request.query, from: isoDay(request.query.from), to: isoDay(request.query.to) }
    const filter = auditFilterOf(q)
    checkOrganizationFilter(caller, filter.organizationId)
    const [organizations, { events, nextBeforeId }] = await Promise.all([scopeOrganizations(app.db, caller), queryAuditLog(app.db, caller, filter, 100)])
    const keep = { type: q.type, actor: q.actor, organization_id: q.organization_id, journal_user_id: q.journal_user_id, from: q.from, to: q.to }
    return render(request, reply, {
      title: 'Журнал действий',
      section: 'audit',
      body: () => html`<form method="get" action="/admin/audit" class="card"><div class="filters">
${select('type', 'Событие', optionsOf({ ...FAMILIES, ...EVENT_TYPES }), q.type)}
${select('organization_id', 'Организация', organizations, q.organization_id)}
<div><label for="f-actor">Кто (логин или идентификатор)</label><input type="text" id="f-actor" name="actor" value="${q.actor ?? ''}"></div>
<div><label for="f-user">Карточка в журнале (идентификатор)</label><input type="text" id="f-user" name="journal_user_id" value="${q.journal_user_id ?? ''}"></div>
${dayField('f-from', 'from', 'С (дата)', q.from)}
${dayField('f-to', 'to', 'По (дата)', q.to)}
</div><p class="muted small" id="period-format">Даты — в виде дд.мм.гггг, например 05.12.2026.</p><div class="actions"><button type="submit">Показать</button><a class="btn secondary" href="/admin/audit.csv${queryString(keep)}">Выгрузить CSV</a></div>
<p class="muted small">Время — московское. Выгрузка содержит ФИО из справочника и тоже записывается в журнал.</p></form>
<section class="card"><div class="table-wrap"><table><thead><tr><th scope="col">Когда</th><th scope="col">Событие</th><th scope="col">Кто</th><th scope="col">Карточка</th><th scope="col">Причина</th></tr></thead><tbody>
${events.map((e) => html`<tr><td>${when(e.at)}</td><td>${eventLabel(e.type)}<br><code class="small muted">${e.type}</code></td><td>${actorLabel(e)}</td>
<td>${e.journalUserId ? html`<a href="/admin/users/${encodeURIComponent(e.journalUserId)}">${e.journalUserId}</a>` : '—'}</td><td>${e.reason ?? ''}</td></tr>`)}
</tbody></table></div>${events.length === 0 ? html`<p>Событий нет.</p>` : ''}
${nextBeforeId ? html`<div class="pager"><a class="btn secondary" href="/admin/audit${queryString({ ...keep, before_id: nextBeforeId })}">Более ранние</a></div>` : ''}</section>`,
    })
  })

  app.get('/admin/audit.csv', { schema: { ...HIDE, querystring: ConsoleAuditQuery } }, async (request, reply) => {
    const caller = requireCaller(request)
    const filter = auditFilterOf({ ...request.query, from: isoDay(request.query.from), to: isoDay(request.query.to) })
    checkOrganizationFilter(caller, filter.organizationId)
    await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'audit_events', filters: auditFilterNames(filter) } })
    return sendCsv(reply, 'audit-events.csv', AUDIT_CSV_HEADER, auditCsvRows(app.db, caller, filter, formatMoscowTime, SYSTEM_NAME))
  })
}
