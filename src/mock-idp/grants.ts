import type { MockClient } from './clients.js'
import type { Persona } from './personas.js'

/** What a person granted to a client at the mock: carried from the login to the tokens. */
export interface Grant {
  dialect: 'esia' | 'oidc'
  client: MockClient
  persona: Persona
  redirectUri: string
  /** Scope names as requested (ЕСИА: space-separated `scope`). */
  scopes: string[]
  scopeOrg: string
  /** `state` of the authorization request (ЕСИА puts it in the code as `urn:esia:client:state`). */
  state: string
  nonce: string | undefined
  /** PKCE S256 challenge, when the client sent one. */
  codeChallenge: string | undefined
  /** `access_type=offline`: a refresh token is issued (docs/esia.md, «The mock, and how it differs from ЕСИА»). */
  offline: boolean
  /** Seconds since the epoch. */
  authTime: number
  /** ЕСИА session id (`urn:esia:sid`). */
  sid: string
}

/** Scope names ЕСИА knows (docs/esia.md, «Errors»); an unknown one is refused with ESIA-007006. */
export const ESIA_PERSON_SCOPES = new Set([
  'fullname', 'birthdate', 'gender', 'snils', 'inn', 'id_doc', 'birthplace', 'medical_doc', 'military_doc',
  'foreign_passport_doc', 'drivers_licence_doc', 'birth_cert_doc', 'residence_doc', 'temporary_residence_doc',
  'vehicles', 'email', 'mobile', 'contacts', 'addresses', 'usr_org', 'usr_avt', 'usr_reg_cxt',
])
export const ESIA_KID_SCOPES = new Set(['kid_fullname', 'kid_birthdate', 'kid_snils', 'kid_gender', 'kid_inn', 'kid_birth_cert_doc', 'kid_medical_doc'])
export const isKnownEsiaScope = (s: string): boolean => s === 'openid' || ESIA_PERSON_SCOPES.has(s) || ESIA_KID_SCOPES.has(s)

/**
 * Standard side: `profile` carries names and birth date, `snils` the SNILS, the kid scopes (named as
 * at ЕСИА, as a broker passing them through would) a `children` claim; `trusted` always comes.
 */
export const OIDC_SCOPES = new Set(['openid', 'profile', 'snils', 'kid_fullname', 'kid_birthdate', 'kid_snils'])

export const splitScopes = (scope: string): string[] => scope.split(' ').filter(Boolean)
