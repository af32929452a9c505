import { html, raw, type Html } from '../web/html.js'
import type { Persona } from './personas.js'

/**
 * Pages of the mock: a Госуслуги-like login in its own modest look (no copy of their branding),
 * in Russian, usable with the keyboard alone (native radios and buttons, a visible focus ring,
 * one form). A banner says on every page that this is a test stand.
 */
export function frame(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} — тестовый вход Госуслуг</title>
<link rel="stylesheet" href="/static/mock-esia.css">
</head>
<body>
<header class="g-top"><div class="g-wrap"><span class="g-logo">Госуслуги</span><span class="g-stand">Тестовый стенд — не настоящий портал</span></div></header>
<main id="main" class="g-wrap">
${body}
</main>
<footer class="g-bottom"><div class="g-wrap">Имитация ЕСИА для разработки и проверки. Данные людей вымышлены.</div></footer>
</body>
</html>`.value
}

/** What each scope means, in the words of ЕСИА's consent page. */
const SCOPE_NAMES: Record<string, string> = {
  fullname: 'Фамилия, имя и отчество',
  birthdate: 'Дата рождения',
  gender: 'Пол',
  snils: 'СНИЛС',
  inn: 'ИНН',
  id_doc: 'Данные документа, удостоверяющего личность',
  birthplace: 'Место рождения',
  birth_cert_doc: 'Данные свидетельства о рождении',
  email: 'Адрес электронной почты',
  mobile: 'Номер мобильного телефона',
  contacts: 'Контактные данные',
  addresses: 'Адреса',
  usr_org: 'Организации, в которых вы работаете',
  kid_fullname: 'ФИО детей',
  kid_birthdate: 'Даты рождения детей',
  kid_snils: 'СНИЛС детей',
  kid_gender: 'Пол детей',
  kid_birth_cert_doc: 'Свидетельства о рождении детей',
  profile: 'Фамилия, имя, отчество и дата рождения',
}

const LEVEL_GROUPS: { level: Persona['level']; legend: string; tag: string }[] = [
  { level: 'PR', legend: 'Подтверждённые учётные записи', tag: 'Подтверждённая' },
  { level: 'P', legend: 'Стандартные и упрощённые учётные записи', tag: 'Не подтверждена' },
  { level: 'KD', legend: 'Детские учётные записи', tag: 'Детская' },
]

export interface LoginPageOptions {
  tx: string
  clientName: string
  scopes: string[]
  /** The same array on every call (the state's list): its rendering is kept. */
  personas: readonly Persona[]
  /** The persona of the last login in this browser, preselected. */
  remembered: string | undefined
  problem?: string
}

/** The persona choices do not change while the mock runs: rendered once per list. */
const choicesCache = new WeakMap<readonly Persona[], string>()

function personaChoices(personas: readonly Persona[]): string {
  let choices = choicesCache.get(personas)
  if (choices === undefined) {
    const groups = LEVEL_GROUPS.map((g) => ({ ...g, personas: personas.filter((p) => p.level === g.level) })).filter((g) => g.personas.length > 0)
    choices = html`${groups.map((g) => html`<fieldset class="g-group">
<legend>${g.legend}</legend>
${g.personas.map((p) => html`<label class="g-persona">
<input type="radio" name="persona" value="${p.id}" required>
<span><strong>${p.label}</strong> <span class="g-tag">${g.tag}</span><span class="g-desc">${p.description}</span></span>
</label>`)}
</fieldset>`)}`.value
    choicesCache.set(personas, choices)
  }
  return choices
}

export function loginPage(opts: LoginPageOptions): string {
  const requested = opts.scopes.map((s) => SCOPE_NAMES[s]).filter((s): s is string => Boolean(s))
  let choices = personaChoices(opts.personas)
  const remembered = opts.personas.find((p) => p.id === opts.remembered)
  if (remembered) choices = choices.replace(html`value="${remembered.id}" required>`.value, html`value="${remembered.id}" required checked>`.value)
  return frame('Вход', html`<div class="g-card">
<h1>Вход</h1>
<p class="g-muted">для портала Госуслуг</p>
${opts.problem ? html`<p class="g-alert" role="alert">${opts.problem}</p>` : ''}
<section class="g-request" aria-labelledby="request-title">
<h2 id="request-title">Система «${opts.clientName}» запрашивает доступ к вашим данным</h2>
${requested.length > 0 ? html`<ul>${requested.map((r) => html`<li>${r}</li>`)}</ul>` : html`<p>Идентификатор учётной записи</p>`}
</section>
<form method="post" action="/login">
<input type="hidden" name="tx" value="${opts.tx}">
<p>Выберите, под чьей учётной записью войти:</p>
${raw(choices)}
<div class="g-actions">
<button type="submit" name="action" value="login">Войти и предоставить доступ</button>
<button type="submit" name="action" value="decline" class="g-secondary" formnovalidate>Отказать</button>
</div>
</form>
</div>`)
}

export function errorPage(title: string, code: string, description: string): string {
  return frame(title, html`<div class="g-card">
<h1>${title}</h1>
<p class="g-alert" role="alert"><span class="g-code">${code}</span> ${description}</p>
<p>Вернитесь в систему, с которой пришли, и начните вход заново. Если ошибка повторится, сообщите её код разработчикам этой системы.</p>
</div>`)
}

export function loggedOutPage(): string {
  return frame('Выход', html`<div class="g-card">
<h1>Вы вышли из учётной записи</h1>
<p>Можно закрыть эту вкладку.</p>
</div>`)
}

export const MOCK_CSS = `:root{--g-blue:#0b4aa2;--g-ink:#1c2433;--g-muted:#5c6778;--g-line:#dfe4ec;--g-bg:#eef2f7;--g-red:#c4212f}
*{box-sizing:border-box}
body{margin:0;font-family:"Segoe UI",Roboto,Arial,sans-serif;color:var(--g-ink);background:var(--g-bg);line-height:1.5}
.g-wrap{max-width:720px;margin:0 auto;padding:0 20px}
.g-top{background:#fff;border-bottom:1px solid var(--g-line)}
.g-top .g-wrap{display:flex;align-items:center;gap:16px;min-height:60px;flex-wrap:wrap}
.g-logo{font-weight:700;font-size:1.35rem;color:var(--g-blue);letter-spacing:.01em}
.g-stand{font-size:.85rem;color:var(--g-red);border:1px solid var(--g-red);border-radius:999px;padding:2px 10px}
main{padding:32px 20px 48px}
.g-card{background:#fff;border-radius:16px;padding:32px;box-shadow:0 2px 12px rgba(17,37,72,.08)}
h1{font-size:1.75rem;margin:0}
h2{font-size:1.05rem;margin:0 0 8px}
.g-muted{color:var(--g-muted);margin:0 0 20px}
.g-request{background:#f5f8fc;border-radius:12px;padding:16px 20px;margin:0 0 20px}
.g-request ul{margin:0;padding-left:20px}
.g-group{border:0;padding:0;margin:0 0 16px}
.g-group legend{font-weight:600;margin-bottom:8px}
.g-persona{display:flex;gap:12px;align-items:flex-start;border:1px solid var(--g-line);border-radius:12px;padding:12px 16px;margin-bottom:8px;cursor:pointer;background:#fff}
.g-persona:hover,.g-persona:focus-within{border-color:var(--g-blue)}
.g-persona input{margin-top:5px;width:20px;height:20px;flex:none}
.g-desc{display:block;color:var(--g-muted);font-size:.92rem}
.g-tag{display:inline-block;font-size:.78rem;background:#e8eef8;color:var(--g-blue);border-radius:999px;padding:1px 8px;margin-left:4px;vertical-align:middle}
.g-actions{display:flex;flex-wrap:wrap;gap:12px;margin-top:24px}
button{font:inherit;font-weight:600;padding:12px 24px;border-radius:10px;border:2px solid var(--g-blue);background:var(--g-blue);color:#fff;cursor:pointer;min-height:48px}
button.g-secondary{background:#fff;color:var(--g-blue)}
:focus-visible{outline:3px solid var(--g-ink);outline-offset:2px;box-shadow:0 0 0 2px #fff}
.g-alert{border-left:4px solid var(--g-red);background:#fdf1f2;padding:12px 16px;border-radius:6px}
.g-code{font-family:ui-monospace,monospace;font-weight:600}
.g-bottom{color:var(--g-muted);font-size:.85rem;padding:0 0 32px}
.g-list{list-style:none;padding:0;margin:0 0 16px}
.g-list li{border:1px solid var(--g-line);border-radius:12px;padding:12px 16px;margin-bottom:8px;overflow-wrap:anywhere}
a{color:var(--g-blue)}
@media (max-width:600px){.g-card{padding:20px}.g-actions{flex-direction:column}button{width:100%}}
`
