import type { Config } from '../config.js'
import type { Queryable } from '../db/pool.js'
import { ApiError } from '../http/errors.js'
import { writeAudit } from '../linking/audit.js'
import { actorOf, type SupportCaller } from '../admin/caller.js'
import { resolveSubject, type SubjectLookup } from './person.js'
import { buildSubjectReport, type SubjectReport } from './report.js'

/**
 * A person's requests about their data, as support answers them (docs/personal-data.md): the report
 * of what is held. Who may: an admin, or support of an organisation where the person has a card; an
 * auditor reads too (a municipal auditor sees every school). The read is an audit event naming the
 * person, so it appears in their next report — and is pseudonymised with the rest on erasure.
 */
export interface LookupInput {
  journal_user_id?: string | undefined
  subject?: string | undefined
  snils?: string | undefined
}

/** Exactly one identifier names the person. */
export function lookupOf(input: LookupInput): SubjectLookup {
  const given = (['journal_user_id', 'subject', 'snils'] as const).filter((k) => input[k] !== undefined && input[k]!.trim() !== '')
  if (given.length !== 1) throw new ApiError(400, 'lookup_required', 'Name the person by exactly one of journal_user_id, subject or snils')
  const k = given[0]!
  const value = input[k]!.trim()
  if (k === 'journal_user_id') return { by: k, journalUserId: value }
  if (k === 'subject') return { by: k, subject: value }
  return { by: 'snils', snils: value }
}

export async function subjectReport(db: Queryable, config: Config, caller: SupportCaller, lookup: SubjectLookup): Promise<SubjectReport> {
  const person = await resolveSubject(db, config.secrets.snilsHmacKey, lookup)
  const report = await buildSubjectReport(db, caller, person, config)
  const cards = report.categories.find((c) => c.code === 'directory_cards')!
  await writeAudit(db, {
    type: 'support.subject_report_viewed',
    actor: actorOf(caller),
    journalUserId: report.journalUserIds[0] ?? null,
    organizationId: (cards.items[0]?.organization_id as string | undefined) ?? null,
    upstreamSubject: report.subjects[0] ?? null,
    details: { lookup: lookup.by, journal_users: report.journalUserIds.length, counts: Object.fromEntries(report.categories.map((c) => [c.code, c.count])) },
  })
  return report
}

