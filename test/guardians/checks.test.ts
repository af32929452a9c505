import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { upsertCard, validateCard } from '../../src/directory/cards.js'
import { purgeGuardianEvidence, relationsOfCard, saveVerdicts } from '../../src/guardians/checks.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

/**
 * ЕСИА's side of a mismatch (the birth date, the SNILS as HMAC) is kept for support only for the
 * failed attempts' retention (docs/matching.md «Children»): then it is erased
 * with a `data.destroyed` event in the same statement, while the relation's state — a fact about the
 * journal's cards — stays.
 */
describe('guardian evidence retention', () => {
  let db: TestDatabase
  const hmac = createHash('sha256').update('esia-side-snils').digest()

  beforeAll(async () => {
    db = await createTestDatabase()
    await db.pool.query(`INSERT INTO organizations (id, name, kind) VALUES ('school-1', 'Школа № 1', 'school')`)
    const cards = [
      { id: 'p1', role: 'parent', last_name: 'Егорова', first_name: 'Анна' },
      { id: 'c1', role: 'student', last_name: 'Егоров', first_name: 'Тимофей', birth_date: '2014-03-05' },
      { id: 'c2', role: 'student', last_name: 'Егорова', first_name: 'Дарья', birth_date: '2016-07-01' },
    ]
    for (const card of cards) {
      const v = validateCard({ organization_id: 'school-1', ...card }, { snilsKey: TEST_SECRETS.snilsHmacKey })
      if (!v.ok) throw new Error(v.rejection.message)
      await upsertCard(db.pool, v.row)
    }
    await db.pool.query(`INSERT INTO journal_user_relations (parent_id, child_id) VALUES ('p1', 'c1'), ('p1', 'c2')`)
    // A check counts for the account the parent card is linked to.
    await db.pool.query(`INSERT INTO links (journal_user_id, upstream_subject, organization_id, role, method, evidence, trusted, level)
                         VALUES ('p1', '1000777', 'school-1', 'parent', 'link', '{last_name,first_name}', true, 'PR')`)
    await withTransaction(db.pool, (tx) =>
      saveVerdicts(tx, '1000777', [
        { parentId: 'p1', childId: 'c1', state: 'mismatch', reasons: ['mismatch:birth_date', 'mismatch:snils'], esiaBirthDate: '2014-03-06', esiaSnilsHmac: hmac },
        { parentId: 'p1', childId: 'c2', state: 'mismatch', reasons: ['mismatch:birth_date'], esiaBirthDate: '2016-07-02', esiaSnilsHmac: null },
      ]),
    )
  })
  afterAll(async () => db.drop())

  const evidence = async () =>
    (await db.pool.query<{ child_id: string; state: string; reasons: string[]; birth: string | null; hmac: boolean }>(
      `SELECT child_id, state, reasons, esia_birth_date::text AS birth, esia_snils_hmac IS NOT NULL AS hmac FROM guardian_checks ORDER BY child_id`,
    )).rows

  it('keeps ЕСИА\'s side of a mismatch while the retention period runs', async () => {
    expect(await purgeGuardianEvidence(db.pool, 30)).toBe(0)
    expect(await evidence()).toEqual([
      { child_id: 'c1', state: 'mismatch', reasons: ['mismatch:birth_date', 'mismatch:snils'], birth: '2014-03-06', hmac: true },
      { child_id: 'c2', state: 'mismatch', reasons: ['mismatch:birth_date'], birth: '2016-07-02', hmac: false },
    ])
    expect((await db.pool.query(`SELECT 1 FROM audit_events WHERE type = 'data.destroyed'`)).rowCount).toBe(0)
  })

  it('erases it after the retention period, keeps the states, and records what was destroyed', async () => {
    await db.pool.query(`UPDATE guardian_checks SET checked_at = now() - interval '31 days' WHERE child_id = 'c1'`)
    expect(await purgeGuardianEvidence(db.pool, 30)).toBe(1)
    expect(await evidence()).toEqual([
      { child_id: 'c1', state: 'mismatch', reasons: ['mismatch:birth_date', 'mismatch:snils'], birth: null, hmac: false },
      { child_id: 'c2', state: 'mismatch', reasons: ['mismatch:birth_date'], birth: '2016-07-02', hmac: false },
    ])
    const { rows } = await db.pool.query(`SELECT actor_kind, details FROM audit_events WHERE type = 'data.destroyed'`)
    expect(rows).toEqual([{ actor_kind: 'system', details: expect.objectContaining({ table: 'guardian_checks', count: 1, retention_days: 30 }) }])
    // What support still sees: the state and its reasons, never ЕСИА's values.
    const relations = (await relationsOfCard(db.pool, 'p1', null)).map((r) => [r.childId, r.state, r.reasons])
    expect(relations).toEqual([['c1', 'mismatch', ['mismatch:birth_date', 'mismatch:snils']], ['c2', 'mismatch', ['mismatch:birth_date']]])
  })

  it('records nothing when nothing is left to erase', async () => {
    expect(await purgeGuardianEvidence(db.pool, 30)).toBe(0)
    expect((await db.pool.query(`SELECT 1 FROM audit_events WHERE type = 'data.destroyed'`)).rowCount).toBe(1)
  })
})
