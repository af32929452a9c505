import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { purgeFailedAttempts, recordFailedAttempt } from '../../src/linking/failed-attempts.js'
import type { VerifiedPerson } from '../../src/upstream/types.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

const person: VerifiedPerson = {
  subject: '1000555', issuer: 'http://esia.test/', trusted: true, level: 'PR', childConsent: false,
  lastName: 'Кузнецова', firstName: 'Татьяна', middleName: 'Александровна', birthDate: '1985-04-12',
  snils: '11223344595', authMethods: ['PWD'], authTime: null,
}

describe('failed attempts', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db.drop())

  it('keeps the ЕСИА-side names for support but the SNILS only as HMAC', async () => {
    const id = await recordFailedAttempt(db.pool, TEST_SECRETS.snilsHmacKey, { flow: 'link', reasons: ['mismatch:last_name'], person })
    const { rows } = await db.pool.query('SELECT person_last_name, encode(person_snils_hmac, $2) AS hmac, row_to_json(f)::text AS everything FROM failed_attempts f WHERE id = $1', [id, 'hex'])
    expect(rows[0].person_last_name).toBe('Кузнецова')
    expect(rows[0].hmac).toHaveLength(64)
    expect(rows[0].everything).not.toContain('11223344595')
  })

  it('destroys attempts past the retention period and records what was destroyed', async () => {
    const old = await recordFailedAttempt(db.pool, TEST_SECRETS.snilsHmacKey, { flow: 'login', reasons: ['not_found'], person })
    await db.pool.query(`UPDATE failed_attempts SET at = now() - interval '31 days' WHERE id = $1`, [old])
    expect(await purgeFailedAttempts(db.pool, 30)).toBe(1)
    expect((await db.pool.query('SELECT 1 FROM failed_attempts WHERE id = $1', [old])).rowCount).toBe(0)
    const { rows } = await db.pool.query(`SELECT actor_kind, details FROM audit_events WHERE type = 'data.destroyed'`)
    expect(rows).toEqual([{ actor_kind: 'system', details: expect.objectContaining({ table: 'failed_attempts', count: 1, retention_days: 30 }) }])
    // Nothing left to purge: no empty destruction record.
    expect(await purgeFailedAttempts(db.pool, 30)).toBe(0)
    expect((await db.pool.query(`SELECT 1 FROM audit_events WHERE type = 'data.destroyed'`)).rowCount).toBe(1)
  })
})
