import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { expect } from 'vitest'
import { JOURNAL_CLIENT, journalBasicAuth } from '../helpers/app.js'
import { loginAtMock } from '../helpers/mock-esia.js'
import { REDIRECT_URI } from '../oidc-provider/helpers.js'
import { Browser, type Page } from './browser.js'
import type { FlowWorld } from './helpers.js'
import { loginJourney, type StockJournal } from './login-helpers.js'

/** A parent's journeys for the guardianship tests: link a card, log in with scope `children`. */

export const KID_SCOPES = 'kid_fullname kid_birthdate kid_snils'

export interface LinkToken extends JWTPayload {
  result: string
  children?: string[]
  children_checked_at?: number
}

/** «Привязать…» in the journal, «Перейти», Госуслуги as `persona`, back; through the result page if one is shown. */
export async function linkAs(w: FlowWorld, card: string, persona: string): Promise<{ token: LinkToken; resultPage: Page | undefined }> {
  const state = `state-${Math.random()}`
  const created = await w.app.inject({ method: 'POST', url: '/api/v1/link-intents', headers: { authorization: journalBasicAuth() }, payload: { journal_user_id: card, redirect_uri: REDIRECT_URI, state } })
  expect(created.statusCode).toBe(201)
  const browser = new Browser(w.app)
  const toEsia = await browser.press(await browser.get(created.json<{ url: string }>().url), 'Перейти')
  const back = await loginAtMock(toEsia.location!, persona)
  let leaving = await browser.get(`${back.pathname}${back.search}`)
  let resultPage: Page | undefined
  if (leaving.location?.startsWith('/link/')) {
    resultPage = await browser.get(leaving.location)
    expect(resultPage.status).toBe(200)
    leaving = await browser.press(resultPage, 'Вернуться в журнал')
  }
  const code = new URL(leaving.location!).searchParams.get('code')!
  const res = await w.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: journalBasicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }).toString(),
  })
  const { payload } = await jwtVerify<LinkToken>(res.json<{ link_token: string }>().link_token, createRemoteJWKSet(new URL(`${w.url}/oauth2/jwks`)), { issuer: w.url, audience: JOURNAL_CLIENT.client_id, typ: 'link+jwt' })
  return { token: payload, resultPage }
}

/** «Войти через Госуслуги» with scope `children` by default: the ID token's and userinfo's claims. */
export async function loginAs(w: FlowWorld, journal: StockJournal, persona: string, scope = 'openid children') {
  const journey = await loginJourney(w, journal, persona, { extra: { scope } })
  const { claims, userinfo } = await journal.receive(journey.landed.location!, journey.tx)
  return { claims, userinfo }
}
