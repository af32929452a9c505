import type { Queryable } from '../db/pool.js'
import type { VerifiedPerson } from '../upstream/types.js'
import { isStrongEvidence, matchPrepared, missingForStrongEvidence, prepareMatchSubject } from './match.js'
import { sortReasons } from './reasons.js'
import type { JournalUserForMatching, MatchField, ReasonCode } from './types.js'

/**
 * Login without a link yet (docs/matching.md, «Auto-link at login: strong evidence only»): which journal users is this verified person, by strong
 * evidence only? Attributes propose a link once; later logins resolve through the stored link
 * (docs/decisions/0012-auto-link-on-strong-evidence-only.md). Never picks one of several cards,
 * never touches a card linked to someone else, never searches for an unconfirmed account.
 */

type Role = JournalUserForMatching['role']

export interface LoginCandidate {
  journalUserId: string
  organizationId: string
  organizationName: string
  role: Role
  /** Fields that agreed (always includes last_name, first_name, birth_date, snils). */
  evidence: MatchField[]
  /** The card is already linked to this very subject (a concurrent login got there first). */
  linkedToSubject: boolean
}

/** One organisation+role where cards were found by SNILS but none can be linked automatically. */
export interface GroupRejection {
  organizationId: string
  organizationName: string
  role: Role
  /** For support only: the person's page must never show other cards (they may be someone else's). */
  journalUserIds: string[]
  reasons: ReasonCode[]
  /** Fields strong evidence needs that a side lacks (e.g. the card has no birth date), for support. */
  missing: MatchField[]
}

export interface CandidateSearch {
  candidates: LoginCandidate[]
  rejections: GroupRejection[]
  /** What the person's page explains: every distinct reason, `not_found` when nothing was found. */
  reasons: ReasonCode[]
}

/** The columns of `journal_users` matching reads, as pg returns them. */
export interface MatchingCardRow {
  id: string
  organization_id: string
  role: Role
  norm_last_name: string
  norm_first_name: string
  norm_middle_name: string | null
  birth_date: string | null
  snils_hmac: Buffer | null
  snils_valid: boolean
}

interface CardRow extends MatchingCardRow {
  organization_name: string
  linked_subject: string | null
}

const CARD_COLUMNS = `j.id, j.organization_id, o.name AS organization_name, j.role, j.norm_last_name, j.norm_first_name,
  j.norm_middle_name, j.birth_date, j.snils_hmac, j.snils_valid, l.upstream_subject AS linked_subject`
const CARD_FROM = `journal_users j JOIN organizations o ON o.id = j.organization_id LEFT JOIN links l ON l.journal_user_id = j.id`

/** A card as matching sees it, from its row. */
export const cardForMatching = (r: MatchingCardRow): JournalUserForMatching => ({
  id: r.id,
  organizationId: r.organization_id,
  role: r.role,
  normLastName: r.norm_last_name,
  normFirstName: r.norm_first_name,
  normMiddleName: r.norm_middle_name,
  birthDate: r.birth_date,
  snilsHmac: r.snils_hmac,
  snilsValid: r.snils_valid,
})

/** One card as matching sees it (the link flow's card), or undefined when the journal deleted it. */
/**
 * One card as matching sees it. With `lock` (inside the transaction that will link it), the card
 * row stays locked until commit, so a directory update cannot change the names between the match
 * and the link.
 */
export async function loadCardForMatching(db: Queryable, journalUserId: string, opts: { lock?: boolean } = {}): Promise<JournalUserForMatching | undefined> {
  const { rows } = await db.query<CardRow>({
    name: opts.lock ? 'matching.load-card-locked' : 'matching.load-card',
    text: `SELECT ${CARD_COLUMNS} FROM ${CARD_FROM} WHERE j.id = $1${opts.lock ? ' FOR UPDATE OF j' : ''}`,
    values: [journalUserId],
  })
  return rows[0] && cardForMatching(rows[0])
}

/**
 * Cards of this person by SNILS HMAC, grouped by organisation+role, each group judged on its own:
 * one card with strong evidence → a candidate; several cards → `ambiguous` (a data error at school);
 * one card whose names or birth date differ → those mismatch reasons; one card linked to another
 * ЕСИА account → `already_linked_elsewhere` (moving a link is a support action, not a login side
 * effect). One indexed statement (`journal_users_snils_idx`): it runs on the login path.
 */
export async function findCandidates(db: Queryable, person: VerifiedPerson, opts: { snilsHmac: Buffer | null }): Promise<CandidateSearch> {
  const subject = prepareMatchSubject(person, opts.snilsHmac)
  if (subject.accountReason) return { candidates: [], rejections: [], reasons: [subject.accountReason] }
  if (!subject.snilsHmac) return { candidates: [], rejections: [], reasons: ['not_found'] }

  // A named statement: parsed and planned once per connection, since it runs on the login path.
  const { rows } = await db.query<CardRow>({
    name: 'matching.find-candidates',
    text: `SELECT ${CARD_COLUMNS} FROM ${CARD_FROM}
           WHERE j.snils_hmac = $1 AND j.snils_valid
           ORDER BY j.organization_id, j.role, j.id`,
    values: [subject.snilsHmac],
  })

  const candidates: LoginCandidate[] = []
  const rejections: GroupRejection[] = []
  // Rows arrive ordered by organisation and role, so a group is a run of equal keys.
  for (let start = 0; start < rows.length; ) {
    const first = rows[start]!
    let end = start + 1
    while (end < rows.length && rows[end]!.organization_id === first.organization_id && rows[end]!.role === first.role) end++
    const group = rows.slice(start, end)
    start = end

    const rejection = (reasons: ReasonCode[], missing: MatchField[] = []): GroupRejection => ({
      organizationId: first.organization_id,
      organizationName: first.organization_name,
      role: first.role,
      journalUserIds: group.map((r) => r.id),
      reasons,
      missing,
    })
    if (group.length > 1) {
      rejections.push(rejection(['ambiguous']))
      continue
    }
    const outcome = matchPrepared(cardForMatching(first), subject)
    if (outcome.outcome === 'rejected') {
      rejections.push(rejection(outcome.reasons))
    } else if (!isStrongEvidence(outcome)) {
      // Found by SNILS and nothing differs, but a side lacks the birth date: not enough to link
      // without the person; the journal's own link button («Привязать пользователя портала гос.
      // услуг») still works, since it needs the full name only.
      rejections.push(rejection(['not_found'], missingForStrongEvidence(outcome)))
    } else if (first.linked_subject !== null && first.linked_subject !== person.subject) {
      rejections.push(rejection(['already_linked_elsewhere']))
    } else {
      candidates.push({
        journalUserId: first.id,
        organizationId: first.organization_id,
        organizationName: first.organization_name,
        role: first.role,
        evidence: outcome.evidence,
        linkedToSubject: first.linked_subject === person.subject,
      })
    }
  }

  const reasons = sortReasons(rejections.flatMap((r) => r.reasons))
  return { candidates, rejections, reasons: candidates.length === 0 && reasons.length === 0 ? ['not_found'] : reasons }
}
