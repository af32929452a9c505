/**
 * Outcomes and reason codes of matching (docs/matching.md, «Reason codes»). These names are a contract with
 * journals (they travel in link tokens) and with support (they are stored with failed attempts).
 */

/** Fields compared one by one; a mismatch names the field, never the stored value. */
export const MATCH_FIELDS = ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils'] as const
export type MatchField = (typeof MATCH_FIELDS)[number]

export type MismatchReason = `mismatch:${MatchField}`
export type ReasonCode =
  | MismatchReason
  | 'untrusted_account'
  | 'child_consent_required'
  | 'not_found'
  | 'ambiguous'
  | 'already_linked_elsewhere'
  | `idp_error:${string}`

export type MatchOutcome =
  | { outcome: 'matched'; reasons: []; evidence: MatchField[] }
  | { outcome: 'rejected'; reasons: ReasonCode[]; evidence: MatchField[] }

/** The journal-side card as matching sees it (normalised columns of `journal_users`). */
export interface JournalUserForMatching {
  id: string
  organizationId: string
  role: 'parent' | 'student' | 'staff' | 'admin'
  normLastName: string
  normFirstName: string
  normMiddleName: string | null
  birthDate: string | null
  snilsHmac: Buffer | null
  snilsValid: boolean
}
