import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { withTransaction } from '../../db/pool.js'
import { html, type Html } from '../../web/html.js'
import { createAccount, findAccountById, listAccounts, updateAccount, type SupportRole } from '../accounts.js'
import { accountApiError } from '../api/accounts.js'
import { actorOf, requireAdmin, requireCaller } from '../caller.js'
import { createApiToken, listApiTokens, revokeApiToken } from '../tokens.js'
import { formAction, HIDE, NoticeQuery, render, scopeOrganizations, when } from './forms.js'
import { csrfField } from './layout.js'
import { SUPPORT_ROLE_NAMES } from './texts.js'
import { ApiError } from '../../http/errors.js'

/**
 * API tokens of the signed-in account, and (for admins) support accounts. A new token or generated
 * password is shown on the page that answers the form, once, never stored in clear, never cached.
 */
const CsrfOnly = Type.Object({ _csrf: Type.Optional(Type.String()) })
const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

function shownOnce(label: string, secret: string, hint: string): Html {
  return html`<div class="card" role="status"><h2>${label}</h2><p class="secret">${secret}</p><div class="notice">${hint}</div></div>`
}

export const accountConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  async function tokensPage(request: Parameters<typeof render>[0], reply: Parameters<typeof render>[1], extra: Html = html``, done?: string, error?: string) {
    const caller = requireCaller(request)
    const tokens = caller.via === 'bootstrap' ? [] : await listApiTokens(app.db, caller.id)
    return render(request, reply, {
      title: 'API-токены',
      section: 'tokens',
      done,
      error,
      body: (csrf) => html`${extra}
<section class="card"><p>Токен даёт программе те же права, что и вашей учётной записи. Передавайте его в заголовке <code>Authorization: Bearer …</code> к <code>/api/v1/admin/…</code>.</p>
${tokens.length ? html`<table><thead><tr><th scope="col">Название</th><th scope="col">Создан</th><th scope="col">Последнее использование</th><th scope="col"></th></tr></thead><tbody>
${tokens.map((t) => html`<tr><td>${t.name}</td><td>${when(t.createdAt)}</td><td>${when(t.lastUsedAt)}</td><td><form method="post" action="/admin/tokens/${t.id}/revoke" class="inline-form">${csrfField(csrf)}<button type="submit" class="secondary">Отозвать</button></form></td></tr>`)}
</tbody></table>` : html`<p class="muted">Токенов нет.</p>`}
<form method="post" action="/admin/tokens">${csrfField(csrf)}<label for="token-name">Название нового токена (для чего он)</label>
<input type="text" id="token-name" name="name" required maxlength="100" placeholder="Выгрузка журнала действий"><div class="actions"><button type="submit">Создать токен</button></div></form></section>`,
    })
  }

  app.get('/admin/tokens', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => tokensPage(request, reply, html``, request.query.done, request.query.error))

  app.post('/admin/tokens', { schema: { ...HIDE, body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection }, async (request, reply) => {
    const caller = requireCaller(request)
    const { secret } = await withTransaction(app.db, (tx) => createApiToken(tx, caller.id, request.body.name, actorOf(caller)))
    return tokensPage(request, reply, shownOnce('Новый токен', secret, 'Скопируйте токен сейчас: он показывается один раз и нигде не хранится в открытом виде.'))
  })

  app.post('/admin/tokens/:id/revoke', { schema: { ...HIDE, params: Id, body: CsrfOnly }, preHandler: app.csrfProtection }, async (request, reply) =>
    formAction(reply, '/admin/tokens', async () => {
      const caller = requireCaller(request)
      if (!(await withTransaction(app.db, (tx) => revokeApiToken(tx, caller.id, request.params.id, actorOf(caller))))) throw new ApiError(409, 'not_found', 'No such token')
      return 'token_revoked'
    }),
  )

  async function accountsPage(request: Parameters<typeof render>[0], reply: Parameters<typeof render>[1], extra: Html = html``, done?: string, error?: string) {
    const caller = requireCaller(request)
    requireAdmin(caller)
    const [accounts, organizations] = await Promise.all([listAccounts(app.db), scopeOrganizations(app.db, caller)])
    const orgName = new Map(organizations.map((o) => [o.value, o.label]))
    return render(request, reply, {
      title: 'Учётные записи поддержки',
      section: 'accounts',
      done,
      error,
      body: (csrf) => html`${extra}<section class="card"><div class="table-wrap"><table><thead><tr><th scope="col">Логин</th><th scope="col">Роль</th><th scope="col">Организации</th><th scope="col">Последний вход</th><th scope="col"></th></tr></thead><tbody>
${accounts.map((a) => html`<tr><td>${a.login}${a.disabled ? html` <span class="tag bad">отключена</span>` : ''}</td><td>${SUPPORT_ROLE_NAMES[a.role] ?? a.role}</td>
<td>${a.organizationIds ? a.organizationIds.map((o) => orgName.get(o) ?? o).join('; ') : 'все'}</td><td>${when(a.lastLoginAt)}</td>
<td>${a.id === caller.id ? '' : html`<form method="post" action="/admin/accounts/${a.id}/${a.disabled ? 'enable' : 'disable'}" class="inline-form">${csrfField(csrf)}<button type="submit" class="secondary">${a.disabled ? 'Включить' : 'Отключить'}</button></form>`}</td></tr>`)}
</tbody></table></div></section>
<form method="post" action="/admin/accounts" class="card"><h2>Новая учётная запись</h2>${csrfField(csrf)}
<label for="acc-login">Логин</label><input type="text" id="acc-login" name="login" required maxlength="64" autocomplete="off">
<fieldset><legend>Роль</legend>${Object.entries(SUPPORT_ROLE_NAMES).map(([value, label]) => html`<label class="choice"><input type="radio" name="role" value="${value}"${value === 'support' ? html` checked` : ''}> ${label}</label>`)}</fieldset>
<label for="acc-orgs">Организации (для поддержки и аудитора; несколько — с Ctrl)</label>
<select id="acc-orgs" name="organization_ids" multiple size="6">${organizations.map((o) => html`<option value="${o.value}">${o.label}</option>`)}</select>
<p class="muted small">Пароль будет создан автоматически и показан один раз.</p>
<div class="actions"><button type="submit">Создать</button></div></form>`,
    })
  }

  app.get('/admin/accounts', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => accountsPage(request, reply, html``, request.query.done, request.query.error))

  app.post(
    '/admin/accounts',
    {
      schema: {
        ...HIDE,
        body: Type.Object({
          login: Type.String({ maxLength: 64 }),
          role: Type.Union([Type.Literal('admin'), Type.Literal('support'), Type.Literal('auditor')]),
          organization_ids: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 1000 })),
          _csrf: Type.Optional(Type.String()),
        }),
      },
      preHandler: app.csrfProtection,
    },
    async (request, reply) => {
      const caller = requireCaller(request)
      requireAdmin(caller)
      const b = request.body
      try {
        const { account, generatedPassword } = await withTransaction(app.db, (tx) =>
          createAccount(tx, { login: b.login, role: b.role as SupportRole, organizationIds: b.role === 'admin' ? null : (b.organization_ids ?? null), actor: actorOf(caller) }),
        ).catch(accountApiError)
        return accountsPage(request, reply, shownOnce(`Пароль для ${account.login}`, generatedPassword ?? '', 'Передайте пароль сотруднику надёжным способом: он показывается один раз. Сотрудник может сменить его после входа.'))
      } catch (err) {
        if (err instanceof ApiError && err.statusCode < 500 && err.statusCode !== 403) return reply.redirect(`/admin/accounts?error=${err.code}`, 303)
        throw err
      }
    },
  )

  for (const action of ['enable', 'disable'] as const) {
    app.post(`/admin/accounts/:id/${action}`, { schema: { ...HIDE, params: Id, body: CsrfOnly }, preHandler: app.csrfProtection }, async (request, reply) =>
      formAction(reply, '/admin/accounts', async () => {
        const caller = requireCaller(request)
        requireAdmin(caller)
        if (request.params.id === caller.id) throw new ApiError(400, 'self_disable', 'You cannot disable your own account')
        if (!(await findAccountById(app.db, request.params.id))) throw new ApiError(409, 'not_found', 'No such account')
        await withTransaction(app.db, (tx) => updateAccount(tx, request.params.id, { disabled: action === 'disable' }, actorOf(caller)))
        return 'account_updated'
      }),
    )
  }
}
