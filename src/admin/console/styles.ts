/**
 * What the console adds to /static/style.css: navigation, dense tables, filter rows and the
 * side-by-side comparison. Kept as a string so it ships with the compiled code (served at
 * /admin/console.css; the CSP allows only same-origin stylesheets, no inline styles).
 */
export const CONSOLE_CSS = `
.console-nav { background: #fff; border-bottom: 1px solid var(--line); margin: -32px -20px 24px; padding: 0 20px; }
.console-nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0; padding: 10px 0; align-items: center; }
.console-nav a { color: var(--ink); text-decoration: none; padding: 6px 0; display: inline-block; border-bottom: 3px solid transparent; }
.console-nav a[aria-current=page] { border-color: var(--blue); font-weight: 600; }
.console-nav .who { margin-left: auto; color: var(--muted); font-size: .9rem; display: flex; gap: 12px; align-items: center; }
.console-nav form { margin: 0; }
.console-nav button { min-height: 0; padding: 4px 12px; font-size: .9rem; }
.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 0 16px; align-items: end; }
.filters .actions { margin-top: 12px; }
.filters label { margin-top: 8px; }
.kv { display: grid; grid-template-columns: minmax(160px, max-content) 1fr; gap: 6px 20px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; }
table.compare td, table.compare th { width: 25%; }
tr.differs td { background: #fdf0f1; }
tr.differs td:first-child { border-left: 4px solid var(--red); font-weight: 600; }
tr.missing_in_journal td, tr.missing_in_esia td { background: #fff8ec; }
textarea { font: inherit; padding: 10px 12px; border: 1px solid #b8c2cc; border-radius: 8px; width: 100%; max-width: 640px; min-height: 80px; }
.small { font-size: .9rem; }
.table-wrap { overflow-x: auto; }
.secret { font-family: ui-monospace, monospace; font-size: 1.05rem; background: #f1f4f8; padding: 12px 16px; border-radius: 8px; word-break: break-all; user-select: all; }
.pager { display: flex; gap: 12px; margin-top: 16px; }
.stat { font-size: 2rem; font-weight: 700; display: block; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 20px; }
td.num, th.num { text-align: right; }
.inline-form { display: inline; }
`
