import { writeFile } from 'node:fs/promises'
import { outcomeDescription } from '../../src/matching/outcome.js'
import path from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateGostKeyPair, gostCertificateHash, gostEngineAvailable } from '../../src/upstream/signers/openssl-gost.js'
import { journalBasicAuth } from '../helpers/app.js'
import { loginAtMock, type TestMockEsia } from '../helpers/mock-esia.js'
import { REDIRECT_URI } from '../oidc-provider/helpers.js'
import { Browser, textOf } from './browser.js'
import { startFlowWorld, type FlowWorld } from './helpers.js'
import { countRows, LOGIN_REDIRECT, loginJourney, StockJournal } from './login-helpers.js'

const gost = await gostEngineAvailable()
if (!gost) console.warn('[GOST flows] skipped: OpenSSL has no GOST engine here (apt-get install libengine-gost-openssl)')

/**
 * The link and login flows with real GOST, in the ЕСИА dialect: the bridge signs `client_secret`
 * through ESIA_SIGNER=command with the OpenSSL-GOST command of docs/operations.md, the mock checks the
 * signature and `client_certificate_hash` as ЕСИА does, and signs its tokens GOST3410_2012_256,
 * which the bridge verifies with OpenSSL. Each way of getting GOST wrong fails with ЕСИА's code or
 * our reason, and writes no link, no code, no successful login.
 */
describe.skipIf(!gost)('link and login with real GOST against the mock ЕСИА', () => {
  const worlds: FlowWorld[] = []
  const world = async (env: (mock: TestMockEsia) => Promise<Record<string, string>> = async () => ({})) => {
    const w = await startFlowWorld({ upstream: 'esia', mock: { gost: { tokens: true } }, env })
    worlds.push(w)
    return w
  }
  afterAll(async () => {
    await Promise.all(worlds.map((w) => w.close()))
  })

  /** «Привязать…» from the journal's intent to the bridge's answer to the callback. */
  async function link(w: FlowWorld, journalUserId: string, persona: string) {
    const intent = await w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: { authorization: journalBasicAuth() }, payload: { journal_user_id: journalUserId, redirect_uri: REDIRECT_URI, state: `s-${journalUserId}` } })
    expect(intent.statusCode).toBe(201)
    const { intent_id: id, url } = intent.json<{ intent_id: string; url: string }>()
    const browser = new Browser(w.app)
    const toEsia = await browser.press(await browser.get(url), 'Перейти')
    const back = await loginAtMock(toEsia.location!, persona)
    let leaving = await browser.get(`${back.pathname}${back.search}`)
    let page: string | undefined
    if (leaving.location === `/link/${id}`) {
      page = textOf((await browser.get(leaving.location)).body)
      leaving = await browser.press(await browser.get(`/link/${id}`), 'Вернуться в журнал')
    }
    const code = new URL(leaving.location!).searchParams.get('code')!
    const token = await w.app.inject({
      method: 'POST', url: '/oauth2/token',
      headers: { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }).toString(),
    })
    return { token: decodeJwt(token.json<{ link_token: string }>().link_token), page }
  }

  describe('configured right', () => {
    let w: FlowWorld
    beforeAll(async () => {
      w = await world()
    })

    it('runs the bridge in the ЕСИА dialect with the documented OpenSSL-GOST command and GOST token keys', () => {
      expect(w.config.idp).toMatchObject({ kind: 'esia', esia: { signer: 'command', signerCommand: `openssl dgst -engine gost -md_gost12_256 -sign ${w.mock.gost!.keyFile}`, certHash: w.mock.gost!.certHash, tokenKeys: w.mock.gost!.tokenCertFile } })
    })

    it('the link flow links the card', async () => {
      const { token } = await link(w, 'u1001', 'parent-two-schools')
      expect(token).toMatchObject({ sub: 'u1001', result: 'linked', reasons: [] })
      expect((await w.db.pool.query(`SELECT method FROM links WHERE journal_user_id = 'u1001'`)).rows).toEqual([{ method: 'link' }])
    })

    it('the login flow logs the person in, and the next login goes through the link', async () => {
      const journal = new StockJournal(w)
      for (let i = 0; i < 2; i++) {
        const { landed, tx } = await loginJourney(w, journal, 'name-with-yo')
        expect(landed.location!.startsWith(LOGIN_REDIRECT)).toBe(true)
        const { claims } = await journal.receive(landed.location!, tx)
        expect(claims).toMatchObject({ sub: 'u1401', amr: ['esia'], acr: 'esia:confirmed' })
        expect((await w.db.pool.query(`SELECT count(*)::int AS n FROM links WHERE journal_user_id = 'u1401'`)).rows[0].n).toBe(1)
      }
    })
  })

  const other = gost ? generateGostKeyPair('/CN=another system') : undefined
  const failures: { what: string; env: (mock: TestMockEsia) => Promise<Record<string, string>>; reason: string }[] = [
    {
      what: 'CryptoPro\'s byte order left unreversed',
      env: async (mock) => ({ ESIA_SIGNER_COMMAND: `openssl dgst -engine gost -md_gost12_256 -sign ${mock.gost!.keyFile} | perl -0777 -pe '$_ = reverse $_'` }),
      reason: 'idp_error:ESIA-007053',
    },
    {
      what: 'another certificate\'s hash',
      env: async () => ({ ESIA_CERT_HASH: await gostCertificateHash((await other!).certificatePem) }),
      reason: 'idp_error:ESIA-007053',
    },
    {
      what: 'GOST tokens signed by a key not configured in ESIA_TOKEN_KEYS',
      env: async (mock) => {
        const file = path.join(path.dirname(mock.gost!.keyFile), 'not-esia.cer')
        await writeFile(file, (await other!).certificatePem)
        return { ESIA_TOKEN_KEYS: file }
      },
      reason: 'idp_error:token_signature_invalid',
    },
  ]

  for (const f of failures) {
    it(`${f.what}: link and login both fail with ${f.reason}, nothing written`, async () => {
      // The ИС registered at the mock as before; the bridge configured wrong in one way.
      const w = await world(f.env)
      const before = await countRows(w)
      const { token, page } = await link(w, 'u1501', 'double-surname')
      expect(token).toMatchObject({ sub: 'u1501', result: 'failed', reasons: [f.reason] })
      expect(page).toContain('Не удалось войти через Госуслуги')

      const journal = new StockJournal(w)
      const { landed, tx, browser } = await loginJourney(w, journal, 'no-patronymic')
      const failurePage = await browser.get(landed.location!)
      expect(textOf(failurePage.body)).toContain('Не удалось войти через Госуслуги')
      const refused = await journal.receive((await browser.press(failurePage, 'Вернуться в журнал')).location!, tx).catch((err: unknown) => err)
      expect(refused).toMatchObject({ error: 'access_denied', error_description: outcomeDescription([f.reason]) })

      const after = await countRows(w)
      expect(after).toMatchObject({ links: before.links, succeeded: before.succeeded, failed: before.failed + 1 })
      expect((await w.db.pool.query(`SELECT count(*)::int AS n FROM links WHERE journal_user_id IN ('u1501', 'u1601')`)).rows[0].n).toBe(0)
      expect((await w.db.pool.query(`SELECT reasons FROM failed_attempts WHERE flow = 'login'`)).rows).toEqual([{ reasons: [f.reason] }])
    })
  }
})
