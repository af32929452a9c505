import type { LightMyRequestResponse } from 'fastify'
import { upsertCard, upsertOrganization, validateCard, type CardInput } from '../../src/directory/cards.js'
import { withTransaction, type Pool } from '../../src/db/pool.js'
import { recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import { saveVerdicts } from '../../src/guardians/checks.js'
import { saveLink } from '../../src/linking/links.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { snilsCheckNumber } from '../../src/matching/snils.js'
import type { ReasonCode } from '../../src/matching/types.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'
import { person } from '../matching/fixtures.js'
import { BOOTSTRAP_TOKEN, TEST_SECRETS, type TestApp } from '../helpers/app.js'

/**
 * Two schools of one municipality, as support sees them: school A (where our support person works)
 * and school B (which they must never see). Names and numbers are invented; SNILS numbers carry
 * valid check digits.
 */
export const SCHOOL_A = { id: 'school-a', name: 'МБОУ «Средняя школа № 1»', kind: 'school' as const, municipality: 'г. Кедровый' }
export const SCHOOL_B = { id: 'school-b', name: 'МБОУ «Средняя школа № 2»', kind: 'school' as const, municipality: 'г. Кедровый' }

/** A SNILS with correct check digits built from nine digits. */
export function snilsFrom(first9: string): string {
  const check = String(snilsCheckNumber(first9)).padStart(2, '0')
  return `${first9.slice(0, 3)}-${first9.slice(3, 6)}-${first9.slice(6, 9)} ${check}`
}

export const SNILS = {
  ivanova: snilsFrom('112233445'),
  smirnov: snilsFrom('223344556'),
  petrova: snilsFrom('334455667'),
  shared: snilsFrom('445566778'),
}

export const CARDS: CardInput[] = [
  { id: 'a-parent-ivanova', organization_id: SCHOOL_A.id, role: 'parent', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '14.03.1985', snils: SNILS.ivanova },
  { id: 'a-parent-smirnov', organization_id: SCHOOL_A.id, role: 'parent', last_name: 'Смирнов', first_name: 'Алексей', middle_name: 'Иванович', birth_date: '02.01.1981', snils: SNILS.smirnov },
  { id: 'a-student-ivanov', organization_id: SCHOOL_A.id, role: 'student', last_name: 'Иванов', first_name: 'Пётр', middle_name: 'Сергеевич', birth_date: '01.09.2012' },
  { id: 'a-staff-kuznetsova', organization_id: SCHOOL_A.id, role: 'staff', last_name: 'Кузнецова', first_name: 'Ольга', middle_name: null, birth_date: null, snils: SNILS.shared },
  { id: 'a-staff-kuznetsova-2', organization_id: SCHOOL_A.id, role: 'staff', last_name: 'Кузнецова', first_name: 'Ольга', middle_name: 'Андреевна', birth_date: '20.05.1979', snils: SNILS.shared },
  { id: 'b-parent-petrova', organization_id: SCHOOL_B.id, role: 'parent', last_name: 'Петрова', first_name: 'Анна', middle_name: 'Сергеевна', birth_date: '11.11.1988', snils: SNILS.petrova },
  { id: 'b-parent-sidorov', organization_id: SCHOOL_B.id, role: 'parent', last_name: 'Сидоров', first_name: 'Иван', middle_name: 'Ильич', birth_date: '05.06.1975' },
]

export interface Seeded {
  /** Failed attempt ids by name. */
  attempts: { smirnovBirthDate: number; petrovaLastName: number; sidorovUntrusted: number; loginNotFound: number }
}

export async function seedSchools(pool: Pool): Promise<Seeded> {
  await upsertOrganization(pool, SCHOOL_A)
  await upsertOrganization(pool, SCHOOL_B)
  for (const input of CARDS) {
    const v = validateCard(input, { snilsKey: TEST_SECRETS.snilsHmacKey })
    if (!v.ok) throw new Error(`${input.id}: ${v.rejection.message}`)
    await upsertCard(pool, v.row)
  }
  await pool.query(`INSERT INTO journal_user_relations (parent_id, child_id) VALUES ('a-parent-ivanova', 'a-student-ivanov')`)
  await withTransaction(pool, async (tx) => {
    const base = { method: 'link' as const, evidence: ['last_name', 'first_name', 'middle_name', 'birth_date', 'snils'] as const, trusted: true, level: 'PR' }
    await saveLink(tx, { ...base, evidence: [...base.evidence], journalUserId: 'a-parent-ivanova', upstreamSubject: '1000001', actor: { kind: 'person', id: '1000001' } })
    await saveLink(tx, { ...base, evidence: [...base.evidence], journalUserId: 'b-parent-petrova', upstreamSubject: '2000001', actor: { kind: 'person', id: '2000001' } })
  })
  const fail = (input: { flow: 'link' | 'login'; reasons: ReasonCode[]; journalUserId?: string; organizationId?: string; person: VerifiedPerson }) =>
    recordFailedAttempt(pool, TEST_SECRETS.snilsHmacKey, { ...input, details: { evidence: ['last_name', 'first_name', 'middle_name', 'snils'] } })
  return {
    attempts: {
      // The school typed 02.01.1981; Госуслуги says 02.01.1980.
      smirnovBirthDate: await fail({
        flow: 'link', reasons: ['mismatch:birth_date'], journalUserId: 'a-parent-smirnov', organizationId: SCHOOL_A.id,
        person: person({ subject: '1000002', lastName: 'Смирнов', firstName: 'Алексей', middleName: 'Иванович', birthDate: '1980-01-02', snils: SNILS.smirnov.replace(/\D/g, '') }),
      }),
      petrovaLastName: await fail({
        flow: 'link', reasons: ['mismatch:last_name'], journalUserId: 'b-parent-sidorov', organizationId: SCHOOL_B.id,
        person: person({ subject: '2000002', lastName: 'Сидорова', firstName: 'Иван', middleName: 'Ильич', birthDate: '1975-06-05' }),
      }),
      sidorovUntrusted: await fail({
        flow: 'link', reasons: ['untrusted_account'], journalUserId: 'b-parent-sidorov', organizationId: SCHOOL_B.id,
        person: person({ subject: '2000003', lastName: 'Сидоров', firstName: 'Иван', trusted: false, level: 'P' }),
      }),
      loginNotFound: await fail({
        flow: 'login', reasons: ['not_found'],
        person: person({ subject: '3000001', lastName: 'Орлова', firstName: 'Вера', birthDate: '1990-02-02' }),
      }),
    },
  }
}

export { person }

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
export const BOOTSTRAP = bearer(BOOTSTRAP_TOKEN)

export function body<T = Record<string, any>>(res: LightMyRequestResponse): T {
  return res.json() as T
}

/** Creates a support account through the API (as bootstrap) and an API token for it. */
export async function supportAccount(t: TestApp, login: string, role: 'admin' | 'support' | 'auditor', organizationIds?: string[]): Promise<{ id: string; token: string; password: string }> {
  const created = await t.app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: BOOTSTRAP, payload: { login, role, ...(organizationIds ? { organization_ids: organizationIds } : {}) } })
  if (created.statusCode !== 201) throw new Error(`account ${login}: ${created.statusCode} ${created.body}`)
  const { account, password } = created.json()
  const token = await t.app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: BOOTSTRAP, payload: { name: 'tests', account_id: account.id } })
  if (token.statusCode !== 201) throw new Error(`token ${login}: ${token.statusCode} ${token.body}`)
  return { id: account.id, token: token.json().token, password }
}

export async function auditRows(pool: Pool, where = 'true', params: unknown[] = []) {
  const { rows } = await pool.query(`SELECT type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, reason, details FROM audit_events WHERE ${where} ORDER BY id`, params)
  return rows as { type: string; actor_kind: string; actor_id: string | null; journal_user_id: string | null; organization_id: string | null; upstream_subject: string | null; reason: string | null; details: Record<string, unknown> }[]
}

/**
 * The demo directory with some parents linked and their children's states stored as the flows
 * store them (test/flows/guardians.test.ts drives the flows themselves): Никитина — one child
 * confirmed, one not on Госуслуги; Егорова — a child whose name and date differ; Волкова — both
 * children confirmed.
 */
export async function seedGuardianStates(t: TestApp): Promise<void> {
  await seedDemoDirectory(t.db.pool, TEST_SECRETS.snilsHmacKey)
  const none = { esiaBirthDate: null, esiaSnilsHmac: null }
  await withTransaction(t.db.pool, async (tx) => {
    const link = (journalUserId: string, subject: string) =>
      saveLink(tx, { journalUserId, upstreamSubject: subject, method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: subject } })
    await link('u3301', '1000300017')
    await saveVerdicts(tx, '1000300017', [
      { parentId: 'u3301', childId: 'u3311', state: 'confirmed', reasons: [], ...none },
      { parentId: 'u3301', childId: 'u3312', state: 'not_in_esia', reasons: [], ...none },
    ])
    await link('u3101', '1000300015')
    await saveVerdicts(tx, '1000300015', [{ parentId: 'u3101', childId: 'u3111', state: 'mismatch', reasons: ['mismatch:first_name', 'mismatch:birth_date'], esiaBirthDate: '2014-03-06', esiaSnilsHmac: null }])
    await link('u3001', '1000300014')
    await saveVerdicts(tx, '1000300014', [
      { parentId: 'u3001', childId: 'u3011', state: 'confirmed', reasons: [], ...none },
      { parentId: 'u3001', childId: 'u3012', state: 'confirmed', reasons: [], ...none },
    ])
  })
}
