import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveLink } from '../../src/linking/links.js'
import { startJournalWorld, type JournalWorld } from '../e2e/journal-world.js'
import { HttpBrowser } from '../helpers/http-browser.js'

/**
 * The demo journal is the integration everyone copies: its forms that change something — «Отвязать
 * учётную запись Госуслуг», «Привязать…», «Выйти» — carry the session's token, and a post from
 * another site (no token, or someone else's) changes nothing.
 */
describe('the demo journal’s forms', () => {
  let w: JournalWorld
  const linked = async (id: string) => (await w.db.pool.query('SELECT 1 FROM links WHERE journal_user_id = $1', [id])).rows.length === 1

  beforeAll(async () => {
    w = await startJournalWorld()
    await withTransaction(w.db.pool, (tx) =>
      saveLink(tx, { journalUserId: w.journal.sampleLogin, upstreamSubject: 'forms-test-subject', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: 'forms-test-subject' } }),
    )
  })
  afterAll(async () => w?.close())

  async function signedIn(): Promise<HttpBrowser> {
    const browser = new HttpBrowser('127.0.0.1')
    const answer = await browser.post('/login', { login: w.journal.sampleLogin, password: w.journal.password }, w.journal.url)
    expect(answer.status).toBe(303)
    return browser
  }

  it('an unlink posted without the page’s token is refused and the link stays', async () => {
    const browser = await signedIn()
    for (const fields of [{}, { _csrf: 'made-up' }] as Record<string, string>[]) {
      const page = await browser.post('/settings/gosuslugi/unlink', fields, w.journal.url)
      expect(page.status).toBe(403)
      expect(page.body).toContain('Страница устарела')
    }
    expect((await browser.post('/settings/gosuslugi', {}, w.journal.url)).status).toBe(403)
    expect(await linked(w.journal.sampleLogin)).toBe(true)
  })

  it('«Отвязать учётную запись Госуслуг» pressed on the settings page unlinks', async () => {
    const browser = await signedIn()
    const settings = await browser.get('/settings', w.journal.url)
    expect(settings.body).toContain('Учётная запись Госуслуг привязана')
    const answer = await browser.press(settings, 'Отвязать учётную запись Госуслуг')
    expect(answer.status).toBe(200)
    expect(answer.body).toContain('Учётная запись Госуслуг отвязана')
    expect(await linked(w.journal.sampleLogin)).toBe(false)
  })
})
