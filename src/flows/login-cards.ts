import type { FastifyInstance } from 'fastify'
import { withTransaction, type PoolClient, type Queryable } from '../db/pool.js'
import { LinkConflictError, saveLink } from '../linking/links.js'
import { findCandidates, type GroupRejection, type LoginCandidate } from '../matching/candidates.js'
import { snilsDigits, snilsHmac } from '../matching/snils.js'
import { sortReasons } from '../matching/reasons.js'
import type { JournalUserForMatching, ReasonCode } from '../matching/types.js'
import type { VerifiedPerson } from '../upstream/types.js'

/**
 * Which journal users a person logging in may become (docs/architecture.md, «How a login travels»): the cards linked to their
 * upstream subject (docs/decisions/0012-auto-link-on-strong-evidence-only.md: later logins resolve through the stored link, never
 * through attributes again) and, for someone with no link yet, the cards strong evidence links
 * automatically.
 */
export type Role = JournalUserForMatching['role']

/** A card the person may log in as, with what the chooser and the ID token show of it. */
export interface LinkedCard {
  journalUserId: string
  organizationId: string
  organizationName: string
  role: Role
  /** As the school typed them (not normalised): they go into the ID token and on the chooser. */
  lastName: string
  firstName: string
  middleName: string | null
}

export interface CardRow {
  id: string
  organization_id: string
  organization_name: string
  role: Role
  last_name: string
  first_name: string
  middle_name: string | null
}
export const toCard = (r: CardRow): LinkedCard => ({
  journalUserId: r.id,
  organizationId: r.organization_id,
  organizationName: r.organization_name,
  role: r.role,
  lastName: r.last_name,
  firstName: r.first_name,
  middleName: r.middle_name,
})

/**
 * The cards linked to the subject `$1` with their organisations' names (CardRow's columns): one
 * indexed read, since the unique index of links leads with upstream_subject. The chooser's order
 * is `ORDER BY organization_name, role, id`. Shared with the login's own statement
 * (login-record.ts), which reads them and writes the code at once.
 */
export const LINKED_CARDS_SQL = `SELECT j.id, j.organization_id, o.name AS organization_name, j.role, j.last_name, j.first_name, j.middle_name
  FROM links l JOIN journal_users j ON j.id = l.journal_user_id JOIN organizations o ON o.id = j.organization_id
  WHERE l.upstream_subject = $1`
export const CHOOSER_ORDER = 'ORDER BY organization_name, role, id'

/** The cards linked to this subject, in the chooser's order. Named, so each connection plans it once. */
export async function linkedCards(db: Queryable, subject: string): Promise<LinkedCard[]> {
  const { rows } = await db.query<CardRow>({ name: 'login.linked-cards', text: `${LINKED_CARDS_SQL} ${CHOOSER_ORDER}`, values: [subject] })
  return rows.map(toCard)
}

export interface AutoLinkResult {
  /** Every card now linked to the subject (those linked here and any linked meanwhile). */
  cards: LinkedCard[]
  /** Journal users linked by this login. */
  created: string[]
  /** Groups (organisation+role) where cards carry the person's SNILS but none could be linked. */
  rejections: GroupRejection[]
  /** What the person's page explains when nothing could be linked. */
  reasons: ReasonCode[]
}

/**
 * First login of a person with no link (docs/matching.md, «Auto-link at login: strong evidence only»): strong evidence only (trusted
 * account; SNILS, full name and birth date present and equal; exactly one card per organisation and
 * role — src/matching/candidates.ts), one link per such group, each with its `link.created`
 * (`method: auto`) audit event in the same transaction. Callers have already refused accounts that
 * may not be matched (accountReason) and checked AUTO_LINK_ON_LOGIN.
 */
export async function autoLink(app: FastifyInstance, person: VerifiedPerson, clientId: string): Promise<AutoLinkResult> {
  const digits = snilsDigits(person.snils)
  const search = await findCandidates(app.db, person, { snilsHmac: digits ? snilsHmac(app.config.secrets.snilsHmacKey, digits) : null })
  if (search.candidates.length === 0) return { cards: [], created: [], rejections: search.rejections, reasons: search.reasons }

  const { created, conflicts } = await withTransaction(app.db, (tx) => linkCandidates(tx, person, search.candidates, clientId))
  const rejections = [...search.rejections, ...conflicts]
  const cards = await linkedCards(app.db, person.subject)
  return { cards, created, rejections, reasons: cards.length === 0 ? sortReasons(rejections.flatMap((r) => r.reasons)) : [] }
}

/**
 * Links the candidates that are still free. The cards are locked first and their links read after
 * the lock, so a card someone linked while we matched is never taken over (saveLink would replace
 * its link): it becomes an `already_linked_elsewhere` rejection instead.
 */
async function linkCandidates(tx: PoolClient, person: VerifiedPerson, candidates: LoginCandidate[], clientId: string) {
  const ids = candidates.map((c) => c.journalUserId)
  await tx.query('SELECT id FROM journal_users WHERE id = ANY ($1) ORDER BY id FOR UPDATE', [ids])
  const { rows } = await tx.query<{ journal_user_id: string; upstream_subject: string }>('SELECT journal_user_id, upstream_subject FROM links WHERE journal_user_id = ANY ($1)', [ids])
  const holders = new Map(rows.map((r) => [r.journal_user_id, r.upstream_subject]))

  const created: string[] = []
  const conflicts: GroupRejection[] = []
  const conflict = (c: LoginCandidate, reason: ReasonCode = 'already_linked_elsewhere'): GroupRejection => ({
    organizationId: c.organizationId,
    organizationName: c.organizationName,
    role: c.role,
    journalUserIds: [c.journalUserId],
    reasons: [reason],
    missing: [],
  })
  for (const candidate of candidates) {
    const holder = holders.get(candidate.journalUserId)
    if (holder === person.subject) continue
    if (holder !== undefined) {
      conflicts.push(conflict(candidate))
      continue
    }
    try {
      await saveLink(tx, {
        journalUserId: candidate.journalUserId,
        upstreamSubject: person.subject,
        method: 'auto',
        evidence: candidate.evidence,
        trusted: person.trusted,
        level: person.level,
        actor: { kind: 'person', id: person.subject },
        details: { client_id: clientId, upstream_issuer: person.issuer },
      })
      created.push(candidate.journalUserId)
    } catch (err) {
      // The subject got another card of this organisation and role meanwhile, or the journal deleted
      // the card; saveLink left nothing behind either way.
      if (!(err instanceof LinkConflictError)) throw err
      conflicts.push(conflict(candidate, err.code === 'journal_user_not_found' ? 'not_found' : 'already_linked_elsewhere'))
    }
  }
  return { created, conflicts }
}
