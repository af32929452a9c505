import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { upsertCard, upsertOrganization, validateCard } from '../../src/directory/cards.js'
import { saveLink } from '../../src/linking/links.js'
import { checkUpstreamIssuer, UpstreamIssuerChanged } from '../../src/linking/upstream-issuer.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

describe('the upstream the links were made with', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => db.drop())

  it('is recorded at the first start and may change while there are no links', async () => {
    expect(await checkUpstreamIssuer(db.pool, 'http://esia.gosuslugi.ru/', { development: false })).toBe('recorded')
    expect(await checkUpstreamIssuer(db.pool, 'http://esia.gosuslugi.ru/', { development: false })).toBe('same')
    expect(await checkUpstreamIssuer(db.pool, 'https://broker.example', { development: false })).toBe('moved')
  })

  it('stops a start against another provider once links exist: a subject means a person only with its issuer', async () => {
    await upsertOrganization(db.pool, { id: 'school-1', name: 'Школа № 1', kind: 'school' })
    const card = validateCard({ id: 'u1', organization_id: 'school-1', role: 'parent', last_name: 'Иванова', first_name: 'Мария' }, { snilsKey: TEST_SECRETS.snilsHmacKey })
    if (!card.ok) throw new Error(card.rejection.code)
    await upsertCard(db.pool, card.row)
    await withTransaction(db.pool, (tx) => saveLink(tx, { journalUserId: 'u1', upstreamSubject: '1000001', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000001' } }))
    await expect(checkUpstreamIssuer(db.pool, 'http://esia.gosuslugi.ru/', { development: false })).rejects.toBeInstanceOf(UpstreamIssuerChanged)
    await expect(checkUpstreamIssuer(db.pool, 'http://esia.gosuslugi.ru/', { development: false })).rejects.toThrow(/made with the upstream https:\/\/broker\.example/)
    // The bundled mock's development data is simply re-pointed.
    expect(await checkUpstreamIssuer(db.pool, 'http://127.0.0.1:3100/', { development: true })).toBe('moved')
  })
})
