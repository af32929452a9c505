import { expect } from 'vitest'
import { parseDate } from '../../src/matching/dates.js'
import { snilsDigits } from '../../src/matching/snils.js'
import type { Persona, TokenTamper } from '../../src/mock-idp/index.js'
import { UpstreamError, type UpstreamAdapter, type VerifiedPerson } from '../../src/upstream/index.js'
import { BRIDGE_CALLBACK, loginAtMock } from '../helpers/mock-esia.js'

/** A whole login through an adapter, the person's browser played at the mock. */
export async function loginThrough(adapter: UpstreamAdapter, persona: string, opts: { decline?: boolean; spoil?: (callback: URL) => void } = {}): Promise<VerifiedPerson> {
  const started = await adapter.start({ redirectUri: BRIDGE_CALLBACK })
  const callback = await loginAtMock(started.url, persona, { decline: opts.decline ?? false })
  opts.spoil?.(callback)
  return adapter.finish({ callbackUrl: callback, redirectUri: BRIDGE_CALLBACK, transaction: started.transaction })
}

/** The typed error a promise rejects with, as `{kind, code}`. */
export const rejection = (promise: Promise<unknown>): Promise<{ kind: string; code: string }> =>
  promise.then(() => { throw new Error('expected a rejection') }, (err: unknown) => {
    expect(err).toBeInstanceOf(UpstreamError)
    return { kind: (err as UpstreamError).kind, code: (err as UpstreamError).code }
  })

/** What an adapter should make of a persona: the fixture's data in our formats. */
export function expectedPerson(p: Persona, opts: { kids: boolean; esia: boolean }): Partial<VerifiedPerson> {
  const withheld = p.level === 'KD' && !p.childConsent && opts.esia
  return {
    subject: String(p.oid),
    trusted: p.trusted,
    level: opts.esia ? p.level : p.trusted ? 'PR' : 'P',
    childConsent: !withheld,
    lastName: withheld ? '' : p.lastName,
    firstName: withheld ? '' : p.firstName,
    middleName: withheld ? null : (p.middleName ?? null),
    birthDate: withheld ? null : parseDate(p.birthDate),
    snils: withheld ? null : snilsDigits(p.snils),
    // `decline-kids`: the person lets everything go but the children's data.
    ...(opts.kids && !withheld && p.behaviour !== 'decline-kids'
      ? { kids: (p.kids ?? []).map((k) => ({ lastName: k.lastName, firstName: k.firstName, middleName: k.middleName ?? null, birthDate: parseDate(k.birthDate), snils: snilsDigits(k.snils) })) }
      : {}),
  }
}

/** Each way the mock can spoil an ID token, and the code both adapters must reject it with. */
export const ID_TOKEN_TAMPERS: [TokenTamper, string][] = [
  ['bad-signature', 'token_signature_invalid'],
  ['wrong-issuer', 'token_issuer_mismatch'],
  ['wrong-audience', 'token_audience_mismatch'],
  ['expired', 'token_expired'],
  ['alg-none', 'token_alg_not_allowed'],
  ['hs256-public-key', 'token_alg_not_allowed'],
  ['nonce-mismatch', 'nonce_mismatch'],
]
