import type { Config } from '../config.js'
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js'
import { endSessionsOfUser } from '../events/sessions.js'
import { ApiError } from '../http/errors.js'
import { writeAudit } from '../linking/audit.js'
import { removeLink } from '../linking/links.js'
import { actorOf, requireAdmin, type SupportCaller } from '../admin/caller.js'
import { requireReason } from '../admin/link-actions.js'
import { recordDestruction, type DestroyedCategory } from './destruction.js'
import { disagreeingFields, resolveSubject, type DataSubject, type SubjectLookup } from './person.js'
import { pseudonym, pseudonymiseAuditRows, pseudonymKey, type AuditRowToPseudonymise } from './pseudonym.js'

/**
 * Erasure on a person's request (152-ФЗ ст. 21 ч. 5: consent withdrawn, the data destroyed within 30
 * days, the destruction recorded). One transaction, in this order:
 *
 *   0. resolve the person (src/subjects/person.ts). The console names them by the exact cards and
 *      accounts its report showed: if the bridge now resolves them to anything else, 409
 *      `report_changed` — an erasure destroys what the admin saw, nothing more. If the cards disagree
 *      on surname, first name or birth date (a SNILS shared by mistake, a link to the wrong card),
 *      409 `different_people`: a stranger's data is never erased along;
 *   1. lock the person's cards (a login or a support action on them waits);
 *   2. remove each link as a support unlink does (src/linking/links.ts removeLink): the journals get
 *      link-removed, the card's login sessions end with a back-channel logout token each;
 *   3. delete failed attempts, guardian check results, what is left of unfinished links and logins,
 *      and the events already delivered to the journals (pending ones stay: the journal must learn);
 *   4. pseudonymise every audit row naming the person, including the link.removed rows of step 2
 *      and support's views of their report: who acted and what was done stay, the person becomes
 *      `subj_…`, free-text reasons go (src/subjects/pseudonym.ts). Counted are only the rows the
 *      person had before the request was handled: the erasure's own rows and the report views are
 *      the handling, not their data — so a person already erased has nothing to count;
 *   5. write the destruction record (src/subjects/destruction.ts) and the `subject.erased` audit
 *      event, both naming the person only by the pseudonym. With nothing counted, neither is
 *      written: the pseudonymised views are committed and the answer is 409 `nothing_to_erase`.
 *
 * The journal's cards are the journal's data and stay: the person asks the school to delete them, and
 * the journal's directory call takes the bridge's copy along (docs/personal-data.md). Admin only.
 */
export interface ErasureInput {
  /** One identifier; or none when `shown` names the person. */
  lookup: SubjectLookup | undefined
  /** The cards and ЕСИА accounts of the report the admin looked at: the erasure must resolve to exactly these. */
  shown?: { journalUserIds: string[]; subjects: string[] } | undefined
  requestNumber: string | undefined
  requestDate: string | undefined
  reason: string | undefined
}

export interface ErasureResult {
  recordId: number
  subjectToken: string
  categories: DestroyedCategory[]
  total: number
  /** Whether a link was removed, so link-removed events wait in the journals' queue. */
  linksRemoved: boolean
}

const REQUEST_NUMBER_MAX = 100

function requestOf(input: ErasureInput): { number: string; date: string } {
  const number = (input.requestNumber ?? '').normalize('NFC').replace(/\s+/g, ' ').trim()
  if (!number) throw new ApiError(400, 'request_number_required', 'Give the number of the person\'s request (request_number)')
  if (number.length > REQUEST_NUMBER_MAX) throw new ApiError(400, 'request_number_too_long', `The request number must fit in ${REQUEST_NUMBER_MAX} characters`)
  const date = input.requestDate ?? ''
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(date) ? new Date(`${date}T00:00:00Z`) : null
  if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date) {
    throw new ApiError(400, 'request_date_required', 'Give the date of the person\'s request as YYYY-MM-DD (request_date)')
  }
  // A day ahead of UTC at most: Moscow is three hours ahead, and nobody files a request tomorrow.
  if (parsed.getTime() > Date.now() + 86_400_000) throw new ApiError(400, 'request_date_in_future', 'The request date is in the future')
  return { number, date }
}

/** The pseudonym the record names the person by: of the identifier the request named (a SNILS: the first card, else the account). */
function subjectTokenOf(key: Buffer, lookup: SubjectLookup, person: DataSubject): string {
  if (lookup.by === 'journal_user_id') return pseudonym(key, 'journal_user', lookup.journalUserId)
  if (lookup.by === 'subject') return pseudonym(key, 'subject', lookup.subject)
  if (person.journalUserIds[0]) return pseudonym(key, 'journal_user', person.journalUserIds[0])
  return pseudonym(key, 'subject', person.subjects[0]!)
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const x = [...new Set(a)].sort()
  const y = [...new Set(b)].sort()
  return x.length === y.length && x.every((v, i) => v === y[i])
}

const FIELD_NAMES = { last_name: 'surname', first_name: 'first name', birth_date: 'birth date' } as const

async function count(tx: PoolClient, sql: string, params: unknown[]): Promise<number> {
  const { rowCount } = await tx.query(sql, params)
  return rowCount ?? 0
}

export async function eraseSubject(pool: Pool, config: Config, caller: SupportCaller, input: ErasureInput): Promise<ErasureResult> {
  requireAdmin(caller)
  const request = requestOf(input)
  const reason = requireReason(input.reason)
  const key = pseudonymKey(config.secrets.snilsHmacKey)
  const lookup: SubjectLookup | undefined = input.lookup ?? (input.shown ? { by: 'set', ...input.shown } : undefined)
  if (!lookup) throw new ApiError(400, 'lookup_required', 'Name the person by exactly one of journal_user_id, subject or snils, or by the report\'s journal_user_ids and subjects')
  const outcome = await withTransaction(pool, async (tx) => {
    const person = await resolveSubject(tx, config.secrets.snilsHmacKey, lookup)
    const { journalUserIds: ids, subjects, snilsHmacs } = person
    if (input.shown && !(sameSet(ids, input.shown.journalUserIds) && sameSet(subjects, input.shown.subjects))) {
      throw new ApiError(409, 'report_changed', 'The person\'s cards or ЕСИА accounts changed since the report was made; make the report again')
    }
    if (ids.length === 0 && subjects.length === 0) throw new ApiError(409, 'nothing_to_erase', 'The bridge holds nothing about this person')

    // 1. In id order, as every path that locks several cards does.
    await tx.query('SELECT id FROM journal_users WHERE id = ANY($1) ORDER BY id FOR UPDATE', [ids])
    const differ = await disagreeingFields(tx, person)
    if (differ.length) {
      throw new ApiError(409, 'different_people', `The cards found differ in ${differ.map((f) => FIELD_NAMES[f]).join(', ')}: they are not one person. Erase by one card or ЕСИА account instead`)
    }
    const sessions = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM login_sessions WHERE journal_user_id = ANY($1)', [ids])).rows[0]!.n

    // 2. As a support unlink: link-removed to the journals, back-channel logout for every session.
    let links = 0
    for (const id of ids) {
      const removed = await removeLink(tx, { journalUserId: id, actor: actorOf(caller), reason, details: { destroyed: ['upstream_subject', 'link_evidence'], request_number: request.number } })
      if (removed) links++
      else await endSessionsOfUser(tx, id)
    }

    // 3.
    const failedAttempts = await count(tx, 'DELETE FROM failed_attempts WHERE journal_user_id = ANY($1) OR upstream_subject = ANY($2) OR person_snils_hmac = ANY($3)', [ids, subjects, snilsHmacs])
    const guardians = await count(
      tx,
      'DELETE FROM guardian_checks WHERE parent_id = ANY($1) OR child_id = ANY($1) OR upstream_subject = ANY($2) OR esia_snils_hmac = ANY($3)',
      [ids, subjects, snilsHmacs],
    )
    const transient =
      (await count(tx, 'DELETE FROM link_intents WHERE journal_user_id = ANY($1)', [ids])) +
      (await count(tx, 'DELETE FROM authorization_codes WHERE journal_user_id = ANY($1)', [ids])) +
      (await count(tx, 'DELETE FROM access_tokens WHERE journal_user_id = ANY($1)', [ids])) +
      (await count(tx, 'DELETE FROM pending_logins WHERE upstream_subject = ANY($1) OR candidates && $2::text[]', [subjects, ids]))
    const journalEvents = await count(tx, `DELETE FROM event_outbox WHERE (journal_user_id = ANY($1) OR ordered_with && $1::text[]) AND status <> 'pending'`, [ids])

    // 4. `handling`: written by this transaction (the link.removed rows of step 2), or a view of the report.
    const named = await tx.query<AuditRowToPseudonymise & { handling: boolean }>(
      `SELECT id, actor_kind, actor_id, journal_user_id, upstream_subject, details,
         (xmin = pg_current_xact_id()::xid OR type = 'support.subject_report_viewed') AS handling
       FROM audit_events
       WHERE journal_user_id = ANY($1) OR upstream_subject = ANY($2) OR details->>'moved_to' = ANY($1) OR details->>'moved_from' = ANY($1)
          OR details->>'previous_subject' = ANY($2)
       ORDER BY id FOR UPDATE`,
      [ids, subjects],
    )
    await pseudonymiseAuditRows(tx, key, named.rows, { journalUserIds: new Set(ids), subjects: new Set(subjects) })
    const audit = named.rows.filter((r) => !r.handling).length

    // 5.
    const categories: DestroyedCategory[] = [
      { category: 'links', action: 'deleted', count: links },
      { category: 'failed_attempts', action: 'deleted', count: failedAttempts },
      { category: 'guardians', action: 'deleted', count: guardians },
      { category: 'login_sessions', action: 'deleted', count: sessions },
      { category: 'journal_events', action: 'deleted', count: journalEvents },
      { category: 'transient', action: 'deleted', count: transient },
      { category: 'audit_events', action: 'pseudonymised', count: audit },
    ]
    const total = categories.reduce((n, c) => n + c.count, 0)
    // Committed all the same: the views of the report named the person and are pseudonymised.
    if (total === 0) return null
    const subjectToken = subjectTokenOf(key, lookup, person)
    const recordId = await recordDestruction(tx, {
      basis: 'request',
      actor: { kind: 'support', id: caller.id },
      subjectToken,
      requestNumber: request.number,
      requestDate: request.date,
      reason,
      categories,
    })
    await writeAudit(tx, {
      type: 'subject.erased',
      actor: actorOf(caller),
      reason,
      details: { destruction_record_id: recordId, subject_token: subjectToken, request_number: request.number, request_date: request.date, lookup: lookup.by, counts: Object.fromEntries(categories.map((c) => [c.category, c.count])) },
    })
    return { recordId, subjectToken, categories, total, linksRemoved: links > 0 }
  })
  if (!outcome) throw new ApiError(409, 'nothing_to_erase', 'The bridge holds nothing about this person beyond the journal\'s own cards')
  return outcome
}
