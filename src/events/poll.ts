import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { authenticateClient } from '../http/auth.js'
import { ApiError } from '../http/errors.js'
import { publicRateLimit } from '../http/rate-limit.js'
import type { EventMetrics } from './metrics.js'
import type { EventNotifier } from './notifier.js'
import { acknowledge, refuse, takeForPoll } from './outbox.js'
import { signOutboxToken } from './tokens.js'

/**
 * POST /api/v1/events — Poll-Based SET Delivery (RFC 8936) for journals that cannot be called: the
 * journal authenticates as its client (HTTP Basic) and in one request
 *
 *   1. acknowledges the SETs it processed (`ack`: delivered, never sent again),
 *   2. reports those it refused (`setErrs`: failed for good, shown in the console with its err),
 *   3. receives up to `maxEvents` of its oldest unacknowledged SETs, `{ sets: { jti: SET }, moreAvailable }`;
 *      with none waiting and `returnImmediately` false (the default), the answer waits up to
 *      LONG_POLL_MS for one to be queued (a long poll, §2.4.1) — unless the client holds
 *      MAX_LONG_POLLS_PER_CLIENT long polls on this instance already.
 *
 * Unacknowledged SETs come again in later polls, until EVENTS_RETENTION_DAYS have passed.
 */
const LONG_POLL_MS = 30_000
const DEFAULT_MAX_EVENTS = 100
const MAX_EVENTS = 1000

const Jti = Type.String({ minLength: 1, maxLength: 100 })
const PollRequest = Type.Object(
  {
    maxEvents: Type.Optional(Type.Integer({ minimum: 0, description: `How many SETs at most (0: only acknowledge); default ${DEFAULT_MAX_EVENTS}, at most ${MAX_EVENTS}` })),
    returnImmediately: Type.Optional(Type.Boolean({ description: 'false (default): wait up to 30 s for a SET when none is waiting' })),
    ack: Type.Optional(Type.Array(Jti, { maxItems: MAX_EVENTS, description: 'jti of SETs processed' })),
    setErrs: Type.Optional(
      Type.Record(Jti, Type.Object({ err: Type.String({ maxLength: 100 }), description: Type.Optional(Type.String({ maxLength: 1000 })) }), {
        maxProperties: MAX_EVENTS,
        description: 'jti → error of SETs refused (RFC 8935 §2.3 codes)',
      }),
    ),
  },
  { additionalProperties: true },
)
type PollRequest = Static<typeof PollRequest>

const PollResponse = Type.Object(
  {
    sets: Type.Record(Type.String(), Type.String(), { description: 'jti → the SET, a compact JWT (typ secevent+jwt) to verify with /oauth2/jwks' }),
    moreAvailable: Type.Boolean(),
  },
  { additionalProperties: false },
)
const ApiErrorBody = Type.Object({ error: Type.String(), message: Type.String() })

/** Long polls one client may hold open on one instance; a poll beyond them answers at once. */
export const MAX_LONG_POLLS_PER_CLIENT = 4

export interface PollDeps {
  metrics: EventMetrics
  longPolls: LongPolls
}

/** One client's long polls on this instance. */
interface ClientPolls {
  open: Set<LongPoll>
  /** Polls waiting for a notification, oldest first. */
  waiting: LongPoll[]
  /** A notification came while none of them waited: the next to wait reads the outbox at once. */
  poked: boolean
}

/**
 * This instance's long polls. A notification for a client (or for everyone, after the notifier
 * reconnected) wakes one of its waiting polls, which reads the outbox: one query per notification
 * per client, however many polls wait. The SETs it returns stay unacknowledged until the journal
 * acknowledges them, so waking the others would only send the same SETs again. A client holds at most
 * MAX_LONG_POLLS_PER_CLIENT polls open here; the notification listener is subscribed while any is.
 */
export class LongPolls {
  readonly #notifier: EventNotifier
  readonly #clients = new Map<string, ClientPolls>()
  #unsubscribe: (() => void) | undefined

  constructor(notifier: EventNotifier) {
    this.#notifier = notifier
  }

  /** A long poll for the client, or undefined when it holds the most it may (answer at once instead). */
  open(clientId: string, reply: FastifyReply): LongPoll | undefined {
    let polls = this.#clients.get(clientId)
    if (polls && polls.open.size >= MAX_LONG_POLLS_PER_CLIENT) return undefined
    if (!polls) this.#clients.set(clientId, (polls = { open: new Set(), waiting: [], poked: false }))
    this.#unsubscribe ??= this.#notifier.subscribe((id) => this.#notified(id))
    const poll: LongPoll = new LongPoll(polls, reply, () => this.#closed(clientId, polls, poll))
    polls.open.add(poll)
    return poll
  }

  /** Resolves once notifications are listened for (or failed and will be retried). */
  ready(): Promise<void> {
    return this.#notifier.ready()
  }

  /** Every long poll answers now (the app is closing). */
  endAll(): void {
    for (const polls of [...this.#clients.values()]) for (const poll of [...polls.open]) poll.end()
  }

  #notified(clientId: string): void {
    const targets = clientId === '' ? [...this.#clients.values()] : [this.#clients.get(clientId)].filter((p) => p !== undefined)
    for (const polls of targets) {
      const first = polls.waiting.shift()
      if (first) first.wake()
      else polls.poked = true
    }
  }

  #closed(clientId: string, polls: ClientPolls, poll: LongPoll): void {
    polls.open.delete(poll)
    if (polls.open.size > 0) return
    this.#clients.delete(clientId)
    if (this.#clients.size === 0) {
      this.#unsubscribe?.()
      this.#unsubscribe = undefined
    }
  }
}

/** A journal's long poll: waits until woken by LongPolls, its time is up, the journal hangs up or the app closes. */
class LongPoll {
  #ended = false
  #wake: (() => void) | undefined
  readonly #hangUp = () => this.end()

  constructor(
    readonly polls: ClientPolls,
    readonly reply: FastifyReply,
    readonly onEnd: () => void,
  ) {
    reply.raw.once('close', this.#hangUp)
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Until woken (at once if a notification came while no poll waited), `ms`, or the end. */
  wait(ms: number): Promise<void> {
    if (this.#ended) return Promise.resolve()
    if (this.polls.poked) {
      this.polls.poked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms)
      this.polls.waiting.push(this)
      this.#wake = () => {
        clearTimeout(timer)
        this.#wake = undefined
        const i = this.polls.waiting.indexOf(this)
        if (i >= 0) this.polls.waiting.splice(i, 1)
        resolve()
      }
    })
  }

  wake(): void {
    this.#wake?.()
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.reply.raw.off('close', this.#hangUp)
    this.wake()
    this.onEnd()
  }
}

async function poll(app: FastifyInstance, deps: PollDeps, request: FastifyRequest<{ Body: PollRequest }>, reply: FastifyReply) {
  const client = authenticateClient(request)
  if (client.events?.delivery !== 'poll') {
    throw new ApiError(403, 'poll_not_enabled', 'This client does not take its events by polling: register "events_delivery": "poll" in CLIENTS_FILE')
  }
  const body = request.body
  reply.header('cache-control', 'no-store')

  for (const latency of await acknowledge(app.db, client.clientId, body.ack ?? [])) deps.metrics.delivered(client.clientId, 'set', latency)
  const refused = await refuse(app.db, client.clientId, body.setErrs ?? {})
  for (let i = 0; i < refused; i++) deps.metrics.failed(client.clientId, 'set', 'refused')

  const maxEvents = Math.min(body.maxEvents ?? DEFAULT_MAX_EVENTS, MAX_EVENTS)
  // Listening before looking: a SET queued between the look and the wait still wakes us. Beyond its
  // share of long polls a client is answered at once.
  const longPoll = body.returnImmediately !== true && maxEvents > 0 ? deps.longPolls.open(client.clientId, reply) : undefined
  try {
    const deadline = Date.now() + LONG_POLL_MS
    if (longPoll) await deps.longPolls.ready()
    let taken = await takeForPoll(app.db, client.clientId, maxEvents)
    while (taken.rows.length === 0 && longPoll && !longPoll.ended && Date.now() < deadline) {
      await longPoll.wait(deadline - Date.now())
      taken = await takeForPoll(app.db, client.clientId, maxEvents)
    }
    const sets: Record<string, string> = {}
    for (const row of taken.rows) sets[row.jti] = await signOutboxToken(app.signingKeys, app.config.publicUrl, row)
    return { sets, moreAvailable: taken.moreAvailable }
  } finally {
    longPoll?.end()
  }
}

export async function pollRoutes(app: FastifyInstance, deps: PollDeps): Promise<void> {
  app.post<{ Body: PollRequest }>(
    '/api/v1/events',
    {
      // Per address, as every public endpoint: a journal polls a few times a minute, a loop that
      // polls without pause — or someone guessing a client secret — is answered 429.
      config: publicRateLimit(app),
      schema: {
        tags: ['events'],
        summary: 'Poll for link events (RFC 8936): acknowledge, report refused SETs, receive the next ones (long poll)',
        security: [{ journalClient: [] }],
        body: PollRequest,
        response: { 200: PollResponse, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 429: ApiErrorBody },
      },
    },
    (request, reply) => poll(app, deps, request, reply),
  )
}
