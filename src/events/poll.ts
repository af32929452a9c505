import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { authenticateClient } from '../http/auth.js'
import { ApiError } from '../http/errors.js'
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
 *      LONG_POLL_MS for one to be queued (a long poll, §2.4.1).
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

export interface PollDeps {
  notifier: EventNotifier
  metrics: EventMetrics
  /** Long polls in progress, ended at once when the app closes. */
  waiting: Set<() => void>
}

/**
 * A journal's long poll: woken by every notification for its client (or for everyone, after the
 * notifier reconnected), ended when the journal hangs up or the app closes.
 */
class LongPoll {
  #poked = false
  #ended = false
  #wake: (() => void) | undefined
  readonly #unsubscribe: () => void
  readonly #hangUp = () => this.end()

  constructor(
    readonly deps: PollDeps,
    clientId: string,
    readonly reply: FastifyReply,
  ) {
    this.#unsubscribe = deps.notifier.subscribe((id) => {
      if (id !== clientId && id !== '') return
      this.#poked = true
      this.#wake?.()
    })
    reply.raw.once('close', this.#hangUp)
    deps.waiting.add(this.#hangUp)
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Until a notification (or one that came since the last wait), `ms`, or the end. */
  wait(ms: number): Promise<void> {
    if (this.#poked || this.#ended) {
      this.#poked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), ms)
      this.#wake = () => {
        clearTimeout(timer)
        this.#wake = undefined
        this.#poked = false
        resolve()
      }
    })
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#unsubscribe()
    this.reply.raw.off('close', this.#hangUp)
    this.deps.waiting.delete(this.#hangUp)
    this.#wake?.()
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
  // Listening before looking: a SET queued between the look and the wait still wakes us.
  const longPoll = body.returnImmediately !== true && maxEvents > 0 ? new LongPoll(deps, client.clientId, reply) : undefined
  try {
    const deadline = Date.now() + LONG_POLL_MS
    if (longPoll) await deps.notifier.ready()
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
      schema: {
        tags: ['events'],
        summary: 'Poll for link events (RFC 8936): acknowledge, report refused SETs, receive the next ones (long poll)',
        security: [{ journalClient: [] }],
        body: PollRequest,
        response: { 200: PollResponse, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody },
      },
    },
    (request, reply) => poll(app, deps, request, reply),
  )
}
