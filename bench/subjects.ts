import { BOOTSTRAP_CALLER } from '../src/admin/caller.js'
import type { Config } from '../src/config.js'
import { pseudonymiseExpiredAudit } from '../src/subjects/audit-retention.js'
import { eraseSubject } from '../src/subjects/erase.js'
import { pseudonymKey } from '../src/subjects/pseudonym.js'
import { subjectReport } from '../src/subjects/requests.js'
import type { BenchModule } from './lib/context.js'
import { measure } from './lib/measure.js'

/**
 * A person's requests on a region-sized database (docs/personal-data.md): the report and the
 * erasure of one person among many, who must not cost a read of the whole audit trail, and one
 * run of the audit retention over rows past AUDIT_RETENTION_DAYS.
 */
const SNILS_KEY = 'bench-snils-hmac-key-0123456789abcdef0123456789'

const bench: BenchModule = {
  description: 'report and erasure of one person, and one audit retention run — options: --people=N (200000), --audit=N (2000000 audit rows over four years)',
  async run(ctx) {
    const people = ctx.option('people', 200_000)
    const auditRows = ctx.option('audit', 2_000_000)
    const config = { secrets: { snilsHmacKey: SNILS_KEY }, failedAttemptRetentionDays: 30, auditRetentionDays: 1095, eventsRetentionDays: 7 } as Config

    const seeded = await measure(async () => {
      await ctx.pool.query(`INSERT INTO organizations (id, name, kind) VALUES ('org-0', 'Школа', 'school')`)
      await ctx.pool.query(
        `INSERT INTO journal_users (id, organization_id, role, last_name, first_name, norm_last_name, norm_first_name)
         SELECT 'u' || g, 'org-0', CASE WHEN g % 2 = 0 THEN 'parent' ELSE 'student' END, 'Фамилия' || g, 'Имя', 'фамилия' || g, 'имя' FROM generate_series(1, $1) g`,
        [people],
      )
      await ctx.pool.query(`INSERT INTO journal_user_relations (parent_id, child_id) SELECT 'u' || g, 'u' || (g + 1) FROM generate_series(2, $1 - 1, 2) g`, [people])
      await ctx.pool.query(
        `INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method)
         SELECT id, 's' || substr(id, 2), organization_id, role, 'link' FROM journal_users`,
      )
      await ctx.pool.query(
        `INSERT INTO guardian_checks (parent_id, child_id, upstream_subject, state)
         SELECT r.parent_id, r.child_id, 's' || substr(r.parent_id, 2), 'confirmed' FROM journal_user_relations r`,
      )
      await ctx.pool.query(
        `INSERT INTO failed_attempts (at, flow, journal_user_id, organization_id, upstream_subject, reasons, person_last_name, person_first_name)
         SELECT now() - make_interval(mins => g), 'link', 'u' || (g % $1 + 1), 'org-0', 's' || (g % $1 + 1), '{mismatch:birth_date}', 'Фамилия', 'Имя'
         FROM generate_series(1, $2) g`,
        [people, Math.round(people / 4)],
      )
      await ctx.pool.query(
        `INSERT INTO audit_events (at, type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, details)
         SELECT now() - make_interval(secs => (g::float8 / $2) * 4 * 365 * 86400), 'login.succeeded', 'person', 's' || (g % $1 + 1),
                'u' || (g % $1 + 1), 'org-0', 's' || (g % $1 + 1), '{"method": "link"}'
         FROM generate_series(1, $2) g`,
        [people, auditRows],
      )
      await ctx.pool.query('ANALYZE')
    })
    ctx.print(`seeded ${people.toLocaleString('en')} cards with links, ${auditRows.toLocaleString('en')} audit rows in ${seeded.seconds.toFixed(1)} s (not counted)`)

    const person = `u${Math.round(people / 2)}`
    const report = await measure(() => subjectReport(ctx.pool, config, BOOTSTRAP_CALLER, { by: 'journal_user_id', journalUserId: person }))
    const audit = report.result.categories.find((c) => c.code === 'audit_events')!
    ctx.print(`report of one person (${audit.count} audit rows, ${report.result.categories.reduce((n, c) => n + c.count, 0)} rows in all): ${(report.seconds * 1000).toFixed(0)} ms`)
    const again = await measure(() => subjectReport(ctx.pool, config, BOOTSTRAP_CALLER, { by: 'subject', subject: `s${Math.round(people / 3)}` }))
    ctx.print(`report of another, by ЕСИА subject: ${(again.seconds * 1000).toFixed(0)} ms`)

    const erased = await measure(() =>
      eraseSubject(ctx.pool, config, BOOTSTRAP_CALLER, { lookup: { by: 'journal_user_id', journalUserId: person }, requestNumber: 'B-1', requestDate: '2026-01-01', reason: 'bench' }),
    )
    ctx.print(`erasure of that person (${erased.result.total} rows deleted or pseudonymised): ${(erased.seconds * 1000).toFixed(0)} ms`)

    const retention = await measure(() => pseudonymiseExpiredAudit(ctx.pool, pseudonymKey(SNILS_KEY), 1095))
    ctx.print(`one audit retention run: ${retention.result.toLocaleString('en')} rows pseudonymised in ${retention.seconds.toFixed(1)} s (${Math.round(retention.result / retention.seconds).toLocaleString('en')} rows/s), peak RSS ${retention.peakRssMb} MB`)
  },
}

export default bench
