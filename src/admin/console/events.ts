import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { withTransaction } from '../../db/pool.js'
import { BACKCHANNEL_LOGOUT, LINK_CREATED, LINK_MOVED, LINK_REMOVED } from '../../events/event-types.js'
import { countsByClient, listDeliveries, retryNow, type DeliveryCounts, type DeliveryRow, type OutboxStatus } from '../../events/outbox.js'
import { ApiError } from '../../http/errors.js'
import { writeAudit } from '../../linking/audit.js'
import type { JournalClient } from '../../oidc-provider/clients.js'
import { html, type Html } from '../../web/html.js'
import { actorOf, requireAdmin, requireCaller } from '../caller.js'
import { formAction, HIDE, NoticeQuery, queryString, render, when } from './forms.js'
import { csrfField } from './layout.js'

/**
 * «Доставка событий»: per journal client, what the bridge has told it and what it has not yet —
 * events pending (waiting for their next attempt, or for the journal's poll), delivered, failed
 * (refused by the journal, or given up after 72 hours) — with the journal's last answer, and
 * «Повторить сейчас». For admins: delivery is the installation's business, not a school's, and
 * the rows name journal users of every organisation.
 */
const STATUSES: Record<OutboxStatus, string> = { pending: 'Ожидают', delivered: 'Доставлены', failed: 'Не доставлены' }
const EVENT_NAMES: Record<string, string> = {
  [LINK_CREATED]: 'Связь создана',
  [LINK_REMOVED]: 'Связь удалена',
  [LINK_MOVED]: 'Связь перенесена',
  [BACKCHANNEL_LOGOUT]: 'Выход из журнала (logout token)',
}
const PAGE_SIZE = 200

const ClientParams = Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 128 }) })
const ListQuery = Type.Object({ status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')])), ...NoticeQuery })
const RetryBody = Type.Object({ id: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })), _csrf: Type.Optional(Type.String()) })

function howDelivered(client: JournalClient | undefined): Html {
  if (!client) return html`<span class="tag bad">клиент больше не зарегистрирован</span>`
  const parts: Html[] = []
  if (client.events?.delivery === 'push') parts.push(html`события — на <code>${client.events.endpoint}</code>`)
  if (client.events?.delivery === 'poll') parts.push(html`события журнал забирает сам (<code>POST /api/v1/events</code>)`)
  if (client.backchannelLogout) parts.push(html`выход — на <code>${client.backchannelLogout.uri}</code>`)
  return parts.length ? html`${parts.map((p, i) => html`${i ? html`<br>` : ''}${p}`)}` : html`<span class="muted">событий не получает</span>`
}

const zero: DeliveryCounts = { pending: 0, delivered: 0, failed: 0 }

function attemptCell(row: DeliveryRow): Html {
  if (row.status === 'delivered') return html`${when(row.deliveredAt)}`
  if (row.status === 'failed') return html`${when(row.lastAttemptAt)}`
  if (row.delivery === 'poll') return html`<span class="muted">ждёт, когда журнал заберёт</span>`
  return html`следующая: ${when(row.nextAttemptAt)}`
}

function answerCell(row: DeliveryRow): Html {
  if (!row.lastStatus) return html`—`
  return html`<code>${row.lastStatus}</code>${row.lastError ? html`<br><span class="small">${row.lastError}</span>` : ''}`
}

export const eventConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/admin/events', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => {
    requireAdmin(requireCaller(request))
    const counts = await countsByClient(app.db)
    const registered = app.clients.all().filter((c) => c.events || c.backchannelLogout)
    const ids = [...new Set([...registered.map((c) => c.clientId), ...counts.keys()])].sort()
    return render(request, reply, {
      title: 'Доставка событий',
      section: 'events',
      done: request.query.done,
      error: request.query.error,
      body: () => html`<p>Мост сообщает журналам об изменениях связей с Госуслугами (привязка, удаление, перенос) и о выходе пользователя. Здесь видно, что журнал получил, что ждёт повторной отправки и что он отклонил.</p>
<section class="card">${ids.length
        ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Журнал</th><th scope="col">Куда</th><th scope="col" class="num">Ожидают</th><th scope="col" class="num">Доставлены</th><th scope="col" class="num">Не доставлены</th></tr></thead><tbody>
${ids.map((id) => {
  const client = app.clients.get(id)
  const c = counts.get(id) ?? zero
  const link = (status: OutboxStatus, n: number) => html`<a href="/admin/events/${encodeURIComponent(id)}${queryString({ status })}">${n}</a>`
  return html`<tr><td><a href="/admin/events/${encodeURIComponent(id)}">${client?.name ?? id}</a><br><code class="small muted">${id}</code></td><td class="small">${howDelivered(client)}</td>
<td class="num">${link('pending', c.pending)}</td><td class="num">${link('delivered', c.delivered)}</td><td class="num">${c.failed ? html`<span class="tag bad">${link('failed', c.failed)}</span>` : link('failed', 0)}</td></tr>`
})}</tbody></table></div>`
        : html`<p class="muted">Ни один журнал не подписан на события: в CLIENTS_FILE у клиента нужны <code>events_endpoint</code> (или <code>"events_delivery": "poll"</code>) и <code>backchannel_logout_uri</code>.</p>`}</section>`,
    })
  })

  app.get('/admin/events/:client_id', { schema: { ...HIDE, params: ClientParams, querystring: ListQuery } }, async (request, reply) => {
    requireAdmin(requireCaller(request))
    const clientId = request.params.client_id
    const status = request.query.status ?? 'pending'
    const [counts, rows] = await Promise.all([countsByClient(app.db), listDeliveries(app.db, clientId, status, PAGE_SIZE)])
    const client = app.clients.get(clientId)
    if (!client && !counts.has(clientId)) throw new ApiError(404, 'not_found', 'No such journal client')
    const c = counts.get(clientId) ?? zero
    const base = `/admin/events/${encodeURIComponent(clientId)}`
    const tab = (s: OutboxStatus) => html`<li><a href="${base}${queryString({ status: s })}"${s === status ? html` aria-current="page"` : ''}>${STATUSES[s]} (${c[s]})</a></li>`
    const retryable = (row: DeliveryRow) => row.status === 'failed' || (row.status === 'pending' && row.delivery === 'push')
    return render(request, reply, {
      title: `Доставка событий: ${client?.name ?? clientId}`,
      section: 'events',
      done: request.query.done,
      error: request.query.error,
      body: (csrf) => html`<p class="small">${howDelivered(client)}</p>
<p class="muted small">Журнал отвечает 202 — событие доставлено; 400 — отклонено (больше не отправляется); на другой ответ или молчание мост повторяет через 1 с, 2 с, 4 с … до часа, 72 часа подряд. Доставленные и отклонённые события хранятся ${app.config.eventsRetentionDays} дн.</p>
<nav class="console-nav tabs" aria-label="Состояние доставки"><ul>${(['pending', 'delivered', 'failed'] as const).map(tab)}</ul></nav>
<section class="card">${rows.some(retryable)
        ? html`<form method="post" action="${base}/retry" class="inline-form">${csrfField(csrf)}<button type="submit" class="secondary">Повторить все сейчас</button></form>`
        : ''}
${rows.length
  ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Когда</th><th scope="col">Событие</th><th scope="col">Карточка</th><th scope="col" class="num">Попыток</th><th scope="col">Доставка</th><th scope="col">Ответ журнала</th><th scope="col"></th></tr></thead><tbody>
${rows.map((row) => html`<tr><td>${when(row.createdAt)}</td><td>${EVENT_NAMES[row.eventType] ?? row.eventType}<br><code class="small muted">${row.jti}</code></td>
<td><a href="/admin/users/${encodeURIComponent(row.journalUserId)}">${row.journalUserId}</a></td><td class="num">${row.attempts}</td><td class="small">${attemptCell(row)}</td><td>${answerCell(row)}</td>
<td>${retryable(row) ? html`<form method="post" action="${base}/retry" class="inline-form">${csrfField(csrf)}<input type="hidden" name="id" value="${String(row.id)}"><button type="submit" class="secondary">Повторить сейчас</button></form>` : ''}</td></tr>`)}
</tbody></table></div>${rows.length === PAGE_SIZE ? html`<p class="muted small">Показаны последние ${PAGE_SIZE}.</p>` : ''}`
  : html`<p>Событий нет.</p>`}</section>`,
    })
  })

  app.post('/admin/events/:client_id/retry', { schema: { ...HIDE, params: ClientParams, body: RetryBody }, preHandler: app.csrfProtection }, async (request, reply) => {
    const base = `/admin/events/${encodeURIComponent(request.params.client_id)}`
    return formAction(reply, base, async () => {
      const caller = requireCaller(request)
      requireAdmin(caller)
      const clientId = request.params.client_id
      const id = request.body.id === undefined ? undefined : Number(request.body.id)
      const retried = await withTransaction(app.db, async (tx) => {
        const n = await retryNow(tx, clientId, id)
        await writeAudit(tx, { type: 'support.events_retried', actor: actorOf(caller), details: { client_id: clientId, ...(id !== undefined ? { event_id: id } : {}), retried: n } })
        return n
      })
      if (retried === 0) throw new ApiError(409, 'nothing_to_retry', 'No event of this journal waits for a retry')
      return { done: 'events_retried', to: `${base}?status=pending` }
    })
  })
}
