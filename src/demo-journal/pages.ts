import { html, type Html } from '../web/html.js'

/** The demo journal's own look: a plain school-journal frame, deliberately unlike the bridge's pages. */
export interface JournalUserView {
  id: string
  fullName: string
  lastName: string
  firstName: string
  middleName: string | null
  roleName: string
  organizationName: string
  /** The session's CSRF token, put into every form that changes something. */
  csrf: string
}

const csrfField = (user: JournalUserView) => html`<input type="hidden" name="_csrf" value="${user.csrf}">`

export const ROLE_NAMES: Record<string, string> = { parent: 'Родитель', student: 'Обучающийся', staff: 'Сотрудник', admin: 'Администратор' }

export function journalPage(title: string, user: JournalUserView | undefined, body: Html): string {
  return html`<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — Демо-журнал</title>
<link rel="stylesheet" href="/static/journal.css">
</head>
<body>
<header class="bar">
  <a class="logo" href="/">Демо-журнал <small>электронный журнал и дневник</small></a>
  ${user
    ? html`<nav aria-label="Учётная запись"><span class="who">Пользователь: <a href="/settings">${user.fullName}</a> · ${user.organizationName}</span>
      <form method="post" action="/logout" class="inline">${csrfField(user)}<button type="submit" class="link">Выйти</button></form></nav>`
    : ''}
</header>
<main>
${body}
</main>
</body>
</html>`.value
}

export function loginPage(opts: { error?: string; accounts: { login: string; label: string }[] }): Html {
  return html`<section class="panel narrow">
  <h1>Вход в Демо-журнал</h1>
  ${opts.error ? html`<p class="alert" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="/login">
    <label for="login">Логин</label>
    <input id="login" name="login" type="text" autocomplete="username" required>
    <label for="password">Пароль</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <p><button type="submit">Войти</button></p>
  </form>
  <div class="or"><span>или</span></div>
  <form method="post" action="/auth/gosuslugi">
    <button type="submit" class="gosuslugi">Войти через Госуслуги</button>
  </form>
  <details class="demo">
    <summary>Демо-учётные записи (пароль у всех: demo)</summary>
    <ul>${opts.accounts.map((a) => html`<li><code>${a.login}</code> — ${a.label}</li>`)}</ul>
  </details>
</section>`
}

export function homePage(user: JournalUserView, notice?: string): Html {
  return html`<section class="panel">
  ${notice ? html`<p class="ok" role="status">${notice}</p>` : ''}
  <h1>Здравствуйте, ${user.firstName}${user.middleName ? html` ${user.middleName}` : ''}!</h1>
  <table class="facts">
    <tr><th scope="row">Пользователь</th><td>${user.fullName}</td></tr>
    <tr><th scope="row">Организация</th><td>${user.organizationName}</td></tr>
    <tr><th scope="row">Роль в системе</th><td>${user.roleName}</td></tr>
  </table>
  <p><a href="/settings">Персональные настройки</a></p>
</section>`
}

/** The last link event the bridge sent about a user (its `by` for a removal). */
export type LinkNote = { kind: 'created' | 'moved_away' | 'moved_here'; at: string } | { kind: 'removed'; by: string; at: string }

const REMOVED_BY: Record<string, string> = {
  person: 'удалена по вашей просьбе',
  support: 'удалена службой поддержки',
  journal: 'удалена журналом',
  replaced: 'заменена другой учётной записью Госуслуг',
  directory: 'удалена вместе с карточкой',
}

function noteText(note: LinkNote): string {
  const when = new Date(note.at).toLocaleString('ru-RU', { timeZone: 'Europe/Moscow', dateStyle: 'short', timeStyle: 'short' })
  switch (note.kind) {
    case 'created':
      return `Связь с Госуслугами создана ${when}.`
    case 'removed':
      return `Связь с Госуслугами ${REMOVED_BY[note.by] ?? 'удалена'} ${when}.`
    case 'moved_away':
      return `Служба поддержки перенесла связь с Госуслугами на другую карточку ${when}.`
    case 'moved_here':
      return `Служба поддержки перенесла связь с Госуслугами на эту карточку ${when}.`
  }
}

export function settingsPage(user: JournalUserView, link: { linked: boolean; linkedAt: string | null } | undefined, message?: { kind: 'ok' | 'alert' | 'info'; text: string }, note?: LinkNote): Html {
  const linkedOn = link?.linkedAt ? new Date(link.linkedAt).toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' }) : undefined
  return html`<section class="panel">
  <h1>Персональные настройки</h1>
  ${message ? html`<p class="${message.kind}" role="status">${message.text}</p>` : ''}
  <table class="facts">
    <tr><th scope="row">Фамилия</th><td>${user.lastName}</td></tr>
    <tr><th scope="row">Имя</th><td>${user.firstName}</td></tr>
    <tr><th scope="row">Отчество</th><td>${user.middleName ?? '—'}</td></tr>
    <tr><th scope="row">Роль в системе</th><td>${user.roleName}</td></tr>
    <tr><th scope="row">Портал гос. услуг</th><td>${link === undefined ? 'сведения недоступны' : link.linked ? 'привязан' : 'не привязан'}</td></tr>
  </table>
  ${note ? html`<p class="note" role="note">${noteText(note)}</p>` : ''}
  ${link?.linked
    ? html`<h2>Госуслуги</h2>
  <p class="ok">Учётная запись Госуслуг привязана${linkedOn ? ` (${linkedOn})` : ''}. Вы можете входить в журнал через Госуслуги.</p>
  <form method="post" action="/settings/gosuslugi/unlink">${csrfField(user)}
    <button type="submit">Отвязать учётную запись Госуслуг</button>
  </form>
  <p class="hint">После отвязки войти через Госуслуги будет нельзя, пока вы не привяжете учётную запись снова.</p>
  <form method="post" action="/settings/gosuslugi">${csrfField(user)}
    <button type="submit" class="link">Привязать другую учётную запись Госуслуг</button>
  </form>`
    : html`<p class="hint">Перед привязкой проверьте правильность фамилии, имени и отчества: они должны совпадать с данными на портале Госуслуг.</p>
  <form method="post" action="/settings/gosuslugi">${csrfField(user)}
    <button type="submit">Привязать пользователя портала гос. услуг</button>
  </form>`}
</section>`
}

export function messagePage(title: string, text: string, back: { href: string; label: string }, neutral = false): Html {
  return html`<section class="panel narrow">
  <h1>${title}</h1>
  <p class="${neutral ? 'info' : 'alert'}" role="status">${text}</p>
  <p><a class="button" href="${back.href}">${back.label}</a></p>
</section>`
}
