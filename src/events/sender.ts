import type { FastifyBaseLogger } from 'fastify'
import type { Pool } from '../db/pool.js'
import type { ClientRegistry, JournalClient } from '../oidc-provider/clients.js'
import type { SigningKeys } from '../oidc-provider/keys.js'
import { keepAliveRequest } from '../upstream/keep-alive-fetch.js'
import type { EventMetrics } from './metrics.js'
import type { EventNotifier } from './notifier.js'
import { claimDue, nextDueAt, settle, type OutboxRow, type Settlement } from './outbox.js'
import { signOutboxToken } from './tokens.js'

/**
 * Pushes the outbox to the journals, from every instance at once:
 *
 *   1. claim    up to BATCH due rows of the clients this instance knows, FOR UPDATE SKIP LOCKED, each
 *               leased for LEASE_S (outbox.ts claimDue): two instances never hold the same row
 *   2. sign     the SET or logout token, with the key that signs now (tokens.ts)
 *   3. send     POST, one token per request, TIMEOUT_MS at most:
 *                 SET          → events_endpoint, `application/secevent+jwt` (RFC 8935 §2)
 *                 logout token → backchannel_logout_uri, form `logout_token=…` (Back-Channel Logout 1.0 §2.5)
 *   4. settle   2xx: delivered (RFC 8935 answers 202, back-channel logout 200);
 *               400: refused for good — the journal understood and said no (RFC 8935 §2.3), kept with
 *                    its err and description for the console, never retried;
 *               anything else, a timeout, a redirect: retried 1 s, 2 s, 4 s … up to an hour apart,
 *                    for 72 hours, then given up (outbox.ts settle)
 *   5. sleep    until a notification (notifier.ts), the next row falls due, or IDLE_MS
 *
 * Only clients with an endpoint in this instance's CLIENTS_FILE are claimed; a row of one that has
 * since dropped the endpoint for that kind of token is refused (`unregistered`), shown in the console.
 */
const BATCH = 20
const LEASE_S = 60
const TIMEOUT_MS = 10_000
const IDLE_MS = 5_000
const AFTER_ERROR_MS = 5_000

interface Target {
  url: string
  contentType: string
  body: (token: string) => string
}

function targetOf(client: JournalClient | undefined, row: OutboxRow): Target | undefined {
  if (row.kind === 'set') {
    return client?.events?.delivery === 'push' ? { url: client.events.endpoint, contentType: 'application/secevent+jwt', body: (token) => token } : undefined
  }
  return client?.backchannelLogout
    ? { url: client.backchannelLogout.uri, contentType: 'application/x-www-form-urlencoded', body: (token) => new URLSearchParams({ logout_token: token }).toString() }
    : undefined
}

/** RFC 8935 §2.3: `{"err": code, "description": text}`; whatever else a 400 carries is shown as text, cut short. */
function refusalOf(body: Buffer): string {
  const text = body.subarray(0, 2000).toString('utf8')
  try {
    const parsed = JSON.parse(text) as { err?: unknown; description?: unknown }
    if (typeof parsed.err === 'string') return typeof parsed.description === 'string' ? `${parsed.err}: ${parsed.description}` : parsed.err
  } catch {
    // not JSON: keep the text
  }
  return text.trim() || 'refused without a reason'
}

export interface SenderDeps {
  db: Pool
  clients: ClientRegistry
  keys: SigningKeys
  issuer: string
  notifier: EventNotifier
  metrics: EventMetrics
  log: FastifyBaseLogger
}

export class EventSender {
  readonly #deps: SenderDeps
  readonly #clientIds: string[]
  #running: Promise<void> | undefined
  #stopped = false
  #wake: (() => void) | undefined
  /** A notification came while we were not sleeping: look again before sleeping. */
  #poked = false
  #unsubscribe: (() => void) | undefined

  constructor(deps: SenderDeps) {
    this.#deps = deps
    this.#clientIds = deps.clients.all().filter((c) => c.events?.delivery === 'push' || c.backchannelLogout).map((c) => c.clientId)
  }

  /** Whether this instance has anything to push (otherwise it never starts). */
  get needed(): boolean {
    return this.#clientIds.length > 0
  }

  start(): void {
    if (!this.needed || this.#running) return
    const served = new Set(this.#clientIds)
    this.#unsubscribe = this.#deps.notifier.subscribe((clientId) => {
      if (clientId !== '' && !served.has(clientId)) return
      this.#poked = true
      this.#wake?.()
    })
    this.#running = this.#loop()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#poked = true
    this.#unsubscribe?.()
    this.#wake?.()
    await this.#running
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      let pauseMs: number
      this.#poked = false
      try {
        const rows = await claimDue(this.#deps.db, this.#clientIds, BATCH, LEASE_S)
        if (rows.length > 0) {
          await Promise.all(rows.map((row) => this.#deliver(row)))
          continue
        }
        const due = await nextDueAt(this.#deps.db, this.#clientIds)
        pauseMs = due ? Math.min(Math.max(due.getTime() - Date.now(), 0), IDLE_MS) : IDLE_MS
      } catch (err) {
        if (this.#stopped) break
        this.#deps.log.warn({ err }, 'events: the outbox could not be read; trying again')
        pauseMs = AFTER_ERROR_MS
      }
      if (pauseMs > 0 && !this.#poked) await this.#sleep(pauseMs)
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = () => {
        this.#wake = undefined
        done()
      }
    })
  }

  async #deliver(row: OutboxRow): Promise<void> {
    const { db, clients, keys, issuer, metrics, log } = this.#deps
    const target = targetOf(clients.get(row.clientId), row)
    let settlement: Settlement
    if (!target) {
      // The client dropped its endpoint since the row was queued (the claim only takes clients with one).
      settlement = { outcome: 'refused', status: 'unregistered', error: 'the client has no endpoint for this event any more' }
    } else {
      settlement = await this.#send(target, await signOutboxToken(keys, issuer, row))
    }
    const settled = await settle(db, row, settlement)
    if (!settled) return
    const logged = { client: row.clientId, kind: row.kind, jti: row.jti, attempt: row.attempts, status: settlement.status }
    if (settled.status === 'delivered') {
      metrics.delivered(row.clientId, row.kind, settled.latencySeconds)
      log.debug(logged, 'events: delivered')
    } else if (settled.status === 'failed') {
      metrics.failed(row.clientId, row.kind, settlement.outcome === 'refused' ? 'refused' : 'given_up')
      log.warn({ ...logged, error: settlement.outcome === 'delivered' ? undefined : settlement.error }, settlement.outcome === 'refused' ? 'events: refused by the journal' : 'events: given up after 72 hours')
    } else {
      metrics.attemptFailed(row.clientId, row.kind)
      log.info(logged, 'events: delivery failed; will retry')
    }
  }

  async #send(target: Target, token: string): Promise<Settlement> {
    try {
      const res = await keepAliveRequest(target.url, {
        method: 'POST',
        headers: { 'content-type': target.contentType, accept: 'application/json' },
        body: target.body(token),
        timeoutMs: TIMEOUT_MS,
      })
      const status = String(res.status)
      if (res.status >= 200 && res.status < 300) return { outcome: 'delivered', status }
      if (res.status === 400) return { outcome: 'refused', status, error: refusalOf(res.body) }
      return { outcome: 'retry', status, error: null }
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError'
      return { outcome: 'retry', status: timeout ? 'timeout' : 'network_error', error: timeout ? `no answer within ${TIMEOUT_MS} ms` : (err as Error).message }
    }
  }
}
