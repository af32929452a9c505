import pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Pool } from '../db/pool.js'
import { NOTIFY_CHANNEL } from './outbox.js'

/**
 * Wakes this instance when any instance queues events: one connection that LISTENs on the outbox's
 * channel (outbox.ts), opened only once something here waits (a sender, a long poll), reopened
 * after a failure. The payload is the client id. Missing a notification costs latency, never an
 * event: the sender also looks at the outbox on a timer, and a long poll re-reads it when it ends.
 */
type Listener = (clientId: string) => void

const RECONNECT_MS = 2000

export class EventNotifier {
  readonly #pool: Pool
  readonly #log: FastifyBaseLogger
  readonly #listeners = new Set<Listener>()
  #client: pg.Client | undefined
  #connecting: Promise<void> | undefined
  #retry: NodeJS.Timeout | undefined
  #closed = false

  constructor(pool: Pool, log: FastifyBaseLogger) {
    this.#pool = pool
    this.#log = log
  }

  /** Calls `listener` with the client id of every notification until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener)
    void this.#ensureConnected()
    return () => void this.#listeners.delete(listener)
  }

  /** Resolves once the LISTEN is in place (or has failed and will be retried). */
  ready(): Promise<void> {
    return this.#connecting ?? Promise.resolve()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    this.#listeners.clear()
    await this.#connecting?.catch(() => {})
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  #ensureConnected(): Promise<void> {
    if (this.#closed || this.#client) return Promise.resolve()
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ ...this.#pool.options, application_name: 'esia-bridge-events' })
    client.on('notification', (msg) => {
      if (msg.channel !== NOTIFY_CHANNEL) return
      for (const listener of this.#listeners) listener(msg.payload ?? '')
    })
    client.on('error', (err) => this.#lost(client, err))
    client.on('end', () => this.#lost(client))
    try {
      await client.connect()
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`)
    } catch (err) {
      await client.end().catch(() => {})
      this.#log.warn({ err }, 'events: cannot listen for notifications; retrying')
      this.#scheduleReconnect()
      return
    }
    if (this.#closed) {
      await client.end().catch(() => {})
      return
    }
    this.#client = client
    // Whatever was queued while nobody listened: let every waiter look once.
    for (const listener of this.#listeners) listener('')
  }

  #lost(client: pg.Client, err?: Error): void {
    if (this.#client !== client) return
    this.#client = undefined
    if (this.#closed) return
    this.#log.warn({ err }, 'events: notification connection lost; reconnecting')
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#listeners.size === 0) return
    clearTimeout(this.#retry)
    this.#retry = setTimeout(() => void this.#ensureConnected(), RECONNECT_MS)
    this.#retry.unref()
  }
}
