import type { VerifiedPerson } from '../upstream/types.js'
import { normalizeMiddleName, normalizeName } from './normalize.js'
import { MATCH_FIELDS, type JournalUserForMatching, type MatchField, type MatchOutcome, type ReasonCode } from './types.js'

/**
 * Is this ЕСИА person this journal user? Field by field, with reasons (docs/matching.md).
 *
 * Pure and synchronous: it runs on every link attempt and for every card found at login. The
 * person's SNILS arrives already as an HMAC (computed once per login by the caller), so no secret
 * and no clear SNILS ever reach this module.
 */

/** The person's side, normalised once and compared against any number of cards. */
export interface MatchSubject {
  /** Why the account itself cannot be used, or null when it can. */
  accountReason: 'untrusted_account' | 'child_consent_required' | null
  lastName: string
  firstName: string
  middleName: string | null
  birthDate: string | null
  snilsHmac: Buffer | null
}

/**
 * Account checks (docs/matching.md, «Which accounts may be matched»; levels from docs/sources.md:
 * Parent-meeting text, Кедровый order, Ростов recommendations; consent from its Камчатка slides).
 *
 * A `KD` child account is judged by the parent's consent («Согласия и доверенности»), not by the
 * trust flag: ЕСИА only lets a parent with a confirmed account create it, the child's data is
 * checked against ЕГР ЗАГС and the SNILS by СФР, and whether ЕСИА sets `is_tru` on child accounts
 * is undocumented (docs/esia.md, «Known only from public examples, unverified on a real stand»). The consent is what the e-journals' own instructions make
 * the condition for a child to log in. Every other account must be confirmed («подтверждённая»):
 * упрощённая and стандартная carry self-typed data that nobody checked in person.
 */
export function accountReason(person: Pick<VerifiedPerson, 'level' | 'trusted' | 'childConsent'>): MatchSubject['accountReason'] {
  if (person.level === 'KD') return person.childConsent ? null : 'child_consent_required'
  return person.trusted ? null : 'untrusted_account'
}

export function prepareMatchSubject(person: VerifiedPerson, snilsHmac: Buffer | null): MatchSubject {
  return prepareSubject(person, snilsHmac, accountReason(person))
}

/** Someone's data as ЕСИА gives it (a person, or one of a parent's children), normalised once. */
export function prepareSubject(
  data: Pick<VerifiedPerson, 'lastName' | 'firstName' | 'middleName' | 'birthDate'>,
  snilsHmac: Buffer | null,
  reason: MatchSubject['accountReason'] = null,
): MatchSubject {
  return {
    accountReason: reason,
    lastName: normalizeName(data.lastName),
    firstName: normalizeName(data.firstName),
    middleName: normalizeMiddleName(data.middleName),
    birthDate: data.birthDate || null,
    snilsHmac: snilsHmac && snilsHmac.length > 0 ? snilsHmac : null,
  }
}

const MISMATCH: Record<MatchField, ReasonCode> = {
  last_name: 'mismatch:last_name',
  first_name: 'mismatch:first_name',
  middle_name: 'mismatch:middle_name',
  birth_date: 'mismatch:birth_date',
  snils: 'mismatch:snils',
}

/**
 * One field compared: 'equal' (present on both sides and the same → evidence), 'differs' (→ that
 * field's mismatch reason) or 'skip' (nothing to compare).
 *
 * Names are required: a surname, name or patronymic present on one side only differs — except a
 * patronymic absent on both sides, which agrees without being evidence. Birth date and SNILS are
 * compared wherever both sides have them; a card SNILS that failed its checksum is a typo at
 * school and never evidence (only identifiers verified on both sides count, docs/decisions/0012-auto-link-on-strong-evidence-only.md).
 */
function compareField(field: MatchField, card: JournalUserForMatching, subject: MatchSubject): 'equal' | 'differs' | 'skip' {
  switch (field) {
    case 'last_name':
      return subject.lastName !== '' && card.normLastName === subject.lastName ? 'equal' : 'differs'
    case 'first_name':
      return subject.firstName !== '' && card.normFirstName === subject.firstName ? 'equal' : 'differs'
    case 'middle_name':
      if (card.normMiddleName === null && subject.middleName === null) return 'skip'
      return card.normMiddleName === subject.middleName ? 'equal' : 'differs'
    case 'birth_date':
      if (!card.birthDate || !subject.birthDate) return 'skip'
      return card.birthDate === subject.birthDate ? 'equal' : 'differs'
    case 'snils':
      if (!card.snilsHmac || !card.snilsValid || !subject.snilsHmac) return 'skip'
      return card.snilsHmac.equals(subject.snilsHmac) ? 'equal' : 'differs'
  }
}

/**
 * Matches a prepared person against one card. The account reason comes first; the fields are still
 * compared so that the person and support learn everything to fix in one visit (in the link flow
 * the person is already signed in to the journal as this card, so naming a differing field tells
 * them nothing new). A rejected outcome is never evidence, whatever fields agreed.
 *
 * Except for a child account without the parent's consent: the consent is what allows a child's
 * data to be used at all (docs/sources.md: Камчатка slides, «Согласия и доверенности»), and ЕСИА withholds that data then,
 * so the adapters hand over empty names. Comparing them would only add mismatches that are not
 * true and send the family to the school for nothing; the one thing to fix is the consent.
 */
export function matchPrepared(card: JournalUserForMatching, subject: MatchSubject): MatchOutcome {
  if (subject.accountReason === 'child_consent_required') return { outcome: 'rejected', reasons: ['child_consent_required'], evidence: [] }
  const evidence: MatchField[] = []
  let reasons: ReasonCode[] | null = subject.accountReason ? [subject.accountReason] : null
  for (const field of MATCH_FIELDS) {
    const result = compareField(field, card, subject)
    if (result === 'equal') evidence.push(field)
    else if (result === 'differs') (reasons ??= []).push(MISMATCH[field])
  }
  return reasons ? { outcome: 'rejected', reasons, evidence } : { outcome: 'matched', reasons: [], evidence }
}

/**
 * The link flow's question: is the verified person this journal user? Full name must agree; SNILS
 * and birth date must agree wherever both sides have them. `opts.snilsHmac` is the HMAC of the
 * person's SNILS under SNILS_HMAC_KEY (null when ЕСИА gave none).
 */
export function matchUser(card: JournalUserForMatching, person: VerifiedPerson, opts: { snilsHmac: Buffer | null }): MatchOutcome {
  return matchPrepared(card, prepareMatchSubject(person, opts.snilsHmac))
}

/** What login auto-linking needs on top of full-name agreement (docs/matching.md, «Auto-link at login: strong evidence only»). */
const STRONG_FIELDS: readonly MatchField[] = ['last_name', 'first_name', 'birth_date', 'snils']

/**
 * Strong evidence, enough to link at login without the person doing anything (docs/decisions/0012): an
 * accepted account, SNILS + full name + birth date present on both sides and equal. A `matched`
 * outcome already means the account passed and the patronymic agreed (equal, or absent on both
 * sides — people without one must not be locked out of auto-linking).
 */
export function isStrongEvidence(outcome: MatchOutcome): boolean {
  return outcome.outcome === 'matched' && STRONG_FIELDS.every((field) => outcome.evidence.includes(field))
}

/** Fields strong evidence needs that this outcome did not have on both sides (for support). */
export function missingForStrongEvidence(outcome: MatchOutcome): MatchField[] {
  const mismatched = new Set<string>(outcome.reasons)
  return STRONG_FIELDS.filter((field) => !outcome.evidence.includes(field) && !mismatched.has(MISMATCH[field]))
}
