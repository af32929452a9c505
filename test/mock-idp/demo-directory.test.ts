import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadDemoDirectory, loadPersonas } from '../../src/mock-idp/index.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { snilsDigits, snilsHmac } from '../../src/matching/snils.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { TEST_SECRETS } from '../helpers/app.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

describe('the demo directory that goes with the personas', () => {
  it('every persona\'s journal cards exist, and each card names a known organisation', () => {
    const directory = loadDemoDirectory()
    const ids = new Set(directory.journalUsers.map((u) => u.id))
    for (const persona of loadPersonas()) for (const card of persona.journalCards) expect(ids, `${persona.id} → ${card}`).toContain(card)
    expect(loadPersonas().find((p) => p.id === 'unknown-to-journal')!.journalCards).toEqual([])
  })

  it('seeds through the directory card rules, in one go, and seeding again changes nothing', async () => {
    const report = await seedDemoDirectory(db.pool, TEST_SECRETS.snilsHmacKey)
    expect(report).toEqual({ organizations: 5, journalUsers: loadDemoDirectory().journalUsers.length, relations: loadDemoDirectory().journalUsers.flatMap((u) => u.child_ids ?? []).length })
    const again = await db.pool.query<{ updated_at: Date }>('SELECT max(updated_at) AS updated_at FROM journal_users')
    await seedDemoDirectory(db.pool, TEST_SECRETS.snilsHmacKey)
    const after = await db.pool.query<{ updated_at: Date }>('SELECT max(updated_at) AS updated_at FROM journal_users')
    expect(after.rows[0]!.updated_at).toEqual(again.rows[0]!.updated_at)
  })

  it('holds the deliberate data errors the personas meet', async () => {
    const card = async (id: string) => (await db.pool.query('SELECT * FROM journal_users WHERE id = $1', [id])).rows[0]
    const smirnova = loadPersonas().find((p) => p.id === 'parent-two-schools')!
    // Parent with children in two schools: two parent cards, one per school.
    expect([(await card('u1001')).organization_id, (await card('u1002')).organization_id]).toEqual(['school-12', 'gymnasium-3'])
    // Teacher who is also a parent: two cards in one school.
    expect([(await card('u1101')).role, (await card('u1102')).role]).toEqual(['staff', 'parent'])
    expect((await card('u1701')).last_name).toBe('Кузнецава')
    expect((await card('u1401')).norm_last_name).toBe('федоров')
    expect((await card('u1501')).norm_last_name).toBe('мамина-сибирякова')
    expect((await card('u1601')).norm_middle_name).toBeNull()
    expect((await card('u1901')).snils_present).toBe(false)
    expect((await card('u1802')).snils_hmac).toEqual((await card('u1801')).snils_hmac)
    expect((await card('u1001')).snils_hmac).toEqual(snilsHmac(TEST_SECRETS.snilsHmacKey, snilsDigits(smirnova.snils)!))
    // The ЕСИА test range is below the checksum threshold and is kept as valid.
    expect((await card('u2901')).snils_valid).toBe(true)
    const relations = await db.pool.query('SELECT parent_id, child_id FROM journal_user_relations ORDER BY parent_id')
    expect(relations.rows).toContainEqual({ parent_id: 'u1001', child_id: 'u2001' })
  })
})
