import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { withReport } from '../../db/report-query.js'
import { CARD_PROBLEMS, ROLES } from '../../directory/cards.js'
import { REPORT_PROBLEMS, type CompletenessRow, type ReportProblem } from '../../directory/completeness.js'
import { ReportProblemSchema } from '../../directory/schemas.js'
import { clientGoneSignal } from '../../http/client-gone.js'
import { html, type Html } from '../../web/html.js'
import { auditSupportRead } from '../audit-log.js'
import { checkOrganizationFilter, requireCaller } from '../caller.js'
import { sendCsv } from '../csv.js'
import {
  COMPLETENESS_CSV_HEADER,
  completenessCsvRows,
  completenessInScope,
  NO_MIDDLE_NAME_COLUMN,
  PROBLEM_CARDS_CSV_HEADER,
  PROBLEM_COLUMNS,
  problemCardsCsvRows,
  problemCardsInScope,
} from '../reports.js'
import { fullName, HIDE, queryString, render, scopeOrganizations, select } from './forms.js'
import { PROBLEMS, ROLE_NAMES } from './texts.js'

/**
 * «Контроль заполнения данных: Сотрудники / Обучающиеся / Родители» (docs/sources.md: Камчатка slides): the three reports a
 * school checks before moving to sign-in through Госуслуги, as tabs over one table; every number
 * opens the cards behind it, each card links to its page, and both lists download as CSV.
 */
const TABS: { role: string | undefined; label: string }[] = [
  { role: undefined, label: 'Все' },
  { role: 'staff', label: 'Сотрудники' },
  { role: 'student', label: 'Обучающиеся' },
  { role: 'parent', label: 'Родители' },
]
const roleName = (r: string) => ROLE_NAMES[r] ?? r
const Filter = {
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  role: Type.Optional(Type.Union([Type.Literal(''), Type.Enum(ROLES)])),
}
const ProblemsQuery = Type.Object({
  ...Filter,
  problem: Type.Optional(Type.Union([Type.Literal(''), ReportProblemSchema])),
  after: Type.Optional(Type.String({ maxLength: 128 })),
})

const percent = (part: number, total: number) => (total === 0 ? '—' : `${Math.round((100 * (total - part)) / total)} %`)

/** The guardianship category that applies to a role's row (parents: no children; pupils: no parents). */
const RELATION_OF_ROLE: Record<string, ReportProblem> = { parent: 'parents_without_children', student: 'children_without_parents' }

function reportTable(rows: CompletenessRow[]): Html {
  if (rows.length === 0) return html`<p>Карточек нет.</p>`
  const link = (r: CompletenessRow, p: ReportProblem, n: number) =>
    n === 0
      ? html`<td class="num muted">0</td>`
      : html`<td class="num"><a href="/admin/completeness/problems${queryString({ organization_id: r.organization_id, role: r.role, problem: p })}">${n}</a></td>`
  const relation = (r: CompletenessRow, p: ReportProblem) => (RELATION_OF_ROLE[r.role] === p ? link(r, p, r[p as 'parents_without_children' | 'children_without_parents']) : html`<td class="num muted">—</td>`)
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">Организация</th><th scope="col">Роль</th><th scope="col" class="num">Карточек</th>
${CARD_PROBLEMS.map((p) => html`<th scope="col" class="num">${PROBLEM_COLUMNS[p]}</th>`)}<th scope="col" class="num">Заполнено полностью</th>
<th scope="col" class="num">${NO_MIDDLE_NAME_COLUMN}</th><th scope="col" class="num">${PROBLEM_COLUMNS.parents_without_children}</th><th scope="col" class="num">${PROBLEM_COLUMNS.children_without_parents}</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${r.organization_name}</td><td>${roleName(r.role)}</td><td class="num">${r.total}</td>${CARD_PROBLEMS.map((p) => link(r, p, r[p]))}
<td class="num">${r.with_problems ? html`<a href="/admin/completeness/problems${queryString({ organization_id: r.organization_id, role: r.role })}">${percent(r.with_problems, r.total)}</a>` : percent(0, r.total)}</td>
<td class="num muted">${r.no_middle_name}</td>${relation(r, 'parents_without_children')}${relation(r, 'children_without_parents')}</tr>`)}
</tbody></table></div>`
}

export const reportConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const report = (reply: FastifyReply) => ({ timeoutMs: app.config.reportStatementTimeoutMs, signal: clientGoneSignal(reply) })
  app.get('/admin/completeness', { schema: { ...HIDE, querystring: Type.Object(Filter) } }, async (request, reply) => {
    const caller = requireCaller(request)
    const filter = { organizationId: request.query.organization_id || undefined, role: request.query.role || undefined }
    const [rows, organizations] = await Promise.all([withReport(app.db, report(reply), (db) => completenessInScope(db, caller, filter)), scopeOrganizations(app.db, caller)])
    const tab = (t: (typeof TABS)[number]) =>
      html`<li><a href="/admin/completeness${queryString({ organization_id: filter.organizationId, role: t.role })}"${t.role === filter.role ? html` aria-current="page"` : ''}>${t.label}</a></li>`
    return render(request, reply, {
      title: 'Контроль заполнения данных',
      section: 'completeness',
      body: () => html`<p>Для входа через Госуслуги в карточке нужны СНИЛС, дата рождения и отчество (если оно есть) — точно как в документах. Число в таблице открывает список карточек.</p>
<nav class="console-nav tabs" aria-label="Отчёты по ролям"><ul>${TABS.map(tab)}</ul></nav>
<form method="get" action="/admin/completeness" class="card"><input type="hidden" name="role" value="${filter.role ?? ''}"><div class="filters">${select('organization_id', 'Организация', organizations, filter.organizationId)}</div>
<div class="actions"><button type="submit">Показать</button>
<a class="btn secondary" href="/admin/completeness.csv${queryString({ organization_id: filter.organizationId, role: filter.role })}">Выгрузить отчёт (CSV)</a>
<a class="btn secondary" href="/admin/completeness/problems.csv${queryString({ organization_id: filter.organizationId, role: filter.role })}">Выгрузить карточки с проблемами (CSV)</a></div></form>
<section class="card">${reportTable(rows)}</section>`,
    })
  })

  app.get('/admin/completeness/problems', { schema: { ...HIDE, querystring: ProblemsQuery } }, async (request, reply) => {
    const caller = requireCaller(request)
    const q = request.query
    const filter = { organizationId: q.organization_id || undefined, role: q.role || undefined, problem: q.problem || undefined }
    const [page, organizations] = await Promise.all([
      withReport(app.db, report(reply), (db) => problemCardsInScope(db, caller, { ...filter, after: q.after, limit: 100 })),
      scopeOrganizations(app.db, caller),
    ])
    await auditSupportRead(app.db, caller, 'support.problem_cards_viewed', { organizationId: filter.organizationId ?? null, details: { problem: filter.problem ?? null, results: page.items.length } })
    const orgName = new Map(organizations.map((o) => [o.value, o.label]))
    const keep = { organization_id: filter.organizationId, role: filter.role, problem: filter.problem }
    return render(request, reply, {
      title: filter.problem ? PROBLEMS[filter.problem]! : 'Карточки с незаполненными данными',
      section: 'completeness',
      body: () => html`<form method="get" action="/admin/completeness/problems" class="card"><div class="filters">
${select('organization_id', 'Организация', organizations, filter.organizationId)}
${select('role', 'Роль', Object.entries(ROLE_NAMES).map(([value, label]) => ({ value, label })), filter.role)}
${select('problem', 'Что не так', REPORT_PROBLEMS.map((p) => ({ value: p, label: PROBLEMS[p]! })), filter.problem, 'Любая проблема')}</div>
<div class="actions"><button type="submit">Показать</button><a class="btn secondary" href="/admin/completeness/problems.csv${queryString(keep)}">Выгрузить CSV</a>
<a class="btn secondary" href="/admin/completeness${queryString({ organization_id: filter.organizationId, role: filter.role })}">К отчёту</a></div></form>
<section class="card">${page.items.length === 0
        ? html`<p>Таких карточек нет.</p>`
        : html`<div class="table-wrap"><table><thead><tr><th scope="col">ФИО</th><th scope="col">Роль</th><th scope="col">Организация</th><th scope="col">Что исправить</th></tr></thead><tbody>
${page.items.map((c) => html`<tr><td><a href="/admin/users/${encodeURIComponent(c.id)}">${fullName({ lastName: c.last_name, firstName: c.first_name, middleName: c.middle_name })}</a><br><code class="small muted">${c.id}</code></td>
<td>${roleName(c.role)}</td><td>${orgName.get(c.organization_id) ?? c.organization_id}</td><td>${c.problems.map((p) => html`<span class="tag bad">${PROBLEMS[p]}</span> `)}</td></tr>`)}
</tbody></table></div>`}
${page.next_after ? html`<div class="pager"><a class="btn secondary" href="/admin/completeness/problems${queryString({ ...keep, after: page.next_after })}">Следующие 100</a></div>` : ''}</section>`,
    })
  })

  app.get('/admin/completeness.csv', { schema: { ...HIDE, querystring: Type.Object(Filter) } }, async (request, reply) => {
    const caller = requireCaller(request)
    const filter = { organizationId: request.query.organization_id || undefined, role: request.query.role || undefined }
    checkOrganizationFilter(caller, filter.organizationId)
    const rows = await withReport(app.db, report(reply), (db) => completenessInScope(db, caller, filter))
    await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'completeness' } })
    return sendCsv(reply, 'completeness.csv', COMPLETENESS_CSV_HEADER, completenessCsvRows(rows, roleName))
  })

  app.get('/admin/completeness/problems.csv', { schema: { ...HIDE, querystring: Type.Omit(ProblemsQuery, ['after']) } }, async (request, reply) => {
    const caller = requireCaller(request)
    const q = request.query
    const filter = { organizationId: q.organization_id || undefined, role: q.role || undefined, problem: q.problem || undefined }
    checkOrganizationFilter(caller, filter.organizationId)
    // Recorded once the report answers: a report that times out (503) exported nothing.
    const rows = await problemCardsCsvRows(app.db, report(reply), caller, filter, roleName)
    await auditSupportRead(app.db, caller, 'support.export', { organizationId: filter.organizationId ?? null, details: { export: 'problem_cards', problem: filter.problem ?? null } })
    return sendCsv(reply, 'problem-cards.csv', PROBLEM_CARDS_CSV_HEADER, rows)
  })
}
