import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import personasJson from './personas.json' with { type: 'json' }

/**
 * The people of the mock ЕСИА (`personas.json`). Each stands for one case the bridge must handle
 * (docs/esia.md, «The mock, and how it differs from ЕСИА»); tests pick them by `id`, the picker page shows `label` and `description`.
 * Dates and SNILS are in ЕСИА's own formats (`dd.MM.yyyy`, `NNN-NNN-NNN NN`, docs/esia.md, «Person data (`/rs/prns`)»).
 */
const EsiaDate = Type.String({ pattern: '^\\d{2}\\.\\d{2}\\.\\d{4}$' })
const EsiaSnils = Type.String({ pattern: '^\\d{3}-\\d{3}-\\d{3} \\d{2}$' })
const Gender = Type.Union([Type.Literal('M'), Type.Literal('F')])

const Kid = Type.Object({
  /** Element id in `/rs/prns/{oid}/kids/{id}`. */
  id: Type.Integer(),
  /** The child's own ЕСИА account, when one of the personas is that child (not sent by the mock). */
  oid: Type.Optional(Type.Integer()),
  lastName: Type.String({ minLength: 1 }),
  firstName: Type.String({ minLength: 1 }),
  middleName: Type.Optional(Type.String({ minLength: 1 })),
  birthDate: EsiaDate,
  gender: Gender,
  snils: Type.Optional(EsiaSnils),
}, { additionalProperties: false })

const Persona = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9-]+$' }),
  oid: Type.Integer({ minimum: 1 }),
  label: Type.String({ minLength: 1 }),
  description: Type.String({ minLength: 1 }),
  /** `PR` подтверждённая, `P` упрощённая/стандартная, `KD` детская. */
  level: Type.Union([Type.Literal('PR'), Type.Literal('P'), Type.Literal('KD')]),
  trusted: Type.Boolean(),
  /** KD only: has a parent consented in «Согласия и доверенности» (docs/sources.md: Камчатка slides)? */
  childConsent: Type.Optional(Type.Boolean()),
  /**
   * `decline`: the person presses «Отказать» on the consent step (ESIA-007004). `decline-kids`: the
   * person logs in but does not let the children's data go — the tokens grant no `kid_*` scope.
   * Whether ЕСИА's consent page lets a person leave out some scopes is unverified; the same tokens
   * come when the ИС is not approved for the kid scopes.
   */
  behaviour: Type.Optional(Type.Union([Type.Literal('decline'), Type.Literal('decline-kids')])),
  lastName: Type.String({ minLength: 1 }),
  firstName: Type.String({ minLength: 1 }),
  middleName: Type.Optional(Type.String({ minLength: 1 })),
  birthDate: Type.Optional(EsiaDate),
  gender: Gender,
  snils: Type.Optional(EsiaSnils),
  kids: Type.Optional(Type.Array(Kid)),
  /** Journal cards (demo-directory.json) that belong to this person, correct or mistyped. */
  journalCards: Type.Array(Type.String()),
}, { additionalProperties: false })

export type Persona = Static<typeof Persona>
export type PersonaKid = Static<typeof Kid>
export type PersonaId = string

const PersonaList = Type.Array(Persona)

/** Validates a persona list; throws naming the first bad entry. */
export function parsePersonas(raw: unknown): Persona[] {
  if (!Value.Check(PersonaList, raw)) {
    const [first] = [...Value.Errors(PersonaList, raw)]
    throw new Error(`Invalid personas: ${first?.instancePath ?? ''} ${first?.message ?? ''}`.trim())
  }
  const seen = new Set<string>()
  const oids = new Set<number>()
  for (const p of raw) {
    if (seen.has(p.id)) throw new Error(`Invalid personas: duplicate id ${p.id}`)
    if (oids.has(p.oid)) throw new Error(`Invalid personas: duplicate oid ${p.oid}`)
    if (p.level === 'KD' && p.childConsent === undefined) throw new Error(`Invalid personas: ${p.id} is a child account and must say childConsent`)
    seen.add(p.id)
    oids.add(p.oid)
  }
  return raw
}

let bundled: Persona[] | undefined

/** The bundled personas (validated once). */
export function loadPersonas(): Persona[] {
  bundled ??= parsePersonas(structuredClone(personasJson))
  return bundled
}

export function personaById(id: PersonaId): Persona {
  const persona = loadPersonas().find((p) => p.id === id)
  if (!persona) throw new Error(`No persona ${id}; known: ${loadPersonas().map((p) => p.id).join(', ')}`)
  return persona
}
