import type { Queryable } from '../db/pool.js'
import { ApiError } from '../http/errors.js'
import { normalizeName } from '../matching/normalize.js'
import { snilsDigits, snilsHmac } from '../matching/snils.js'

/**
 * Whom a request is about. A person is known to the bridge by three kinds of identifier: the
 * journal's cards (`journal_user_id`, one per organisation and role), the ЕСИА account (`subject`,
 * linked to any of those cards) and the SNILS (only as its HMAC). A request names one of them (or,
 * for an erasure, the exact cards and accounts a report showed); the others follow through the links
 * until nothing new turns up: a card's account, that account's other cards, their accounts… A SNILS
 * adds the cards carrying it and the accounts of failed attempts made with it, once — it is not
 * followed again from the cards found, so one mistyped SNILS does not chain strangers together.
 * A card id that no longer exists in the directory still counts — audit rows and failed attempts
 * may name it after the journal deleted the card.
 */
export type SubjectLookup =
  | { by: 'journal_user_id'; journalUserId: string }
  | { by: 'subject'; subject: string }
  | { by: 'snils'; snils: string }
  | { by: 'set'; journalUserIds: string[]; subjects: string[] }

export interface DataSubject {
  lookup: SubjectLookup['by']
  journalUserIds: string[]
  subjects: string[]
  /** HMACs of the person's SNILS: the one asked for, and those on their cards. */
  snilsHmacs: Buffer[]
}

const LINK_ROUNDS = 20

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
  if (lookup.by === 'set') {
    for (const id of lookup.journalUserIds) cards.add(id)
    for (const s of lookup.subjects) subjects.add(s)
  }
  // To a fixpoint: each round asks only about what the last one found. A person has a handful of
  // cards, so this ends in two or three rounds; the cap only guards against a pathological chain.
  let newCards = [...cards]
  let newSubjects = [...subjects]
  for (let round = 0; round < LINK_ROUNDS && (newCards.length || newSubjects.length); round++) {
    const linked = await db.query<{ journal_user_id: string; upstream_subject: string }>(
      `SELECT journal_user_id, upstream_subject FROM links WHERE journal_user_id = ANY($1) OR upstream_subject = ANY($2)`,
      [newCards, newSubjects],
    )
    newCards = []
    newSubjects = []
    for (const l of linked.rows) {
      if (!cards.has(l.journal_user_id)) { cards.add(l.journal_user_id); newCards.push(l.journal_user_id) }
      if (!subjects.has(l.upstream_subject)) { subjects.add(l.upstream_subject); newSubjects.push(l.upstream_subject) }
    }
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

/**
 * The fields on which the person's cards disagree (normalised as matching compares names,
 * src/matching/normalize.ts): a SNILS typed onto a stranger's card, or a link made to the wrong card,
 * joins two people, and an erasure must not destroy the other one's data. Empty: one person. A
 * birth date missing on a card is no disagreement.
 */
export type IdentityField = 'last_name' | 'first_name' | 'birth_date'

export async function disagreeingFields(db: Queryable, person: DataSubject): Promise<IdentityField[]> {
  const { rows } = await db.query<{ last_name: string; first_name: string; birth_date: string | null }>(
    `SELECT last_name, first_name, birth_date::text AS birth_date FROM journal_users WHERE id = ANY($1)`,
    [person.journalUserIds],
  )
  const distinct = (values: string[]) => new Set(values.filter((v) => v !== '')).size > 1
  const fields: IdentityField[] = []
  if (distinct(rows.map((r) => normalizeName(r.last_name)))) fields.push('last_name')
  if (distinct(rows.map((r) => normalizeName(r.first_name)))) fields.push('first_name')
  if (distinct(rows.map((r) => r.birth_date ?? ''))) fields.push('birth_date')
  return fields
}
