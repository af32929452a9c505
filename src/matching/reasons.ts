import { MATCH_FIELDS, type MatchField, type ReasonCode } from './types.js'

/**
 * The reason codes (docs/matching.md, «Reason codes») as values, in the order a page explains them: what the
 * person can fix in their own account first, then what the school must fix.
 */
export const MISMATCH_REASONS = MATCH_FIELDS.map((field) => `mismatch:${field}` as const)

export const REASON_ORDER: readonly ReasonCode[] = [
  'untrusted_account',
  'child_consent_required',
  ...MISMATCH_REASONS,
  'already_linked_elsewhere',
  'ambiguous',
  'not_found',
]

const RANK = new Map<string, number>(REASON_ORDER.map((code, i) => [code, i]))

/** Distinct reasons in explanation order; `idp_error:*` codes last, in their own order. */
export function sortReasons(reasons: readonly ReasonCode[]): ReasonCode[] {
  return [...new Set(reasons)].sort((a, b) => (RANK.get(a) ?? REASON_ORDER.length) - (RANK.get(b) ?? REASON_ORDER.length))
}

export function isMismatch(code: string): code is `mismatch:${MatchField}` {
  return code.startsWith('mismatch:') && (MATCH_FIELDS as readonly string[]).includes(code.slice('mismatch:'.length))
}

export function mismatchField(code: `mismatch:${MatchField}`): MatchField {
  return code.slice('mismatch:'.length) as MatchField
}
