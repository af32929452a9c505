import type { VerifiedChild } from '../upstream/types.js'
import { isStrongEvidence, matchPrepared, missingForStrongEvidence, prepareSubject, type MatchSubject } from './match.js'
import { isMismatch, mismatchField } from './reasons.js'
import { MATCH_FIELDS, type JournalUserForMatching, type MatchField, type MatchOutcome } from './types.js'

/**
 * Are the journal's children of a parent the children ЕСИА lists for that parent («Семья и дети»
 * on Госуслуги, `/rs/prns/{oid}/kids`)? The same normalisation and field rules as for the person
 * (match.ts), with the bar of strong evidence: a relation is confirmed only when SNILS, surname,
 * first name and birth date are present on both sides and equal (and the patronymic agrees). A
 * confirmed relation tells a journal that Госуслуги knows this parent as the child's parent, so it
 * takes what auto-linking takes, not less.
 *
 * Pure, like the rest of src/matching: the caller computes the HMAC of each child's SNILS, and
 * nothing of ЕСИА's side leaves this module but field names, and — for a differing birth date or
 * SNILS — that date and that HMAC, which support needs to tell which side is wrong.
 */

/** Why a relation is not confirmed: a field differs, or a side lacks it. Field names only. */
export type ChildReason = `mismatch:${MatchField}` | `missing:${MatchField}`

export type CheckedState = 'confirmed' | 'mismatch' | 'not_in_esia'
/** Every state a relation can be in; `unchecked` until Госуслуги has been asked with the kid scopes. */
export type RelationState = CheckedState | 'unchecked'
export const RELATION_STATES: readonly RelationState[] = ['confirmed', 'mismatch', 'not_in_esia', 'unchecked']

export interface ChildVerdict {
  journalUserId: string
  state: CheckedState
  /** For `mismatch`: in field order, differing fields before missing ones. */
  reasons: ChildReason[]
  /** ЕСИА's side of a differing birth date or SNILS (for support), else null. */
  esiaBirthDate: string | null
  esiaSnilsHmac: Buffer | null
}

export interface ChildrenMatch {
  /** One per journal child, in the order given. */
  verdicts: ChildVerdict[]
  /** ЕСИА's children that are none of the journal's: counted, never kept. */
  esiaOnly: number
}

/** One of ЕСИА's children with its SNILS as the caller's HMAC (null when ЕСИА gave none). */
export interface EsiaChild {
  child: VerifiedChild
  snilsHmac: Buffer | null
}

interface Pairing {
  journal: number
  esia: number
  outcome: MatchOutcome
  strong: boolean
}

/**
 * Which of ЕСИА's children a journal child may be at all, before deciding whether it is confirmed:
 * the same SNILS; or the same birth date and surname or first name; or the same surname and first
 * name. A sibling (same surname and patronymic, another name and birthday) is not paired, so the
 * journal child reads as «not in ЕСИА» rather than as a sibling with every field wrong.
 */
function mayBeSame(evidence: readonly MatchField[]): boolean {
  const has = (f: MatchField) => evidence.includes(f)
  return has('snils') || (has('birth_date') && (has('last_name') || has('first_name'))) || (has('last_name') && has('first_name'))
}

function verdict(card: JournalUserForMatching, subject: MatchSubject, outcome: MatchOutcome, kid: EsiaChild, strong: boolean): ChildVerdict {
  if (strong) return { journalUserId: card.id, state: 'confirmed', reasons: [], esiaBirthDate: null, esiaSnilsHmac: null }
  const esiaLacks = (f: MatchField) => (f === 'last_name' && subject.lastName === '') || (f === 'first_name' && subject.firstName === '')
  const differs = new Set<MatchField>()
  const missing = new Set<MatchField>(missingForStrongEvidence(outcome))
  for (const reason of outcome.reasons) {
    if (!isMismatch(reason)) continue
    const field = mismatchField(reason)
    // A name ЕСИА did not give (kid_fullname not granted) is missing, not wrong.
    if (esiaLacks(field)) missing.add(field)
    else differs.add(field)
  }
  const reasons: ChildReason[] = [
    ...MATCH_FIELDS.filter((f) => differs.has(f)).map((f) => `mismatch:${f}` as const),
    ...MATCH_FIELDS.filter((f) => missing.has(f) && !differs.has(f)).map((f) => `missing:${f}` as const),
  ]
  return {
    journalUserId: card.id,
    state: 'mismatch',
    reasons,
    esiaBirthDate: differs.has('birth_date') ? kid.child.birthDate : null,
    esiaSnilsHmac: differs.has('snils') ? kid.snilsHmac : null,
  }
}

/**
 * Pairs the journal's children with ЕСИА's and judges each pair. Confirmed pairs are taken first,
 * then the closest remaining ones, so twins with a typo in one name still pair with the right twin.
 * A journal child left without a pair is `not_in_esia`; an ЕСИА child left over is counted.
 */
export function matchChildren(journalChildren: readonly JournalUserForMatching[], esiaChildren: readonly EsiaChild[]): ChildrenMatch {
  const subjects = esiaChildren.map((k) => prepareSubject(k.child, k.snilsHmac))
  const pairings: Pairing[] = []
  journalChildren.forEach((card, journal) => {
    subjects.forEach((subject, esia) => {
      const outcome = matchPrepared(card, subject)
      if (mayBeSame(outcome.evidence)) pairings.push({ journal, esia, outcome, strong: isStrongEvidence(outcome) })
    })
  })
  pairings.sort((a, b) => Number(b.strong) - Number(a.strong) || b.outcome.evidence.length - a.outcome.evidence.length || a.journal - b.journal || a.esia - b.esia)

  const verdicts = new Map<number, ChildVerdict>()
  const taken = new Set<number>()
  for (const p of pairings) {
    if (verdicts.has(p.journal) || taken.has(p.esia)) continue
    verdicts.set(p.journal, verdict(journalChildren[p.journal]!, subjects[p.esia]!, p.outcome, esiaChildren[p.esia]!, p.strong))
    taken.add(p.esia)
  }
  return {
    verdicts: journalChildren.map((card, i) => verdicts.get(i) ?? { journalUserId: card.id, state: 'not_in_esia', reasons: [], esiaBirthDate: null, esiaSnilsHmac: null }),
    esiaOnly: esiaChildren.length - taken.size,
  }
}

/** `mismatch:first_name,snils` — the state as exports and the API show it. */
export function relationLabel(state: RelationState, reasons: readonly string[]): string {
  if (state !== 'mismatch') return state
  return `mismatch:${[...new Set(reasons.map((r) => r.slice(r.indexOf(':') + 1)))].join(',')}`
}
