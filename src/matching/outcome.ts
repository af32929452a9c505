import { upstreamCodeKind } from './messages.js'

/**
 * What a journal hears when a login through the bridge does not end with a code: one category it
 * can word its own message from, then the reason codes (protocol constants, never personal data).
 * `error_description` = `<category>` or `<category>: <code> <code>…` — the values are listed in
 * docs/integration.md («Login with openid-client») and docs/architecture.md.
 *
 *   cancelled    the person cancelled: «Отказать» at Госуслуги, «Отменить» on «Выберите организацию»
 *   account      the Госуслуги account cannot be used as it is: unconfirmed, a child without the
 *                parent's consent, an account already linked to another card of the school
 *   mismatch     the journal's data differs from Госуслуги (mismatch:<field>)
 *   not_found    no single card in the journal: nobody matches, or several share the SNILS
 *   unavailable  Госуслуги did not answer; try again later
 *   error        anything else ЕСИА refused (idp_error:<code>)
 */
export type OutcomeCategory = 'cancelled' | 'account' | 'mismatch' | 'not_found' | 'unavailable' | 'error'

export const OUTCOME_CATEGORIES: readonly OutcomeCategory[] = ['cancelled', 'account', 'mismatch', 'not_found', 'unavailable', 'error']

const ACCOUNT_REASONS = new Set(['untrusted_account', 'child_consent_required', 'already_linked_elsewhere'])

function categoryOf(reason: string): OutcomeCategory {
  if (reason === 'cancelled') return 'cancelled'
  if (ACCOUNT_REASONS.has(reason)) return 'account'
  if (reason.startsWith('mismatch:')) return 'mismatch'
  if (reason === 'not_found' || reason === 'ambiguous') return 'not_found'
  if (reason.startsWith('idp_error:')) {
    const kind = upstreamCodeKind(reason.slice('idp_error:'.length))
    return kind === 'declined' ? 'cancelled' : kind === 'unavailable' ? 'unavailable' : kind === 'unconfirmed' ? 'account' : 'error'
  }
  return 'error'
}

/** The category of a failed login: its first reason in this order decides (what the person can act on first). */
export function outcomeCategory(reasons: readonly string[]): OutcomeCategory {
  const found = new Set(reasons.map(categoryOf))
  for (const category of ['cancelled', 'account', 'mismatch', 'not_found', 'unavailable', 'error'] as const) if (found.has(category)) return category
  return 'error'
}

/** `error_description` of an access_denied sent back to the journal. */
export function outcomeDescription(reasons: readonly string[]): string {
  const category = outcomeCategory(reasons)
  const codes = reasons.filter((r) => r !== 'cancelled')
  return codes.length > 0 ? `${category}: ${codes.join(' ')}` : category
}
