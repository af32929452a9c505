import { html, type Html } from '../../web/html.js'
import { page } from '../../web/layout.js'
import type { SupportCaller } from '../caller.js'
import { errorText, NOTICES, SUPPORT_ROLE_NAMES } from './texts.js'

/**
 * The console frame: the site's page() with the console's navigation and its confirmation or error
 * notice. Every page works without JavaScript; forms carry the CSRF token passed in.
 */
export type Section = 'home' | 'users' | 'attempts' | 'audit' | 'completeness' | 'guardians' | 'import' | 'tokens' | 'accounts' | 'password' | 'events' | 'destruction'

const SECTIONS: { id: Section; href: string; label: string; adminOnly?: boolean }[] = [
  { id: 'home', href: '/admin', label: 'Главная' },
  { id: 'users', href: '/admin/users', label: 'Пользователи' },
  { id: 'attempts', href: '/admin/failed-attempts', label: 'Неудачные попытки' },
  { id: 'completeness', href: '/admin/completeness', label: 'Контроль заполнения' },
  { id: 'guardians', href: '/admin/guardians', label: 'Родители и дети' },
  { id: 'import', href: '/admin/import', label: 'Пакетное обновление' },
  { id: 'audit', href: '/admin/audit', label: 'Журнал действий' },
  { id: 'tokens', href: '/admin/tokens', label: 'API-токены' },
  { id: 'accounts', href: '/admin/accounts', label: 'Учётные записи', adminOnly: true },
  { id: 'events', href: '/admin/events', label: 'Доставка событий', adminOnly: true },
  { id: 'destruction', href: '/admin/destruction-records', label: 'Уничтожение данных', adminOnly: true },
]

export const SERVICE = 'Консоль поддержки'
const STYLESHEET = html`<link rel="stylesheet" href="/admin/console.css">`

export interface ConsolePageOptions {
  title: string
  caller: SupportCaller
  csrf: string
  section: Section
  body: Html
  /** A code of NOTICES (after a redirect) or of ERRORS. */
  done?: string | undefined
  error?: string | undefined
}

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`

export function notice(done: string | undefined, error: string | undefined): Html {
  return html`${error ? html`<div class="notice error" role="alert">${errorText(error)}</div>` : ''}${done && NOTICES[done] ? html`<div class="notice ok" role="status">${NOTICES[done]}</div>` : ''}`
}

function nav(caller: SupportCaller, csrf: string, active: Section): Html {
  const items = SECTIONS.filter((s) => !s.adminOnly || caller.role === 'admin').map(
    (s) => html`<li><a href="${s.href}"${s.id === active ? html` aria-current="page"` : ''}>${s.label}</a></li>`,
  )
  return html`<nav class="console-nav" aria-label="Разделы консоли"><ul>${items}
<li class="who"><span><a href="/admin/password">${caller.login}</a> · ${SUPPORT_ROLE_NAMES[caller.role] ?? caller.role}</span>
<form method="post" action="/admin/logout">${csrfField(csrf)}<button type="submit" class="secondary">Выйти</button></form></li></ul></nav>`
}

export function consolePage(o: ConsolePageOptions): string {
  return page({
    title: o.title,
    service: SERVICE,
    narrow: false,
    body: html`${STYLESHEET}${nav(o.caller, o.csrf, o.section)}<h1>${o.title}</h1>${notice(o.done, o.error)}${o.body}`,
  })
}

/** Pages shown before login (the login form itself). */
export function publicConsolePage(title: string, body: Html): string {
  return page({ title, service: SERVICE, body: html`${STYLESHEET}<h1>${title}</h1>${body}` })
}
