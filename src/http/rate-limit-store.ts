import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { Pool } from '../db/pool.js'

/**
 * @fastify/rate-limit's counters shared by every instance through PostgreSQL. Its default store
 * counts in one process's memory: behind a round-robin balancer each of N instances would allow
 * the whole limit, N times the configured one.
 *
 * A request never waits for the database. Each instance counts locally and adds its counts to the
 * shared rows in one statement at most every `flushMs` (a second), getting back the totals of
 * every instance; a request is judged on the last total it knows plus its own instance's hits
 * since. So the cost is one statement per instance per second however busy it is, and a limit is
 * exact to within what one instance receives in a second. Windows are fixed and aligned to the
 * clock (instances agree on them without talking); counts of a window that has passed are purged.
 *
 * When PostgreSQL is unreachable the counts stay in memory and are added when it is back: limits
 * then hold per instance, and a request is never refused or delayed for it.
 *
 * Memory holds at most about `maxKeys` counters. Beyond that, the flush drops flushed counters with
 * the fewest hits first (a dropped key is judged on its own instance's hits until its next flush
 * brings the total back), and never one at half its limit or more: flooding an instance with new
 * keys (one IPv6 /64 is cheap) must not wipe what it knows of the keys that are being limited.
 */
export interface SharedCountersOptions {
  /** How often local counts are added to the shared rows (default 1 s). */
  flushMs?: number
  /** Windows × client keys kept in memory; beyond it counts are flushed at once and the smallest forgotten. */
  maxKeys?: number
  log?: Pick<FastifyBaseLogger, 'warn' | 'info'>
}

interface Counter {
  bucket: string
  windowEnd: number
  /** The total of every instance, as of the last flush that returned it. */
  shared: number
  /** This instance's hits not yet added to the shared row. */
  pending: number
  /** The route's limit, as the last hit said (Infinity: not known). */
  max: number
}

// Sorted arrays: two instances upserting the same rows lock them in the same order, so their
// batches can never deadlock.
const FLUSH_SQL = `INSERT INTO rate_limit_hits (window_end, bucket, hits)
  SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::int[])
  ON CONFLICT (window_end, bucket) DO UPDATE SET hits = rate_limit_hits.hits + excluded.hits
  RETURNING window_end, bucket, hits`
const PURGE_SQL = 'DELETE FROM rate_limit_hits WHERE window_end < now()'
const PURGE_EVERY_MS = 60_000
/** When crowded, counters are dropped down to this share of `maxKeys`, so the next crowding is a while off. */
const KEEP_SHARE = 0.9

/** Client addresses never reach the database: a bucket is a digest of the route and the key. */
const bucketOf = (namespace: string, key: string) => createHash('sha256').update(`${namespace}\n${key}`).digest('base64url').slice(0, 32)

export class SharedRateLimitCounters {
  readonly #pool: Pool
  readonly #flushMs: number
  readonly #maxKeys: number
  readonly #log: SharedCountersOptions['log']
  readonly #counters = new Map<string, Counter>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #failing = false
  #purgedAt = 0
  #closed = false
  /** A hit that brings the counters above this flushes at once (raised while the kept counters alone exceed `maxKeys`). */
  #flushAbove: number

  constructor(pool: Pool, opts: SharedCountersOptions = {}) {
    this.#pool = pool
    this.#flushMs = opts.flushMs ?? 1000
    this.#maxKeys = opts.maxKeys ?? 50_000
    this.#flushAbove = this.#maxKeys
    this.#log = opts.log
  }

  /**
   * Counts one hit of `key` on the route `namespace` (whose limit is `max`); returns the known total
   * and the window's remaining ms.
   */
  hit(namespace: string, key: string, timeWindow: number, now = Date.now(), max = Infinity): { current: number; ttl: number } {
    const windowEnd = (Math.floor(now / timeWindow) + 1) * timeWindow
    const bucket = bucketOf(namespace, key)
    const id = `${windowEnd} ${bucket}`
    let counter = this.#counters.get(id)
    if (!counter) this.#counters.set(id, (counter = { bucket, windowEnd, shared: 0, pending: 0, max }))
    counter.pending++
    counter.max = max
    if (this.#counters.size > this.#flushAbove) void this.flush()
    else this.#schedule()
    return { current: counter.shared + counter.pending, ttl: windowEnd - now }
  }

  /** Adds every pending count to the shared rows and learns their totals (one statement). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  /** Stops the timer after a last flush; later hits are counted locally only. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    await this.flush()
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.flush()
    }, this.#flushMs)
    this.#timer.unref()
  }

  async #flush(): Promise<void> {
    const batch = [...this.#counters.values()].filter((c) => c.pending > 0).sort((a, b) => a.windowEnd - b.windowEnd || (a.bucket < b.bucket ? -1 : 1))
    const sent = batch.map((c) => c.pending)
    try {
      if (batch.length > 0) {
        const { rows } = await this.#pool.query<{ window_end: Date; bucket: string; hits: number }>(FLUSH_SQL, [
          batch.map((c) => new Date(c.windowEnd)),
          batch.map((c) => c.bucket),
          sent,
        ])
        batch.forEach((c, i) => (c.pending -= sent[i]!))
        for (const row of rows) {
          const counter = this.#counters.get(`${row.window_end.getTime()} ${row.bucket}`)
          if (counter) counter.shared = row.hits
        }
      }
      if (Date.now() - this.#purgedAt > PURGE_EVERY_MS) {
        await this.#pool.query(PURGE_SQL)
        this.#purgedAt = Date.now()
      }
      if (this.#failing) this.#log?.info('rate-limit counters are shared again')
      this.#failing = false
    } catch (err) {
      if (!this.#failing) this.#log?.warn({ err }, 'rate-limit counters cannot be shared (database unreachable): counting per instance until it is back')
      this.#failing = true
    }
    this.#forget()
    if ([...this.#counters.values()].some((c) => c.pending > 0)) this.#schedule()
  }

  /**
   * Drops windows that have passed and, above `maxKeys`, flushed counters with the fewest hits until
   * KEEP_SHARE of `maxKeys` is left — never one with hits still to add, nor one at half its limit or
   * more (a dropped counter is relearned at its next flush).
   */
  #forget(): void {
    const now = Date.now()
    for (const [id, c] of this.#counters) {
      if (c.pending === 0 && c.windowEnd <= now) this.#counters.delete(id)
    }
    if (this.#counters.size > this.#maxKeys) {
      let excess = this.#counters.size - Math.floor(this.#maxKeys * KEEP_SHARE)
      const droppable = [...this.#counters].filter(([, c]) => c.pending === 0 && c.shared < c.max / 2).sort(([, a], [, b]) => a.shared - b.shared)
      for (const [id] of droppable) {
        if (excess-- <= 0) break
        this.#counters.delete(id)
      }
    }
    // Counters that may not be dropped do not make every later hit flush at once.
    this.#flushAbove = Math.max(this.#maxKeys, this.#counters.size + Math.ceil(this.#maxKeys * (1 - KEEP_SHARE)))
  }

  /** The store class @fastify/rate-limit instantiates; one namespace per route, as its own store has. */
  store(): FastifyRateLimitStoreCtor {
    const counters = this
    class SharedStore implements FastifyRateLimitStore {
      constructor(
        _options: FastifyRateLimitOptions,
        readonly namespace = '*',
      ) {}
      incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
        callback(null, counters.hit(this.namespace, key, timeWindow, Date.now(), max))
      }
      // @fastify/rate-limit passes the route's merged limit settings, the route itself as `routeInfo`.
      child(settings: unknown): FastifyRateLimitStore {
        const route = (settings as { routeInfo?: { method?: string | string[]; url?: string } }).routeInfo
        return new SharedStore({}, route?.url ? `${String(route.method)} ${route.url}` : '*')
      }
    }
    return SharedStore
  }
}
