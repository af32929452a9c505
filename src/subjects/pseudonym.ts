import { createHmac, hkdfSync } from 'node:crypto'
import type { Queryable } from '../db/pool.js'

/**
 * Pseudonyms for the audit trail (152-ФЗ ст. 3 п. 9, «обезличивание»): after an erasure or the audit
 * retention period an audit row keeps who acted and what was done, and the person it named becomes
 * `subj_…`, an HMAC of their identifier. The key is derived from SNILS_HMAC_KEY (HKDF, its own label,
 * so a pseudonym is never a SNILS HMAC): it lives outside the database like that key, so a dump
 * alone cannot tell whom a pseudonym stands for, while the same identifier always gives the same
 * pseudonym — the rows of one person still read as one story.
 */
export type IdentifierKind = 'journal_user' | 'subject'

export const PSEUDONYM_PREFIX = 'subj_'

export function pseudonymKey(snilsHmacKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', snilsHmacKey, Buffer.alloc(0), 'esia-bridge/audit-pseudonym/v1', 32))
}

/** 128 bits of the HMAC, base64url: short enough to read, far too many to guess. */
export function pseudonym(key: Buffer, kind: IdentifierKind, id: string): string {
  return PSEUDONYM_PREFIX + createHmac('sha256', key).update(`${kind}\0${id}`).digest('base64url').slice(0, 22)
}

export const isPseudonym = (value: string | null): boolean => value !== null && value.startsWith(PSEUDONYM_PREFIX)

/** Audit details that carry an identifier of a journal user or an ЕСИА subject (src/admin/link-actions.ts, src/linking/links.ts). */
const DETAIL_IDENTIFIERS: Record<string, IdentifierKind> = { moved_to: 'journal_user', moved_from: 'journal_user', previous_subject: 'subject' }

export interface AuditRowToPseudonymise {
  id: number
  actor_kind: string
  actor_id: string | null
  journal_user_id: string | null
  upstream_subject: string | null
  details: Record<string, unknown>
}

/**
 * What a row becomes. `names` (the erasure: the person's identifiers, whatever key holds them) are
 * replaced wherever they stand in `details` as a whole string; the retention purge, which knows no
 * person, replaces the columns and the detail keys known to hold identifiers. Who acted stays,
 * unless it was the person themselves (a person's actor id is their ЕСИА subject).
 */
export function pseudonymised(
  key: Buffer,
  row: AuditRowToPseudonymise,
  names?: { journalUserIds: ReadonlySet<string>; subjects: ReadonlySet<string> },
): { actorId: string | null; journalUserId: string | null; upstreamSubject: string | null; details: Record<string, unknown> } {
  const as = (kind: IdentifierKind, id: string | null) => (id === null || isPseudonym(id) ? id : pseudonym(key, kind, id))
  const replaceValue = (value: unknown, kind?: IdentifierKind): unknown => {
    if (typeof value === 'string') {
      if (kind) return as(kind, value)
      if (names?.journalUserIds.has(value)) return as('journal_user', value)
      if (names?.subjects.has(value)) return as('subject', value)
      return value
    }
    if (Array.isArray(value)) return value.map((v) => replaceValue(v, kind))
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceValue(v, kind ?? DETAIL_IDENTIFIERS[k])]))
    }
    return value
  }
  return {
    actorId: row.actor_kind === 'person' ? as('subject', row.actor_id) : row.actor_id,
    journalUserId: as('journal_user', row.journal_user_id),
    upstreamSubject: as('subject', row.upstream_subject),
    details: replaceValue(row.details) as Record<string, unknown>,
  }
}

/**
 * Rewrites the given audit rows in one statement and marks them pseudonymised; returns how many
 * named someone. A row that named someone also loses its free-text `reason`: support types it by
 * hand and may have typed the person's name there; the event type and who acted stay.
 */
export async function pseudonymiseAuditRows(
  db: Queryable,
  key: Buffer,
  rows: readonly AuditRowToPseudonymise[],
  names?: { journalUserIds: ReadonlySet<string>; subjects: ReadonlySet<string> },
): Promise<number> {
  if (rows.length === 0) return 0
  const done = rows.map((r) => {
    const after = pseudonymised(key, r, names)
    const named = JSON.stringify(after) !== JSON.stringify({ actorId: r.actor_id, journalUserId: r.journal_user_id, upstreamSubject: r.upstream_subject, details: r.details })
    return { id: r.id, named, ...after }
  })
  await db.query(
    `UPDATE audit_events e SET actor_id = v.actor_id, journal_user_id = v.journal_user_id, upstream_subject = v.upstream_subject,
       details = v.details, reason = CASE WHEN v.named THEN NULL ELSE e.reason END, pseudonymised_at = now()
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::boolean[]) AS v(id, actor_id, journal_user_id, upstream_subject, details, named)
     WHERE e.id = v.id`,
    [done.map((d) => d.id), done.map((d) => d.actorId), done.map((d) => d.journalUserId), done.map((d) => d.upstreamSubject), done.map((d) => JSON.stringify(d.details)), done.map((d) => d.named)],
  )
  return done.filter((d) => d.named).length
}
