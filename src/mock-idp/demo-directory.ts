import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import directoryJson from './demo-directory.json' with { type: 'json' }

/**
 * The demo journal's directory (`demo-directory.json`): organisations and journal cards in the
 * shape of the directory API, made to fit the mock personas — including the data errors schools
 * really make (a typo in a surname, ё typed as е, a SNILS copied onto a spouse's card, a card
 * without SNILS). `deliberateErrors` names each one for the reader.
 */
const Organization = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String({ minLength: 1 }),
  kind: Type.Union([Type.Literal('school'), Type.Literal('kindergarten'), Type.Literal('additional_education')]),
  municipality: Type.String({ minLength: 1 }),
}, { additionalProperties: false })

const JournalUser = Type.Object({
  id: Type.String({ minLength: 1 }),
  organization_id: Type.String({ minLength: 1 }),
  role: Type.Union([Type.Literal('parent'), Type.Literal('student'), Type.Literal('staff'), Type.Literal('admin')]),
  last_name: Type.String({ minLength: 1 }),
  first_name: Type.String({ minLength: 1 }),
  middle_name: Type.Union([Type.String(), Type.Null()]),
  birth_date: Type.Union([Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), Type.Null()]),
  snils: Type.Union([Type.String(), Type.Null()]),
  child_ids: Type.Optional(Type.Array(Type.String())),
}, { additionalProperties: false })

const DemoDirectory = Type.Object({
  deliberateErrors: Type.Record(Type.String(), Type.String()),
  organizations: Type.Array(Organization),
  journalUsers: Type.Array(JournalUser),
}, { additionalProperties: false })

export type DemoOrganization = Static<typeof Organization>
export type DemoJournalUser = Static<typeof JournalUser>
export type DemoDirectory = Static<typeof DemoDirectory>

let bundled: DemoDirectory | undefined

/** The bundled demo directory, validated once; organisation and child references are checked too. */
export function loadDemoDirectory(): DemoDirectory {
  if (bundled) return bundled
  const raw: unknown = structuredClone(directoryJson)
  if (!Value.Check(DemoDirectory, raw)) {
    const [first] = [...Value.Errors(DemoDirectory, raw)]
    throw new Error(`Invalid demo directory: ${first?.instancePath ?? ''} ${first?.message ?? ''}`.trim())
  }
  const orgs = new Set(raw.organizations.map((o) => o.id))
  const users = new Set(raw.journalUsers.map((u) => u.id))
  for (const u of raw.journalUsers) {
    if (!orgs.has(u.organization_id)) throw new Error(`Invalid demo directory: ${u.id} refers to unknown organisation ${u.organization_id}`)
    for (const c of u.child_ids ?? []) if (!users.has(c)) throw new Error(`Invalid demo directory: ${u.id} refers to unknown child ${c}`)
  }
  bundled = raw
  return bundled
}
