import type { Queryable } from '../db/pool.js'
import { ApiError } from '../http/errors.js'
import { snilsDigits, snilsHmac } from '../matching/snils.js'

/**
 * Whom a request is about. A person is known to the bridge by three kinds of identifier: the
 * journal's cards (`journal_user_id`, one per organisation and role), the ЕСИА account (`subject`,
 * linked to any of those cards) and the SNILS (only as its HMAC). A request names one of them; the
 * others follow through the links, once: the cards linked to the subject, the subjects linked to the
 * cards. A card id that no longer exists in the directory still counts — audit rows and failed
 * attempts may name it after the journal deleted the card.
 */
export type SubjectLookup =
  | { by: 'journal_user_id'; journalUserId: string }
  | { by: 'subject'; subject: string }
  | { by: 'snils'; snils: string }

export interface DataSubject {
  lookup: SubjectLookup['by']
  journalUserIds: string[]
  subjects: string[]
  /** HMACs of the person's SNILS: the one asked for, and those on their cards. */
  snilsHmacs: Buffer[]
}

export const invalidSnils = () => new ApiError(400, 'invalid_snils', 'snils must have 11 digits')

export async function resolveSubject(db: Queryable, snilsKey: string, lookup: SubjectLookup): Promise<DataSubject> {
  const cards = new Set<string>()
  const subjects = new Set<string>()
  const hmacs = new Map<string, Buffer>()
  if (lookup.by === 'journal_user_id') cards.add(lookup.journalUserId)
  if (lookup.by === 'subject') subjects.add(lookup.subject)
  if (lookup.by === 'snils') {
    const digits = snilsDigits(lookup.snils)
    if (!digits) throw invalidSnils()
    const hmac = snilsHmac(snilsKey, digits)
    hmacs.set(hmac.toString('hex'), hmac)
    const found = await db.query<{ id: string | null; subject: string | null }>(
      `SELECT id, NULL AS subject FROM journal_users WHERE snils_hmac = $1
       UNION SELECT NULL, upstream_subject FROM failed_attempts WHERE person_snils_hmac = $1 AND upstream_subject IS NOT NULL`,
      [hmac],
    )
    for (const r of found.rows) {
      if (r.id) cards.add(r.id)
      if (r.subject) subjects.add(r.subject)
    }
  }
  const linked = await db.query<{ journal_user_id: string; upstream_subject: string }>(
    `SELECT journal_user_id, upstream_subject FROM links WHERE journal_user_id = ANY($1) OR upstream_subject = ANY($2)`,
    [[...cards], [...subjects]],
  )
  for (const l of linked.rows) {
    cards.add(l.journal_user_id)
    subjects.add(l.upstream_subject)
  }
  const own = await db.query<{ snils_hmac: Buffer }>(`SELECT snils_hmac FROM journal_users WHERE id = ANY($1) AND snils_hmac IS NOT NULL`, [[...cards]])
  for (const r of own.rows) hmacs.set(r.snils_hmac.toString('hex'), r.snils_hmac)
  return { lookup: lookup.by, journalUserIds: [...cards].sort(), subjects: [...subjects].sort(), snilsHmacs: [...hmacs.values()] }
}

/** The organisations of the person's cards that exist in the directory. */
export async function organizationsOf(db: Queryable, person: DataSubject): Promise<string[]> {
  const { rows } = await db.query<{ organization_id: string }>(`SELECT DISTINCT organization_id FROM journal_users WHERE id = ANY($1) ORDER BY 1`, [person.journalUserIds])
  return rows.map((r) => r.organization_id)
}
