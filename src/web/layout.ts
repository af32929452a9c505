import { html, type Html } from './html.js'

export interface PageOptions {
  title: string
  body: Html
  /** Where the page belongs; shown under the title bar. */
  service?: string
  /** HTTP status the page is sent with (set by the caller on the reply). */
  narrow?: boolean
}

/**
 * The frame of every page people see: Russian, readable without JavaScript, one stylesheet, large
 * tap targets, visible focus, landmarks for screen readers.
 */
export function page({ title, body, service = 'Вход через Госуслуги', narrow = true }: PageOptions): string {
  return html`<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title === service ? title : `${title} — ${service}`}</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<a class="skip" href="#main">Перейти к содержимому</a>
<header class="top"><div class="wrap"><span class="brand">${service}</span></div></header>
<main id="main" class="wrap${narrow ? ' narrow' : ''}">
${body}
</main>
<footer class="bottom"><div class="wrap">Связь учётных записей электронного журнала и портала гос. услуг</div></footer>
</body>
</html>`.value
}
