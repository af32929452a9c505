import type { FastifyBaseLogger } from 'fastify'
import type { Pool } from '../db/pool.js'
import type { ClientRegistry, JournalClient } from '../oidc-provider/clients.js'
import type { SigningKeys } from '../oidc-provider/keys.js'
import { keepAliveRequest } from '../upstream/keep-alive-fetch.js'
import type { EventMetrics } from './metrics.js'
import type { EventNotifier } from './notifier.js'
import { claimDue, deferEndpoint, nextDueAt, settle, type Endpoint, type OutboxRow, type Settlement } from './outbox.js'
import { signOutboxToken } from './tokens.js'

/**
 * Pushes the outbox to the journals, from every instance at once:
 *
 *   1. claim    due rows of the endpoints this instance knows, at most PER_ENDPOINT in flight for
 *               each (a client's events_endpoint or its backchannel_logout_uri) and CONCURRENT in
 *               all, FOR UPDATE SKIP LOCKED, each leased for LEASE_S (outbox.ts claimDue): two
 *               instances never hold the same row
 *   2. sign     the SET or logout token, with the key that signs now (tokens.ts)
 *   3. send     POST, one token per request, TIMEOUT_MS at most:
 *                 SET          → events_endpoint, `application/secevent+jwt` (RFC 8935 §2)
 *                 logout token → backchannel_logout_uri, form `logout_token=…` (Back-Channel Logout 1.0 §2.5)
 *   4. settle   2xx: delivered (RFC 8935 answers 202, back-channel logout 200);
 *               400: refused for good — the journal understood and said no (RFC 8935 §2.3), kept with
 *                    its err and description for the console, never retried;
 *               anything else, a timeout, a redirect: retried 1 s, 2 s, 4 s … up to an hour apart,
 *                    for 72 hours, then given up (outbox.ts settle)
 *   5. sleep    until a notification (notifier.ts), a delivery ends, the next row falls due, or IDLE_MS
 *
 * Deliveries run side by side, each freeing its slot as soon as it is settled: a journal that does
 * not answer holds PER_ENDPOINT slots for TIMEOUT_MS, and every other journal — and every logout
 * token — goes on being served meanwhile. After a timeout the endpoint's other rows wait until the
 * failed row is due again (outbox.ts deferEndpoint), here and on every other instance, so a journal
 * that hangs is tried a few rows at a time with backoff instead of holding slots without end.
 *
 * Only clients with an endpoint in this instance's CLIENTS_FILE are claimed; a row of one that has
 * since dropped the endpoint for that kind of token is refused (`unregistered`), shown in the console.
 */
const CONCURRENT = 20
export const PER_ENDPOINT = 4
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

const endpointKey = (e: Endpoint) => `${e.kind} ${e.clientId}`

export class EventSender {
  readonly #deps: SenderDeps
  readonly #endpoints: Endpoint[]
  #running: Promise<void> | undefined
  #stopped = false
  #wake: (() => void) | undefined
  /** A notification came, or a delivery ended, while we were not sleeping: look again before sleeping. */
  #poked = false
  #unsubscribe: (() => void) | undefined
  /** Deliveries in flight, and how many per endpoint. */
  readonly #inFlight = new Set<Promise<void>>()
  readonly #perEndpoint = new Map<string, number>()
  /** Endpoints this instance saw time out, and until when it leaves them alone (their rows say so too). */
  readonly #deferred = new Map<string, number>()
  /** Ends the requests in flight when the sender stops. */
  readonly #abort = new AbortController()

  constructor(deps: SenderDeps) {
    this.#deps = deps
    this.#endpoints = deps.clients.all().flatMap((c): Endpoint[] => [
      ...(c.events?.delivery === 'push' ? [{ clientId: c.clientId, kind: 'set' as const }] : []),
      ...(c.backchannelLogout ? [{ clientId: c.clientId, kind: 'logout' as const }] : []),
    ])
  }

  /** Whether this instance has anything to push (otherwise it never starts). */
  get needed(): boolean {
    return this.#endpoints.length > 0
  }

  start(): void {
    if (!this.needed || this.#running) return
    const served = new Set(this.#endpoints.map((e) => e.clientId))
    this.#unsubscribe = this.#deps.notifier.subscribe((clientId) => {
      if (clientId !== '' && !served.has(clientId)) return
      this.#poke()
    })
    this.#running = this.#loop()
  }

  /** Stops claiming; requests still in flight are cut short and settled for a retry. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#abort.abort()
    this.#poke()
    await this.#running
  }

  #poke(): void {
    this.#poked = true
    this.#wake?.()
  }

  /** Endpoints with a free slot that are not waiting out a timeout, and until when the first waiting one waits. */
  #open(now: number): { open: (Endpoint & { perEndpoint: number })[]; deferredUntil: number } {
    let deferredUntil = Infinity
    const open: (Endpoint & { perEndpoint: number })[] = []
    for (const e of this.#endpoints) {
      const key = endpointKey(e)
      const until = this.#deferred.get(key) ?? 0
      if (until > now) {
        deferredUntil = Math.min(deferredUntil, until)
        continue
      }
      this.#deferred.delete(key)
      const free = PER_ENDPOINT - (this.#perEndpoint.get(key) ?? 0)
      if (free > 0) open.push({ ...e, perEndpoint: free })
    }
    return { open, deferredUntil }
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      let pauseMs = IDLE_MS
      this.#poked = false
      try {
        const { open, deferredUntil } = this.#open(Date.now())
        const free = CONCURRENT - this.#inFlight.size
        if (open.length > 0 && free > 0) {
          const rows = await claimDue(this.#deps.db, open, free, LEASE_S)
          for (const row of rows) this.#start(row)
          if (rows.length > 0) continue
          const due = await nextDueAt(this.#deps.db, open)
          if (due) pauseMs = Math.max(due.getTime() - Date.now(), 0)
        }
        // Otherwise every slot is taken: a delivery that ends pokes.
        pauseMs = Math.min(pauseMs, deferredUntil - Date.now(), IDLE_MS)
      } catch (err) {
        if (this.#stopped) break
        this.#deps.log.warn({ err }, 'events: the outbox could not be read; trying again')
        pauseMs = AFTER_ERROR_MS
      }
      if (pauseMs > 0 && !this.#poked) await this.#sleep(pauseMs)
    }
    await Promise.all(this.#inFlight)
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

  /** Sends a claimed row in the background; its slot is free again once it is settled. */
  #start(row: OutboxRow): void {
    const key = endpointKey(row)
    this.#perEndpoint.set(key, (this.#perEndpoint.get(key) ?? 0) + 1)
    const delivery: Promise<void> = this.#deliver(row)
      .catch((err: unknown) => this.#deps.log.warn({ err, client: row.clientId, kind: row.kind, jti: row.jti }, 'events: delivery could not be settled; due again when its lease ends'))
      .finally(() => {
        this.#inFlight.delete(delivery)
        const left = (this.#perEndpoint.get(key) ?? 1) - 1
        if (left > 0) this.#perEndpoint.set(key, left)
        else this.#perEndpoint.delete(key)
        this.#poke()
      })
    this.#inFlight.add(delivery)
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
    if (settled.status === 'pending' && settlement.status === 'timeout') {
      this.#deferred.set(endpointKey(row), settled.nextAttemptAt.getTime())
      await deferEndpoint(db, row, settled.nextAttemptAt)
    }
  }

  async #send(target: Target, token: string): Promise<Settlement> {
    try {
      const res = await keepAliveRequest(target.url, {
        method: 'POST',
        headers: { 'content-type': target.contentType, accept: 'application/json' },
        body: target.body(token),
        timeoutMs: TIMEOUT_MS,
        signal: this.#abort.signal,
      })
      const status = String(res.status)
      if (res.status >= 200 && res.status < 300) return { outcome: 'delivered', status }
      if (res.status === 400) return { outcome: 'refused', status, error: refusalOf(res.body) }
      return { outcome: 'retry', status, error: null }
    } catch (err) {
      if (this.#stopped) return { outcome: 'retry', status: 'network_error', error: 'this instance stopped before the journal answered' }
      const timeout = (err as Error).name === 'TimeoutError'
      return { outcome: 'retry', status: timeout ? 'timeout' : 'network_error', error: timeout ? `no answer within ${TIMEOUT_MS} ms` : (err as Error).message }
    }
  }
}
