import type { FastifyPluginAsync } from 'fastify'
import { html } from './html.js'
import { page } from './layout.js'
import { BRIDGE_COLOUR, serveFavicon } from './favicon.js'

/**
 * The bridge's `/`: someone who opens the address `npm start` prints (or the service's bare
 * origin) learns what this is and where to go, instead of a JSON 404. People never start here —
 * they come from their journal — so the page points to the journal and, for staff and developers,
 * to the console, discovery and health. In development it also names the demo journal and the mock.
 */
export const homeRoutes: FastifyPluginAsync<{ development?: { journalUrl?: string; mockUrl?: string } }> = async (app, opts) => {
  serveFavicon(app, BRIDGE_COLOUR)
  const dev = opts.development
  const body = html`<section class="card">
<h1>Мост ЕСИА: вход в электронный журнал через Госуслуги</h1>
<p>Этот сервис связывает учётные записи электронного журнала с учётными записями портала Госуслуг
и позволяет входить в журнал через Госуслуги. Начинать нужно в своём журнале: в «Персональных
настройках» — «Привязать пользователя портала гос. услуг», на странице входа — «Войти через Госуслуги».</p>
${dev
  ? html`<h2>Для разработки</h2>
<ul class="steps">
${dev.journalUrl ? html`<li><a href="${dev.journalUrl}">Демо-журнал</a> — журнал, подключённый к мосту; начните с него.</li>` : ''}
${dev.mockUrl ? html`<li><a href="${dev.mockUrl}/">Тестовый вход Госуслуг</a> — имитация ЕСИА и список тестовых людей.</li>` : ''}
</ul>`
  : ''}
<h2>Для службы поддержки и администраторов</h2>
<ul class="steps">
<li><a href="/admin">Консоль поддержки</a> — поиск пользователей, связи, неудачные попытки, журнал действий.</li>
<li><a href="/.well-known/openid-configuration">Настройки OpenID Connect</a> (discovery) — для подключения журнала.</li>
<li><a href="/readyz">Состояние сервиса</a> (readyz) и <a href="/healthz">healthz</a>.</li>
</ul>
</section>`
  const rendered = page({ title: 'Мост ЕСИА', service: 'Мост ЕСИА', body, narrow: true })
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(rendered))
}
