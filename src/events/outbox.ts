import type { Queryable } from '../db/pool.js'
import type { LinkEvent } from './event-types.js'
import { retentionRecordCte } from '../subjects/retention-record.js'

/**
 * The outbox (`event_outbox`): one row per token for one journal client, written by the statement
 * of the change it reports, so it commits or rolls back with that change. Rows are sent from here by
 * any instance (sender.ts), or fetched by the journal (poll.ts). Delivery is at least once and in
 * order per journal user: a row waits while an earlier row for the same client and kind, concerning
 * one of its journal users (`journal_user_id`, and `ordered_with` for a move's second card), is
 * still pending.
 *
 * Every statement that queues rows also runs `pg_notify` on NOTIFY_CHANNEL with the client id:
 * PostgreSQL delivers it at commit (never for a rolled-back change), and wakes the senders and the
 * long polls of every instance (notifier.ts).
 */
export const NOTIFY_CHANNEL = 'esia_bridge_events'

/** A pushed token is retried 1 s, 2 s, 4 s … doubling up to an hour between attempts (72 h in all: the row's give_up_at). */
const RETRY_CAP_S = 3600
const GIVE_UP_AFTER = '72 hours'

export type OutboxKind = 'set' | 'logout'
export type OutboxStatus = 'pending' | 'delivered' | 'failed'

export interface OutboxRow {
  id: number
  jti: string
  clientId: string
  kind: OutboxKind
  journalUserId: string
  eventType: string
  data: Record<string, unknown>
  attempts: number
  createdAt: Date
}

interface Row {
  id: number
  jti: string
  client_id: string
  kind: OutboxKind
  journal_user_id: string
  event_type: string
  data: Record<string, unknown>
  attempts: number
  created_at: Date
}
const ROW_COLUMNS = 'id, jti, client_id, kind, journal_user_id, event_type, data, attempts, created_at'
const toRow = (r: Row): OutboxRow => ({
  id: r.id,
  jti: r.jti,
  clientId: r.client_id,
  kind: r.kind,
  journalUserId: r.journal_user_id,
  eventType: r.event_type,
  data: r.data,
  attempts: r.attempts,
  createdAt: r.created_at,
})

/** `at` of an event: the transaction's clock (the link row's created_at has the same), as ISO 8601 in UTC. */
const EVENT_TIME = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * Queues SETs for every client that takes them (event_recipients), in the caller's transaction, in
 * the order given (an old link's removal before the new link's creation).
 */
export async function queueLinkEvents(tx: Queryable, events: readonly LinkEvent[]): Promise<void> {
  if (events.length === 0) return
  await tx.query(
    `WITH queued AS (
       INSERT INTO event_outbox (client_id, kind, delivery, journal_user_id, ordered_with, event_type, data)
       SELECT r.client_id, 'set', r.sets, e.event->>'subject',
              ARRAY(SELECT jsonb_array_elements_text(coalesce(e.event->'orderedWith', '[]'))),
              e.event->>'type', (e.event->'data') || jsonb_build_object('at', ${EVENT_TIME})
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(event, n)
       CROSS JOIN event_recipients r
       WHERE r.sets IS NOT NULL
       ORDER BY e.n, r.client_id
       RETURNING client_id
     )
     SELECT pg_notify($2, client_id) FROM (SELECT DISTINCT client_id FROM queued) q`,
    [JSON.stringify(events), NOTIFY_CHANNEL],
  )
}

// ── push: claim, send (sender.ts), settle ───────────────────────────────────────────────────────

/** The journal users a row is ordered by (the expression event_outbox_order_keys_idx indexes). */
const ORDER_KEYS = (alias: string) => `(ARRAY[${alias}.journal_user_id] || ${alias}.ordered_with)`

/** One journal endpoint: a client's events_endpoint (`set`) or backchannel_logout_uri (`logout`). */
export interface Endpoint {
  clientId: string
  kind: OutboxKind
}

/**
 * Takes due pushed rows for one attempt each: at most `perEndpoint` of each endpoint's (a journal
 * that does not answer holds no more than that), `limit` in all, oldest first. `FOR UPDATE SKIP
 * LOCKED` lets instances claim at once without waiting on or taking each other's rows, and the lease
 * (`leased_until`) keeps a claimed row from everyone else while it is being sent; if this instance
 * dies meanwhile, the row is due again when the lease ends (at least once, never twice at a time).
 */
export async function claimDue(
  db: Queryable,
  endpoints: readonly (Endpoint & { perEndpoint: number })[],
  limit: number,
  leaseSeconds: number,
): Promise<OutboxRow[]> {
  if (endpoints.length === 0 || limit <= 0) return []
  const { rows } = await db.query<Row>(
    `WITH due AS (
       SELECT d.id FROM unnest($1::text[], $2::text[], $3::int[]) AS e(client_id, kind, per_endpoint)
       CROSS JOIN LATERAL (
         SELECT o.id FROM event_outbox o
         WHERE o.client_id = e.client_id AND o.kind = e.kind AND o.status = 'pending' AND o.delivery = 'push'
           AND o.next_attempt_at <= now() AND (o.leased_until IS NULL OR o.leased_until <= now())
           AND NOT EXISTS (
             SELECT 1 FROM event_outbox p
             WHERE p.status = 'pending' AND p.client_id = o.client_id AND p.kind = o.kind AND p.id < o.id
               AND ${ORDER_KEYS('p')} && ${ORDER_KEYS('o')}
           )
         ORDER BY o.id
         LIMIT e.per_endpoint
         FOR UPDATE SKIP LOCKED
       ) d
       ORDER BY d.id
       LIMIT $4
     )
     UPDATE event_outbox o SET attempts = o.attempts + 1, last_attempt_at = now(), leased_until = now() + make_interval(secs => $5)
     FROM due WHERE o.id = due.id
     RETURNING ${ROW_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}`,
    [endpoints.map((e) => e.clientId), endpoints.map((e) => e.kind), endpoints.map((e) => e.perEndpoint), limit, leaseSeconds],
  )
  return rows.map(toRow).sort((a, b) => a.id - b.id)
}

/**
 * When the next pushed row for these endpoints falls due (null: none pending). A row waiting for an
 * earlier one of its journal user is due only once that one is settled — which pokes the sender that
 * settles it — so it is left out: it would otherwise count as due at once, and the sender would spin.
 */
export async function nextDueAt(db: Queryable, endpoints: readonly Endpoint[]): Promise<Date | null> {
  if (endpoints.length === 0) return null
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(greatest(o.next_attempt_at, coalesce(o.leased_until, o.next_attempt_at))) AS at
     FROM event_outbox o JOIN unnest($1::text[], $2::text[]) AS e(client_id, kind) ON e.client_id = o.client_id AND e.kind = o.kind
     WHERE o.status = 'pending' AND o.delivery = 'push'
       AND NOT EXISTS (
         SELECT 1 FROM event_outbox p
         WHERE p.status = 'pending' AND p.client_id = o.client_id AND p.kind = o.kind AND p.id < o.id
           AND ${ORDER_KEYS('p')} && ${ORDER_KEYS('o')}
       )`,
    [endpoints.map((e) => e.clientId), endpoints.map((e) => e.kind)],
  )
  return rows[0]?.at ?? null
}

/**
 * An endpoint that did not answer in time: its other due rows wait until `until` (the failed row's
 * next attempt), on every instance, instead of each holding a delivery slot for the whole timeout.
 * Their order is kept; rows being sent keep their lease.
 */
export async function deferEndpoint(db: Queryable, endpoint: Endpoint, until: Date): Promise<void> {
  await db.query(
    `UPDATE event_outbox SET next_attempt_at = $3
     WHERE client_id = $1 AND kind = $2 AND status = 'pending' AND delivery = 'push' AND next_attempt_at < $3
       AND (leased_until IS NULL OR leased_until <= now())`,
    [endpoint.clientId, endpoint.kind, until],
  )
}

/** The outcome of one attempt. Only the holder of the attempt settles it (the row's attempts still match). */
export type Settlement =
  | { outcome: 'delivered'; status: string }
  | { outcome: 'refused'; status: string; error: string }
  | { outcome: 'retry'; status: string; error: string | null }

export interface Settled {
  status: OutboxStatus
  /** Seconds from queueing to delivery, for a delivered row. */
  latencySeconds: number | null
  /** When a row to be retried is due again. */
  nextAttemptAt: Date
}

/** Backoff after the n-th failed attempt: 1 s, 2 s, 4 s … capped at an hour. */
export const retryDelaySeconds = (attempts: number): number => Math.min(2 ** Math.max(0, attempts - 1), RETRY_CAP_S)

export async function settle(db: Queryable, row: Pick<OutboxRow, 'id' | 'attempts'>, s: Settlement): Promise<Settled | undefined> {
  const error = s.outcome === 'delivered' ? null : s.error?.slice(0, 500) ?? null
  const { rows } = await db.query<{ status: OutboxStatus; latency: number | null; next_attempt_at: Date }>(
    `UPDATE event_outbox SET
       status = CASE WHEN $3 = 'delivered' THEN 'delivered'
                     WHEN $3 = 'refused' OR now() + make_interval(secs => $6) > give_up_at THEN 'failed'
                     ELSE 'pending' END,
       delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
       next_attempt_at = CASE WHEN $3 = 'retry' THEN now() + make_interval(secs => $6) ELSE next_attempt_at END,
       leased_until = NULL, last_status = $4, last_error = $5
     WHERE id = $1 AND attempts = $2 AND status = 'pending'
     RETURNING status, CASE WHEN status = 'delivered' THEN extract(epoch FROM delivered_at - created_at)::float8 END AS latency, next_attempt_at`,
    [row.id, row.attempts, s.outcome, s.status, error, retryDelaySeconds(row.attempts)],
  )
  return rows[0] && { status: rows[0].status, latencySeconds: rows[0].latency, nextAttemptAt: rows[0].next_attempt_at }
}

// ── poll (RFC 8936) ─────────────────────────────────────────────────────────────────────────────

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Only our own jtis can be acknowledged; anything else names no row (and would not cast to uuid). */
const ourJtis = (jtis: readonly string[]): string[] => [...new Set(jtis.filter((j) => UUID.test(j)).map((j) => j.toLowerCase()))]

/** The journal processed these SETs: delivered, never sent again. Returns the seconds each waited. */
export async function acknowledge(db: Queryable, clientId: string, jtis: readonly string[]): Promise<number[]> {
  const ids = ourJtis(jtis)
  if (ids.length === 0) return []
  const { rows } = await db.query<{ latency: number }>(
    `UPDATE event_outbox SET status = 'delivered', delivered_at = now()
     WHERE client_id = $1 AND delivery = 'poll' AND status = 'pending' AND jti = ANY($2::uuid[])
     RETURNING extract(epoch FROM now() - created_at)::float8 AS latency`,
    [clientId, ids],
  )
  return rows.map((r) => r.latency)
}

/** The journal refused these SETs (RFC 8936 `setErrs`): failed for good, with its err and description. */
export async function refuse(db: Queryable, clientId: string, errors: Readonly<Record<string, { err: string; description?: string | undefined }>>): Promise<number> {
  const entries = Object.entries(errors).filter(([jti]) => UUID.test(jti))
  if (entries.length === 0) return 0
  const { rowCount } = await db.query(
    `UPDATE event_outbox o SET status = 'failed', last_status = 'setErr', last_error = left(e.error, 500)
     FROM unnest($2::uuid[], $3::text[]) AS e(jti, error)
     WHERE o.client_id = $1 AND o.delivery = 'poll' AND o.status = 'pending' AND o.jti = e.jti`,
    [clientId, entries.map(([jti]) => jti.toLowerCase()), entries.map(([, e]) => (e.description ? `${e.err}: ${e.description}` : e.err))],
  )
  return rowCount ?? 0
}

/**
 * The client's oldest unacknowledged SETs, counted as sent once more; and whether more wait behind
 * them. Unacknowledged SETs come again in the next poll (RFC 8936 §2.4).
 */
export async function takeForPoll(db: Queryable, clientId: string, maxEvents: number): Promise<{ rows: OutboxRow[]; moreAvailable: boolean }> {
  if (maxEvents <= 0) {
    const { rows } = await db.query<{ more: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM event_outbox WHERE client_id = $1 AND delivery = 'poll' AND status = 'pending') AS more`,
      [clientId],
    )
    return { rows: [], moreAvailable: rows[0]!.more }
  }
  const { rows } = await db.query<Row & { more: boolean }>(
    `WITH picked AS (
       SELECT id FROM event_outbox WHERE client_id = $1 AND delivery = 'poll' AND status = 'pending' ORDER BY id LIMIT $2
     ), sent AS (
       UPDATE event_outbox o SET attempts = o.attempts + 1, last_attempt_at = now()
       FROM picked WHERE o.id = picked.id
       RETURNING ${ROW_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}
     )
     SELECT sent.*, EXISTS (
       SELECT 1 FROM event_outbox m WHERE m.client_id = $1 AND m.delivery = 'poll' AND m.status = 'pending'
         AND m.id > (SELECT max(id) FROM picked)
     ) AS more
     FROM sent`,
    [clientId, maxEvents],
  )
  return { rows: rows.map(toRow).sort((a, b) => a.id - b.id), moreAvailable: rows[0]?.more ?? false }
}

// ── the console's «Доставка событий» ────────────────────────────────────────────────────────────

export interface DeliveryCounts {
  pending: number
  delivered: number
  failed: number
}

export async function countsByClient(db: Queryable): Promise<Map<string, DeliveryCounts>> {
  const { rows } = await db.query<{ client_id: string; status: OutboxStatus; n: number }>(
    `SELECT client_id, status, count(*)::int AS n FROM event_outbox GROUP BY client_id, status`,
  )
  const counts = new Map<string, DeliveryCounts>()
  for (const r of rows) {
    const c = counts.get(r.client_id) ?? { pending: 0, delivered: 0, failed: 0 }
    c[r.status] = r.n
    counts.set(r.client_id, c)
  }
  return counts
}

export interface DeliveryRow {
  id: number
  jti: string
  kind: OutboxKind
  delivery: 'push' | 'poll'
  journalUserId: string
  eventType: string
  status: OutboxStatus
  attempts: number
  createdAt: Date
  lastAttemptAt: Date | null
  nextAttemptAt: Date
  deliveredAt: Date | null
  lastStatus: string | null
  lastError: string | null
}

export async function listDeliveries(db: Queryable, clientId: string, status: OutboxStatus, limit: number): Promise<DeliveryRow[]> {
  const { rows } = await db.query<{
    id: number; jti: string; kind: OutboxKind; delivery: 'push' | 'poll'; journal_user_id: string; event_type: string; status: OutboxStatus; attempts: number
    created_at: Date; last_attempt_at: Date | null; next_attempt_at: Date; delivered_at: Date | null; last_status: string | null; last_error: string | null
  }>(
    `SELECT id, jti, kind, delivery, journal_user_id, event_type, status, attempts, created_at, last_attempt_at, next_attempt_at, delivered_at, last_status, last_error
     FROM event_outbox WHERE client_id = $1 AND status = $2 ORDER BY id DESC LIMIT $3`,
    [clientId, status, limit],
  )
  return rows.map((r) => ({
    id: r.id, jti: r.jti, kind: r.kind, delivery: r.delivery, journalUserId: r.journal_user_id, eventType: r.event_type, status: r.status, attempts: r.attempts,
    createdAt: r.created_at, lastAttemptAt: r.last_attempt_at, nextAttemptAt: r.next_attempt_at, deliveredAt: r.delivered_at, lastStatus: r.last_status, lastError: r.last_error,
  }))
}

/**
 * «Повторить сейчас»: a failed row (refused, or given up) goes back to the queue with a fresh 72 hours
 * and a fresh backoff; a pending pushed row waiting for its next attempt falls due at once. A row
 * being sent right now keeps its lease (no second copy in flight). One row, or all of the client's.
 */
export async function retryNow(db: Queryable, clientId: string, id?: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH retried AS (
       UPDATE event_outbox SET
         attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END,
         give_up_at = CASE WHEN status = 'failed' THEN greatest(give_up_at, now() + interval '${GIVE_UP_AFTER}') ELSE give_up_at END,
         status = 'pending', next_attempt_at = now()
       WHERE client_id = $1 AND ($2::bigint IS NULL OR id = $2)
         AND (status = 'failed' OR (status = 'pending' AND delivery = 'push' AND (leased_until IS NULL OR leased_until <= now())))
       RETURNING id
     )
     SELECT count(*)::int AS n FROM retried`,
    [clientId, id ?? null],
  )
  const n = rows[0]!.n
  if (n > 0) await db.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, clientId])
  return n
}

// ── metrics and housekeeping ────────────────────────────────────────────────────────────────────

export async function pendingCounts(db: Queryable): Promise<{ clientId: string; kind: OutboxKind; n: number }[]> {
  const { rows } = await db.query<{ client_id: string; kind: OutboxKind; n: number }>(
    `SELECT client_id, kind, count(*)::int AS n FROM event_outbox WHERE status = 'pending' GROUP BY client_id, kind`,
  )
  return rows.map((r) => ({ clientId: r.client_id, kind: r.kind, n: r.n }))
}

/**
 * EVENTS_RETENTION_DAYS: delivered and failed rows, and SETs a polling journal never acknowledged,
 * go after that many days; a pushed row still being retried stays until it is given up. They name
 * journal users, so the purge writes a destruction record (src/subjects/destruction.ts) in its
 * statement.
 */
export async function purgeOutbox(db: Queryable, retentionDays: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM event_outbox WHERE created_at < now() - make_interval(days => $1)
         AND (status <> 'pending' OR delivery = 'poll' OR give_up_at < now())
       RETURNING 1
     ), counted AS (SELECT count(*)::int AS n FROM gone),
     ${retentionRecordCte({ from: 'counted', count: 'n', category: 'journal_events', reason: 'events retention period ended' })}
     SELECT n FROM counted`,
    [retentionDays],
  )
  return rows[0]?.n ?? 0
}
