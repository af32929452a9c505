import { freePort } from '../../src/http/free-port.js'
import { upsertCard, upsertOrganization, validateCard, type CardInput } from '../../src/directory/cards.js'
import type { Queryable } from '../../src/db/pool.js'
import { buildTestApp, JOURNAL_CLIENT, journalBasicAuth, TEST_SECRETS, type TestApp } from '../helpers/app.js'

/**
 * The real app listening on 127.0.0.1 with PUBLIC_URL = its own address: stock clients
 * (openid-client, jose's remote JWKS) talk to it over HTTP exactly as a journal would.
 */
export async function buildListeningApp(opts: Parameters<typeof buildTestApp>[0] = {}): Promise<TestApp & { url: string }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const t = await buildTestApp({ ...opts, env: { PUBLIC_URL: url, ...opts.env } })
  await t.app.listen({ port, host: '127.0.0.1' })
  return { ...t, url }
}

/** A journal card through the directory's own rules; its organisation is created when missing. */
export async function seedCard(db: Queryable, card: CardInput): Promise<void> {
  const { rows } = await db.query('SELECT 1 FROM organizations WHERE id = $1', [card.organization_id])
  if (rows.length === 0) await upsertOrganization(db, { id: card.organization_id, name: 'Школа № 1', kind: 'school' })
  const v = validateCard(card, { snilsKey: TEST_SECRETS.snilsHmacKey })
  if (!v.ok) throw new Error(v.rejection.message)
  await upsertCard(db, v.row)
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** POST /oauth2/token as the test journal, with Basic auth unless other headers are given. */
export function tokenRequest(t: TestApp, fields: Record<string, string>, headers: Record<string, string> = { authorization: journalBasicAuth() }) {
  return t.app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...FORM, ...headers }, payload: form(fields) })
}

export const REDIRECT_URI = JOURNAL_CLIENT.redirect_uris[1]!
