import { createHash } from 'node:crypto'
import { ESIA_KID_SCOPES, ESIA_PERSON_SCOPES } from './grants.js'
import type { Persona, PersonaKid } from './personas.js'

/**
 * What `/rs/prns/{oid}` and its collections return for a persona, field by field as the granted
 * scopes allow (docs/esia.md, «Person data (`/rs/prns`)»). Shapes follow the real test-stand
 * examples; the kid element is a best guess (docs/esia.md, «Children (`/kids`)»)
 * and documents are made up deterministically from the oid.
 */
export type Element = { id: number } & Record<string, unknown>

const etag = (value: unknown): string => createHash('sha1').update(JSON.stringify(value)).digest('hex').toUpperCase()

/** Scopes an access token grants for `oid`: `openid` bare, the others `name?oid=<oid>`. */
export function grantedScopes(scopeClaim: unknown, oid: string): Set<string> {
  const granted = new Set<string>()
  if (typeof scopeClaim !== 'string') return granted
  for (const item of scopeClaim.split(' ')) {
    const [name, query] = item.split('?') as [string, string | undefined]
    if (!query) granted.add(name)
    else if (new URLSearchParams(query).get('oid') === oid) granted.add(name)
  }
  return granted
}

export const anyOf = (granted: Set<string>, names: Iterable<string>): boolean => [...names].some((n) => granted.has(n))

/** The person resource, or null when no personal scope was granted (→ 403). */
export function personResource(p: Persona, granted: Set<string>): Record<string, unknown> | null {
  if (!anyOf(granted, ESIA_PERSON_SCOPES) && !anyOf(granted, ESIA_KID_SCOPES)) return null
  const body: Record<string, unknown> = { stateFacts: ['EntityRoot'] }
  if (granted.has('fullname')) {
    body.firstName = p.firstName
    body.lastName = p.lastName
    if (p.middleName) body.middleName = p.middleName
  }
  if (granted.has('birthdate') && p.birthDate) body.birthDate = p.birthDate
  if (granted.has('gender')) body.gender = p.gender
  if (granted.has('snils') && p.snils) body.snils = p.snils
  if (granted.has('id_doc') && p.level !== 'KD') body.rIdDoc = documentsOf(p)[0]!.id
  Object.assign(body, {
    trusted: p.trusted,
    citizenship: 'RUS',
    updatedOn: 1_700_000_000 + (p.oid % 10_000_000),
    status: 'REGISTERED',
    verifying: false,
    containsUpCfmCode: false,
  })
  body.eTag = etag(body)
  return body
}

function contactsOf(p: Persona): Element[] {
  return [
    { id: p.oid * 10 + 1, type: 'EML', vrfStu: 'VERIFIED', value: `esia.user${p.oid}@mail.example` },
    { id: p.oid * 10 + 2, type: 'MBT', vrfStu: 'VERIFIED', value: `+7(900)${String(p.oid % 10_000_000).padStart(7, '0')}` },
  ].map((e) => ({ stateFacts: ['Identifiable'], ...e, eTag: etag(e) }))
}

export function contacts(p: Persona, granted: Set<string>): Element[] | null {
  if (!anyOf(granted, ['email', 'mobile', 'contacts'])) return null
  return contactsOf(p).filter((c) => granted.has('contacts') || (c.type === 'EML' ? granted.has('email') : granted.has('mobile')))
}

function documentsOf(p: Persona): Element[] {
  const n = p.oid % 1_000_000
  const doc = p.level === 'KD'
    ? { id: p.oid * 10 + 5, type: 'RF_BRTH_CERT', vrfStu: 'VERIFIED', series: 'I-МЮ', number: String(600_000 + n).slice(-6), issueDate: p.birthDate ?? '01.01.2015', issuedBy: 'Отдел ЗАГС' }
    : { id: p.oid * 10 + 5, type: 'RF_PASSPORT', vrfStu: 'VERIFIED', series: String(3000 + (n % 6000)), number: String(100_000 + n).slice(-6), issueDate: '01.06.2015', issueId: '410-001', issuedBy: 'УМВД России по Камчатскому краю' }
  return [{ stateFacts: ['EntityRoot'], ...doc, eTag: etag(doc) }]
}

export function documents(p: Persona, granted: Set<string>): Element[] | null {
  if (!anyOf(granted, ['id_doc', 'birth_cert_doc'])) return null
  return documentsOf(p).filter((d) => (d.type === 'RF_PASSPORT' ? granted.has('id_doc') : granted.has('birth_cert_doc')))
}

function kidElement(k: PersonaKid, granted: Set<string>): Element {
  const e: Element = { stateFacts: ['EntityRoot'], id: k.id }
  if (granted.has('kid_fullname')) {
    e.firstName = k.firstName
    e.lastName = k.lastName
    if (k.middleName) e.middleName = k.middleName
  }
  if (granted.has('kid_birthdate')) e.birthDate = k.birthDate
  if (granted.has('kid_gender')) e.gender = k.gender
  if (granted.has('kid_snils') && k.snils) e.snils = k.snils
  e.eTag = etag(e)
  return e
}

export function kids(p: Persona, granted: Set<string>): Element[] | null {
  if (!anyOf(granted, ESIA_KID_SCOPES)) return null
  return (p.kids ?? []).map((k) => kidElement(k, granted))
}

/** A collection as ЕСИА returns it: element links, or the elements themselves with `embed`. */
export function collection(base: string, elements: Element[], embed: boolean): Record<string, unknown> {
  return {
    stateFacts: ['hasSize'],
    size: elements.length,
    eTag: etag(elements.map((e) => e.id)),
    elements: embed ? elements : elements.map((e) => `${base}/${e.id}`),
  }
}

/** `?embed=(elements)` or `?embed=(contacts.elements,documents.elements)` → the names inside. */
export function parseEmbed(embed: string | undefined): Set<string> {
  const m = /^\((.*)\)$/.exec(embed ?? '')
  return new Set(m ? m[1]!.split(',').map((s) => s.trim()) : [])
}
