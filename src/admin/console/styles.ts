/**
 * What the console adds to /static/style.css: navigation, dense tables, filter rows and the
 * side-by-side comparison. Kept as a string so it ships with the compiled code (served at
 * /admin/console.css; the CSP allows only same-origin stylesheets, no inline styles).
 */
export const CONSOLE_CSS = `
.console-nav { border-bottom: 1px solid var(--line); margin: -16px 0 24px; }
.console-nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0; padding: 10px 0; align-items: center; }
.console-nav a { color: var(--ink); text-decoration: none; padding: 6px 0; display: inline-block; border-bottom: 3px solid transparent; }
.console-nav a[aria-current=page] { border-color: var(--blue); font-weight: 600; }
.console-nav .who { margin-left: auto; color: var(--muted); font-size: .9rem; display: flex; gap: 12px; align-items: center; }
.console-nav form { margin: 0; }
.console-nav.tabs { margin: 0 0 16px; }
.console-nav button { min-height: 0; padding: 4px 12px; font-size: .9rem; }
.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 0 16px; align-items: end; }
.filters .actions { margin-top: 12px; }
.filters label { margin-top: 8px; }
.kv { display: grid; grid-template-columns: fit-content(40%) minmax(0, 1fr); gap: 6px 20px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: break-word; }
table.compare td, table.compare th { width: 25%; }
table.compare th[scope=row] { color: var(--ink); }
tr.differs th, tr.differs td { background: #fdf0f1; font-weight: 600; }
tr.differs th { border-left: 4px solid var(--red); }
tr.missing_in_journal th, tr.missing_in_journal td, tr.missing_in_esia th, tr.missing_in_esia td { background: #fff8ec; }
tr.missing_in_journal th, tr.missing_in_esia th { border-left: 4px solid var(--warn); }
ul.plain { margin: 4px 0 0; padding-left: 1.1em; }
.card > h2:first-child, .card > form > h2:first-child { margin-top: 0; }
.kv + p, .kv + h3 { margin-top: 16px; }
details { margin-top: 20px; }
summary { cursor: pointer; font-weight: 600; color: var(--blue); }
fieldset { border: 0; padding: 0; margin: 12px 0; }
legend { font-weight: 600; margin-bottom: 4px; }
a.card { display: block; color: var(--ink); text-decoration: none; }
a.card:hover { border-color: var(--blue); }
textarea { font: inherit; padding: 10px 12px; border: 1px solid #b8c2cc; border-radius: 8px; width: 100%; max-width: 640px; min-height: 80px; }
.small { font-size: .9rem; }
.table-wrap { overflow-x: auto; }
.secret { font-family: ui-monospace, monospace; font-size: 1.05rem; background: #f1f4f8; padding: 12px 16px; border-radius: 8px; word-break: break-all; user-select: all; }
.pager { display: flex; gap: 12px; margin-top: 16px; }
.stat { font-size: 2rem; font-weight: 700; display: block; }
.grid4 { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 20px; margin-bottom: 20px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 20px; }
td.num, th.num { text-align: right; }
table.counts { width: auto; min-width: min(360px, 100%); }
table.counts th { color: var(--ink); font-size: 1rem; font-weight: 400; }
table.counts td { font-weight: 600; text-align: right; }
.inline-form { display: inline; }
.choice-line { display: flex; gap: 10px; align-items: flex-start; margin-top: 16px; }
.choice-line input { width: 20px; height: 20px; margin-top: 3px; flex: none; }
.choice-line label { margin: 0; font-weight: 400; }
ul.relations { padding-left: 20px; }
ul.relations li { margin: 0 0 10px; }
/* Reflow (WCAG 1.4.10): a card narrowed by a phone, by zoom or by its neighbour lists its facts in one
   column. The card is the container, so its width decides, not the window's. */
.card { container-type: inline-size; }
@container (max-width: 380px) { .kv { grid-template-columns: minmax(0, 1fr); gap: 0; } .kv dd { margin-bottom: 8px; } }
/* Paper (or «Сохранить как PDF»): «Сведения об обработке персональных данных» goes into a reply to
   the person. Only the content prints — no site header, navigation, forms or hints — in black on
   white, tables in full width with ruled cells and headings repeated on every page. */
@media print {
  .skip, header.top, footer.bottom, .console-nav, .no-print, form, .notice { display: none !important; }
  body { background: #fff; color: #000; font-size: 10.5pt; line-height: 1.35; }
  main.wrap { max-width: none; padding: 0; }
  h1 { font-size: 15pt; }
  h2 { font-size: 12.5pt; break-after: avoid; }
  .card { border: 0; border-radius: 0; padding: 0; margin: 0 0 14pt; container-type: normal; }
  .kv { grid-template-columns: 38% 62%; gap: 2pt 10pt; }
  .kv dt, .muted { color: #333; }
  .table-wrap { overflow: visible; }
  table { width: 100%; font-size: 9pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  th, td { border: 1px solid #777; padding: 3pt 4pt; color: #000; }
  a { color: #000; text-decoration: none; }
  code { font-size: 9pt; }
}
`
