import { describe, expect, it } from 'vitest'
import { outcomeCategory, outcomeDescription } from '../../src/matching/outcome.js'

/** The documented error_description values a journal words its own message from (docs/integration.md, docs/architecture.md). */
describe('the outcome a journal hears after a login without a code', () => {
  it.each([
    [['cancelled'], 'cancelled'],
    [['idp_error:ESIA-007004'], 'cancelled: idp_error:ESIA-007004'],
    [['idp_error:access_denied'], 'cancelled: idp_error:access_denied'],
    [['untrusted_account'], 'account: untrusted_account'],
    [['child_consent_required'], 'account: child_consent_required'],
    [['idp_error:ESIA-007055'], 'account: idp_error:ESIA-007055'],
    [['mismatch:last_name', 'mismatch:snils'], 'mismatch: mismatch:last_name mismatch:snils'],
    [['ambiguous'], 'not_found: ambiguous'],
    [['not_found'], 'not_found: not_found'],
    [['idp_error:ESIA-007008'], 'unavailable: idp_error:ESIA-007008'],
    [['idp_error:ESIA-007053'], 'error: idp_error:ESIA-007053'],
  ])('%j → %s', (reasons, description) => {
    expect(outcomeDescription(reasons)).toBe(description)
  })

  it('an account problem comes before a mismatch: the person acts on it first', () => {
    expect(outcomeCategory(['mismatch:first_name', 'untrusted_account'])).toBe('account')
  })
})
