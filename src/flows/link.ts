import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { withTransaction, type PoolClient } from '../db/pool.js'
import { publicRateLimit } from '../http/rate-limit.js'
import { cardNames } from '../guardians/checks.js'
import { RETRY_AFTER_S } from '../http/unavailable.js'
import { writeAudit } from '../linking/audit.js'
import { recordFailedAttempt } from '../linking/failed-attempts.js'
import { findLink, LinkConflictError, saveLink } from '../linking/links.js'
import { loadCardForMatching } from '../matching/candidates.js'
import { matchUser } from '../matching/match.js'
import { upstreamErrorReason } from '../matching/messages.js'
import { snilsDigits, snilsHmac } from '../matching/snils.js'
import type { JournalUserForMatching, MatchField, ReasonCode } from '../matching/types.js'
import { createAuthorizationCode, type LinkOutcome } from '../oidc-provider/codes.js'
import { UpstreamError, type VerifiedPerson } from '../upstream/types.js'
import { bindBrowser, browserHash } from './browser.js'
import { registerCallbackFinisher, type CallbackContext } from './callback.js'
import { consumeLinkIntent, lockLinkIntent, openLinkIntent, purgeLinkIntents, readyLinkIntent, returnLinkIntent, type LinkIntent } from './link-intents.js'
import { confirmationPage, intentGonePage, linkedChildrenPage, otherBrowserPage, resultPage, upstreamStartFailedPage } from './link-pages.js'
import { flowMetrics, type FlowMetrics } from './metrics.js'
import { htmlErrorHandler, sendPage } from './pages.js'
import { cardChildren, checkChildren, registerGuardianPurge } from './guardians.js'
import { personOf, startUpstream, type PersonResult, type UpstreamResult } from './upstream-leg.js'

/**
 * The link flow, «Привязать пользователя портала гос. услуг» (docs/architecture.md, «How a link travels»; docs/sources.md: Губкинский slides), step by step:
 *
 *   1. show      GET  /link/{id}         confirmation page; the first visit binds the intent to the browser
 *   2. start     POST /link/{id}/start   «Перейти»: to Госуслуги with state, nonce and PKCE kept server-side
 *      cancel    POST /link/{id}/cancel  «Отменить»: back to the journal with result `cancelled`
 *   3. callback  GET  /auth/callback     (callback.ts) takes the flow state once and asks the upstream → finishLink
 *   4. match     the verified person against this intent's journal user, field by field
 *   5. decide    linked, or failed with reasons (a conflict on saving is a failure too)
 *   6. record    link + audit (and a parent's children compared with Госуслуги, guardians.ts), or
 *                audit + failed attempt, with the intent's end, in one transaction
 *   7. finish    linked → the journal's redirect_uri?code&state&iss; failed, or linked with children
 *                Госуслуги could not confirm → the result page, whose «Вернуться в журнал»
 *                (POST /link/{id}/return) mints the code then
 *
 * The journal redeems the code at /oauth2/token for a link token saying what happened.
 */

const IntentParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) })
type IntentParams = Static<typeof IntentParams>
type IntentRequest = FastifyRequest<{ Params: IntentParams }>

/** The journal's own site, for links back that carry nothing (its redirect URIs are registered). */
const journalHome = (intent: LinkIntent) => `${new URL(intent.redirectUri).origin}/`

/**
 * Back to the journal: RFC 6749 §4.1.2 response with RFC 9207 `iss`, so the journal checks it came
 * from us — but only to a redirect URI still registered: one removed from CLIENTS_FILE meanwhile
 * (a compromised domain, say) gets no code.
 */
function backToJournal(app: FastifyInstance, reply: FastifyReply, intent: LinkIntent, code: string): FastifyReply {
  if (!app.clients.hasRedirectUri(intent.clientId, intent.redirectUri)) return sendPage(reply, 410, intentGonePage(undefined))
  const url = new URL(intent.redirectUri)
  url.searchParams.set('code', code)
  url.searchParams.set('state', intent.clientState)
  url.searchParams.set('iss', app.config.publicUrl)
  return reply.redirect(url.toString(), 303)
}

/** Ends an intent with its outcome and mints the code the person takes back, in one transaction. */
function mintLinkCode(tx: PoolClient, intent: LinkIntent, outcome: LinkOutcome): Promise<string> {
  return createAuthorizationCode(tx, { kind: 'link', clientId: intent.clientId, redirectUri: intent.redirectUri, journalUserId: intent.journalUserId, outcome })
}

// ── 1. show ─────────────────────────────────────────────────────────────────────────────────────

async function show(app: FastifyInstance, request: IntentRequest, reply: FastifyReply) {
  const view = await openLinkIntent(app.db, request.params.id, bindBrowser(request, reply))
  switch (view.state) {
    case 'unknown':
      return sendPage(reply, 404, intentGonePage(undefined))
    case 'other_browser':
      return sendPage(reply, 403, otherBrowserPage(journalHome(view.intent)))
    case 'expired':
    case 'done':
      return sendPage(reply, 410, intentGonePage(journalHome(view.intent)))
    case 'result': {
      const { outcome } = view.intent
      if (outcome.result === 'linked' && outcome.children) {
        const names = await cardNames(app.db, outcome.children.unconfirmed.map((c) => c.childId))
        return sendPage(reply, 200, linkedChildrenPage({ intentId: view.intent.id, children: outcome.children, names, csrfToken: reply.generateCsrf() }))
      }
      return sendPage(reply, 200, resultPage({ intentId: view.intent.id, outcome, csrfToken: reply.generateCsrf() }))
    }
    case 'ready': {
      const { intent } = view
      const linked = (await findLink(app.db, intent.journalUserId)) !== undefined
      const journalName = app.clients.get(intent.clientId)?.name ?? intent.clientId
      return sendPage(reply, 200, confirmationPage({ intentId: intent.id, journalName, linked, csrfToken: reply.generateCsrf() }))
    }
  }
}

// ── 2. start / cancel ───────────────────────────────────────────────────────────────────────────

async function start(app: FastifyInstance, metrics: FlowMetrics, request: IntentRequest, reply: FastifyReply) {
  const browser = browserHash(request)
  const intent = await readyLinkIntent(app.db, request.params.id, browser)
  // Not startable from here (expired, used, other browser): the page explains which.
  if (!intent || !browser) return reply.redirect(`/link/${request.params.id}`, 303)
  let authorizeUrl: string
  try {
    authorizeUrl = await startUpstream(app, browser, { kind: 'link', linkIntentId: intent.id, authorizeRequest: null })
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err
    request.log.warn({ kind: err.kind, code: err.code }, 'could not start the upstream login')
    return sendPage(reply.header('retry-after', String(RETRY_AFTER_S)), 503, upstreamStartFailedPage({ intentId: intent.id, reason: upstreamErrorReason(err), journalHome: journalHome(intent) }))
  }
  metrics.started('link')
  return reply.redirect(authorizeUrl, 303)
}

async function cancel(app: FastifyInstance, metrics: FlowMetrics, request: IntentRequest, reply: FastifyReply) {
  const intent = await readyLinkIntent(app.db, request.params.id, browserHash(request))
  if (!intent) return reply.redirect(`/link/${request.params.id}`, 303)
  const outcome: LinkOutcome = { result: 'cancelled', reasons: [], evidence: [], replaced: false }
  const code = await withTransaction(app.db, async (tx) => ((await consumeLinkIntent(tx, intent.id, outcome, true)) ? mintLinkCode(tx, intent, outcome) : undefined))
  if (!code) return reply.redirect(`/link/${request.params.id}`, 303)
  metrics.finished('link', 'cancelled')
  return backToJournal(app, reply, intent, code)
}

// ── 4. match ────────────────────────────────────────────────────────────────────────────────────

type Verdict = { link: true; person: VerifiedPerson; evidence: MatchField[] } | { link: false; reasons: ReasonCode[]; evidence: MatchField[] }

function match(app: FastifyInstance, card: JournalUserForMatching | undefined, upstream: PersonResult): Verdict {
  if (!upstream.ok) return { link: false, reasons: [upstreamErrorReason(upstream.error)], evidence: [] }
  if (!card) return { link: false, reasons: ['not_found'], evidence: [] }
  const digits = snilsDigits(upstream.person.snils)
  const outcome = matchUser(card, upstream.person, { snilsHmac: digits ? snilsHmac(app.config.secrets.snilsHmacKey, digits) : null })
  return outcome.outcome === 'matched' ? { link: true, person: upstream.person, evidence: outcome.evidence } : { link: false, reasons: outcome.reasons, evidence: outcome.evidence }
}

// ── 5. decide (saving may still refuse) and 6. record ───────────────────────────────────────────

interface Attempt {
  intent: LinkIntent
  card: JournalUserForMatching | undefined
  person: VerifiedPerson | null
}

/**
 * Saves the link, or learns that it cannot be saved. Under a savepoint of our own: saveLink may
 * already have removed the card's old link when it meets a conflict, and a refused attempt must
 * leave the old link in place.
 */
async function trySaveLink(tx: PoolClient, intent: LinkIntent, { person, evidence }: Verdict & { link: true }): Promise<LinkOutcome | { conflict: ReasonCode; otherJournalUserId?: string }> {
  await tx.query('SAVEPOINT link_attempt')
  try {
    const { replaced } = await saveLink(tx, {
      journalUserId: intent.journalUserId,
      upstreamSubject: person.subject,
      method: 'link',
      evidence,
      trusted: person.trusted,
      level: person.level,
      actor: { kind: 'person', id: person.subject },
      details: { client_id: intent.clientId, upstream_issuer: person.issuer },
    })
    await tx.query('RELEASE SAVEPOINT link_attempt')
    return { result: 'linked', reasons: [], evidence, replaced: replaced !== undefined }
  } catch (err) {
    if (!(err instanceof LinkConflictError)) throw err
    await tx.query('ROLLBACK TO SAVEPOINT link_attempt')
    return err.code === 'already_linked_elsewhere' ? { conflict: 'already_linked_elsewhere', otherJournalUserId: err.otherJournalUserId } : { conflict: 'not_found' }
  }
}

/** A failed attempt: audit event (actor = the person) and the record support reads, together. */
async function recordFailure(app: FastifyInstance, tx: PoolClient, { intent, card, person }: Attempt, reasons: ReasonCode[], evidence: MatchField[], details: Record<string, unknown>): Promise<LinkOutcome> {
  const attemptId = await recordFailedAttempt(tx, app.config.secrets.snilsHmacKey, {
    flow: 'link',
    reasons,
    journalUserId: intent.journalUserId,
    organizationId: card?.organizationId ?? null,
    person,
    details: { client_id: intent.clientId, evidence, ...details },
  })
  await writeAudit(tx, {
    type: 'link.failed',
    actor: { kind: 'person', id: person?.subject ?? null },
    journalUserId: intent.journalUserId,
    organizationId: card?.organizationId ?? null,
    upstreamSubject: person?.subject ?? null,
    reason: reasons.join(' '),
    details: { reasons, evidence, client_id: intent.clientId, failed_attempt_id: attemptId, ...details },
  })
  return { result: 'failed', reasons, evidence, replaced: false }
}

async function decideAndRecord(app: FastifyInstance, tx: PoolClient, attempt: Attempt, verdict: Verdict, upstream: PersonResult, login: UpstreamResult): Promise<LinkOutcome> {
  if (verdict.link) {
    const saved = await trySaveLink(tx, attempt.intent, verdict)
    if ('result' in saved) return { ...saved, ...(await checkLinkedChildren(app, tx, attempt.intent, verdict.person, login)) }
    return recordFailure(app, tx, attempt, [saved.conflict], verdict.evidence, saved.otherJournalUserId ? { other_journal_user_id: saved.otherJournalUserId } : {})
  }
  const upstreamDetails = upstream.ok ? { upstream_issuer: upstream.person.issuer } : { upstream_error: upstream.error.kind }
  return recordFailure(app, tx, attempt, verdict.reasons, verdict.evidence, upstreamDetails)
}

/**
 * A parent's children, compared at every link (src/flows/guardians.ts) with the children that came
 * with the person. Their state never decides the link; it goes into the link token and, when a
 * child could not be confirmed, onto a result page before the way back.
 */
async function checkLinkedChildren(app: FastifyInstance, tx: PoolClient, intent: LinkIntent, person: VerifiedPerson, login: UpstreamResult): Promise<Pick<LinkOutcome, 'children'>> {
  if (!login.ok) return {}
  await checkChildren(app, tx, { subject: person.subject, kids: person.kids, trigger: 'link', clientId: intent.clientId })
  const children = await cardChildren(tx, intent.journalUserId)
  return children ? { children: { ...children, withheld: login.login.childrenAccess === 'withheld' } } : {}
}

/**
 * Whether a linked parent should read about the children before going back: a child whose data
 * differs or who is not among the children on Госуслуги, or children not checked because the
 * person did not allow it. Not when the installation never asked Госуслуги for children.
 */
function childrenNeedAWord(outcome: LinkOutcome): boolean {
  const children = outcome.children
  if (outcome.result !== 'linked' || !children) return false
  return children.unconfirmed.some((c) => c.state !== 'unchecked') || (children.withheld && children.unconfirmed.length > 0)
}

// ── 3 → 7. the callback's finisher ──────────────────────────────────────────────────────────────

async function finishLink(app: FastifyInstance, metrics: FlowMetrics, { request, reply, flow, upstream: login }: CallbackContext) {
  const intentId = flow.linkIntentId
  // Linking compares the card with the person's data, so it is always fetched.
  const upstream = await personOf(login)
  const ended = await withTransaction(app.db, async (tx) => {
    // Locked, so two callbacks for one intent (a double-clicked «Перейти») end it once.
    const intent = intentId ? await lockLinkIntent(tx, intentId) : undefined
    if (!intent) return undefined
    const attempt: Attempt = { intent, card: await loadCardForMatching(tx, intent.journalUserId, { lock: true }), person: upstream.ok ? upstream.person : null }
    const outcome = await decideAndRecord(app, tx, attempt, match(app, attempt.card, upstream), upstream, login)
    // Straight back when linked, unless the children need a word first (the result page mints the code then).
    const straightBack = outcome.result === 'linked' && !childrenNeedAWord(outcome)
    await consumeLinkIntent(tx, intent.id, outcome, straightBack)
    return { intent, outcome, code: straightBack ? await mintLinkCode(tx, intent, outcome) : undefined }
  })
  if (!ended) return sendPage(reply, 410, intentGonePage(undefined))

  const { intent, outcome, code } = ended
  metrics.finished('link', outcome.result)
  request.log.info({ result: outcome.result, reasons: outcome.reasons, client: intent.clientId }, 'link flow finished')
  if (code) return backToJournal(app, reply, intent, code)
  if (outcome.result !== 'linked') metrics.failed('link', outcome.reasons)
  // Post/redirect/get: the result page survives a reload, and the code is minted when the person leaves.
  return reply.redirect(`/link/${intent.id}`, 303)
}

// ── the way back from a result page ─────────────────────────────────────────────────────────────

async function returnToJournal(app: FastifyInstance, request: IntentRequest, reply: FastifyReply) {
  const back = await withTransaction(app.db, async (tx) => {
    const intent = await returnLinkIntent(tx, request.params.id, browserHash(request))
    return intent && { intent, code: await mintLinkCode(tx, intent, intent.outcome) }
  })
  if (!back) return reply.redirect(`/link/${request.params.id}`, 303)
  return backToJournal(app, reply, back.intent, back.code)
}

// ── routes ──────────────────────────────────────────────────────────────────────────────────────

export async function linkFlowRoutes(app: FastifyInstance): Promise<void> {
  const metrics = flowMetrics(app)
  app.housekeeping.add({ name: 'link_intents', run: () => purgeLinkIntents(app.db) })
  registerGuardianPurge(app)
  registerCallbackFinisher(app, 'link', (ctx) => finishLink(app, metrics, ctx))

  const page = { schema: { hide: true, params: IntentParams }, config: publicRateLimit(app), errorHandler: htmlErrorHandler('link') }
  const form = { ...page, preHandler: app.csrfProtection }
  app.get<{ Params: IntentParams }>('/link/:id', page, (request, reply) => show(app, request, reply))
  app.post<{ Params: IntentParams }>('/link/:id/start', form, (request, reply) => start(app, metrics, request, reply))
  app.post<{ Params: IntentParams }>('/link/:id/cancel', form, (request, reply) => cancel(app, metrics, request, reply))
  app.post<{ Params: IntentParams }>('/link/:id/return', form, (request, reply) => returnToJournal(app, request, reply))
}
