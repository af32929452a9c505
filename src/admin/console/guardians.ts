import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RelationState } from '../../matching/children.js'
import { childStateText } from '../../matching/messages.js'
import { html } from '../../web/html.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { sendCsv } from '../csv.js'
import { RELATIONS_CSV_HEADER, relationsCsvRows, unconfirmedParentsInScope } from '../guardians.js'
import { formatMoscowTime } from '../time.js'
import { fullName, HIDE, queryString, render, scopeOrganizations, select } from './forms.js'
import { CHILD_STATES } from './texts.js'

/**
 * «Родители с неподтверждёнными детьми»: per school, the linked parents with a child that Госуслуги
 * did not confirm, how many of their children are in each state, and every relation as CSV for the
 * school to work through. Each parent opens their card, where the children are listed one by one.
 */
const PAGE_SIZE = 50
const Filter = Type.Object({
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
})
const ExportQuery = Type.Object({
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  all: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('1')])),
})

const UNCONFIRMED: RelationState[] = ['mismatch', 'not_in_esia', 'unchecked']
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)
/** The state's words, with what did not agree for a mismatch («данные не совпадают: имя»). */
const stateWords = (state: RelationState | string, reasons: readonly string[]): string =>
  state === 'mismatch' ? `${CHILD_STATES.mismatch}: ${childStateText('mismatch', reasons).toLowerCase()}` : (CHILD_STATES[state] ?? state)

export const guardianConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/admin/guardians', { schema: { ...HIDE, querystring: Filter } }, async (request, reply) => {
    const caller = requireCaller(request)
    const q = request.query
    const organizationId = q.organization_id || undefined
    const [{ parents, more }, organizations] = await Promise.all([
      unconfirmedParentsInScope(app.db, caller, { organizationId, limit: PAGE_SIZE, offset: q.offset }),
      scopeOrganizations(app.db, caller),
    ])
    await auditSupportRead(app.db, caller, 'support.guardians_viewed', { organizationId: organizationId ?? null, details: { results: parents.length } })
    const orgName = new Map(organizations.map((o) => [o.value, o.label]))
    return render(request, reply, {
      title: 'Родители с неподтверждёнными детьми',
      section: 'guardians',
      body: () => html`<p>Родители, которые связали карточку с Госуслугами, но не всех детей из журнала удалось подтвердить по данным Госуслуг (раздел «Семья и дети» в профиле родителя). Журнал получает от моста только подтверждённых детей.</p>
<form method="get" action="/admin/guardians" class="card"><div class="filters">${select('organization_id', 'Организация', organizations, organizationId)}</div>
<div class="actions"><button type="submit">Показать</button>
<a class="btn secondary" href="/admin/guardians.csv${queryString({ organization_id: organizationId })}">Выгрузить неподтверждённых детей (CSV)</a>
<a class="btn secondary" href="/admin/guardians.csv${queryString({ organization_id: organizationId, all: 1 })}">Выгрузить всех родителей и детей (CSV)</a></div></form>
<section class="card">${parents.length === 0
        ? html`<p>Таких родителей нет.</p>`
        : html`<div class="table-wrap"><table><thead><tr><th scope="col">Родитель</th><th scope="col">Организация</th>
${UNCONFIRMED.map((s) => html`<th scope="col" class="num">${capitalised(CHILD_STATES[s]!)}</th>`)}<th scope="col" class="num">${capitalised(CHILD_STATES.confirmed!)}</th></tr></thead><tbody>
${parents.map((p) => html`<tr><td><a href="/admin/users/${encodeURIComponent(p.parentId)}">${fullName(p)}</a><br><code class="small muted">${p.parentId}</code></td><td>${orgName.get(p.organizationId) ?? p.organizationId}</td>
${UNCONFIRMED.map((s) => html`<td class="num">${p.counts[s] || html`<span class="muted">0</span>`}</td>`)}<td class="num">${p.counts.confirmed}</td></tr>`)}
</tbody></table></div>`}
${more ? html`<div class="pager"><a class="btn secondary" href="/admin/guardians${queryString({ organization_id: organizationId, offset: q.offset + PAGE_SIZE })}">Следующие ${PAGE_SIZE}</a></div>` : ''}</section>`,
    })
  })

  app.get('/admin/guardians.csv', { schema: { ...HIDE, querystring: ExportQuery } }, async (request, reply) => {
    const caller = requireCaller(request)
    const organizationId = request.query.organization_id || undefined
    const unconfirmedOnly = request.query.all !== '1'
    // Checked before the download starts: a refused filter is an error page, not a broken file.
    checkOrganizationFilter(caller, organizationId)
    const rows = relationsCsvRows(app.db, caller, { organizationId, unconfirmedOnly }, { state: stateWords, time: formatMoscowTime })
    await auditSupportRead(app.db, caller, 'support.export', { organizationId: organizationId ?? null, details: { export: 'guardians', unconfirmed_only: unconfirmedOnly } })
    return sendCsv(reply, unconfirmedOnly ? 'unconfirmed-children.csv' : 'parents-and-children.csv', RELATIONS_CSV_HEADER, rows)
  })
}
