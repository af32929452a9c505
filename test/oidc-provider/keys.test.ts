import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { Pool } from '../../src/db/pool.js'
import { ACTIVATION_DELAY_S, JWKS_MAX_AGE_S, RETIRED_KEY_GRACE_S, SigningKeys } from '../../src/oidc-provider/keys.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

/** A clock the test moves by hand. */
function clock(start = Date.parse('2025-09-01T08:00:00Z')) {
  let t = start
  return { now: () => new Date(t), advance: (seconds: number) => void (t += seconds * 1000) }
}

const kids = async (keys: SigningKeys) => (await keys.jwks()).keys.map((k) => k.kid).sort()

describe('signing keys: first start and rotation', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db.drop())

  it('several instances starting at once create exactly one key', async () => {
    const c = clock()
    const instances = Array.from({ length: 5 }, () => new SigningKeys({ db: db.pool, encryptionSecret: TEST_SECRETS.keysEncryptionKey, now: c.now }))
    const signers = await Promise.all(instances.map((k) => k.current()))
    expect(new Set(signers.map((s) => s.kid)).size).toBe(1)
    const { rows } = await db.pool.query('SELECT kid FROM signing_keys')
    expect(rows).toHaveLength(1)
  })

  it('publishes a rotated key at once, signs with it only after every JWKS cache has seen it, keeps the old one until its tokens expired', async () => {
    const c = clock()
    const keys = new SigningKeys({ db: db.pool, encryptionSecret: TEST_SECRETS.keysEncryptionKey, now: c.now })
    const old = await keys.current()

    const { kid: next, activatesAt } = await keys.rotate()
    expect(activatesAt.getTime() - c.now().getTime()).toBe(ACTIVATION_DELAY_S * 1000)
    expect(ACTIVATION_DELAY_S).toBeGreaterThan(JWKS_MAX_AGE_S)
    expect(ACTIVATION_DELAY_S).toBeGreaterThanOrEqual(600) // jose's default remote JWKS cacheMaxAge
    expect(await kids(keys)).toEqual([old.kid, next].sort())
    expect((await keys.current()).kid).toBe(old.kid)

    c.advance(ACTIVATION_DELAY_S - 1)
    expect((await keys.current()).kid).toBe(old.kid)
    c.advance(1)
    expect((await keys.current()).kid).toBe(next)
    expect(await kids(keys)).toEqual([old.kid, next].sort())

    c.advance(RETIRED_KEY_GRACE_S - 1)
    expect(await kids(keys)).toContain(old.kid)
    c.advance(1)
    expect(await kids(keys)).toEqual([next])
    expect(await keys.purgeExpired()).toBe(1)
    expect((await db.pool.query('SELECT kid FROM signing_keys')).rows.map((r) => r.kid)).toEqual([next])
  })

  it('a rotation made by another process (npm run keys:rotate) reaches a running instance without restart', async () => {
    const c = clock(Date.parse('2025-10-01T08:00:00Z'))
    const running = new SigningKeys({ db: db.pool, encryptionSecret: TEST_SECRETS.keysEncryptionKey, now: c.now })
    const before = await running.current()
    const command = new SigningKeys({ db: db.pool, encryptionSecret: TEST_SECRETS.keysEncryptionKey, now: c.now })
    const { kid } = await command.rotate()

    // The first JWKS answer after the refresh interval has it, however long the instance was idle:
    // whatever it publishes is cached for minutes.
    c.advance(61)
    expect(await kids(running)).toContain(kid)
    c.advance(ACTIVATION_DELAY_S)
    expect((await running.current()).kid).toBe(kid)
    expect(kid).not.toBe(before.kid)
  })

  it('cannot use the stored keys with another KEYS_ENCRYPTION_KEY', async () => {
    const stranger = new SigningKeys({ db: db.pool, encryptionSecret: 'another-keys-encryption-key-0123456789abcdef' })
    await expect(stranger.current()).rejects.toThrow()
  })
})

describe('signing keys on an idle instance', () => {
  it('are re-read on a timer, requests or not, until the app stops', async () => {
    const db = await createTestDatabase()
    onTestFinished(() => db.drop())
    let reads = 0
    const counted = {
      query: (text: string, values?: unknown[]) => {
        if (text.includes('FROM signing_keys')) reads++
        return db.pool.query(text, values)
      },
      connect: () => db.pool.connect(),
    } as unknown as Pool
    const keys = new SigningKeys({ db: counted, encryptionSecret: TEST_SECRETS.keysEncryptionKey, refreshMs: 50 })
    keys.start()
    await keys.current()
    const afterFirstUse = reads
    await expect.poll(() => reads, { timeout: 10_000 }).toBeGreaterThan(afterFirstUse + 2)
    await keys.stop()
    const stopped = reads
    await new Promise((r) => setTimeout(r, 300))
    expect(reads).toBe(stopped)
  })
})
