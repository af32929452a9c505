import type { FastifyInstance } from 'fastify'
import { Gauge, Histogram } from 'prom-client'
import { pendingCounts, type OutboxKind } from './outbox.js'

/**
 * Event delivery in /metrics. `bridge_events_queued` is read from the outbox at each scrape (it is
 * shared by every instance; a per-process counter could not say what waits); delivered and failed
 * count what this instance settled, and the latency is from the change to the journal's 202 (or,
 * polled, to its acknowledgement). Labels are client ids and fixed words: bounded.
 */
export function eventMetrics(app: FastifyInstance) {
  const registers = [app.metrics.registry]
  const delivered = app.metrics.counter('bridge_events_delivered_total', 'Events and logout tokens the journal accepted', ['client', 'kind'])
  const failed = app.metrics.counter('bridge_events_failed_total', 'Events refused by the journal (400, setErrs) or given up after 72 hours', ['client', 'kind', 'why'])
  const attemptErrors = app.metrics.counter('bridge_events_attempt_errors_total', 'Push attempts that will be retried (5xx, timeouts, network errors)', ['client', 'kind'])
  const latency = new Histogram({
    name: 'bridge_events_delivery_latency_seconds',
    help: 'From the change being committed to the journal accepting its event',
    labelNames: ['kind'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
    registers,
  })
  new Gauge({
    name: 'bridge_events_queued',
    help: 'Events and logout tokens waiting for delivery (push) or acknowledgement (poll), all instances',
    labelNames: ['client', 'kind'],
    registers,
    async collect() {
      this.reset()
      try {
        for (const c of await pendingCounts(app.db)) this.set({ client: c.clientId, kind: c.kind }, c.n)
      } catch (err) {
        app.log.warn({ err }, 'events: queue size unavailable for /metrics')
      }
    },
  })
  return {
    delivered(client: string, kind: OutboxKind, latencySeconds: number | null) {
      delivered.inc({ client, kind })
      if (latencySeconds !== null) latency.observe({ kind }, latencySeconds)
    },
    failed: (client: string, kind: OutboxKind, why: 'refused' | 'given_up') => failed.inc({ client, kind, why }),
    attemptFailed: (client: string, kind: OutboxKind) => attemptErrors.inc({ client, kind }),
  }
}
export type EventMetrics = ReturnType<typeof eventMetrics>
