import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Prometheus metrics on a registry of this app instance (tests build many apps in one process).
 * Capabilities add their own counters through `app.metrics.counter`.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly #counters = new Map<string, Counter>()
  readonly httpDuration: Histogram

  constructor() {
    collectDefaultMetrics({ register: this.registry })
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    })
  }

  /** Same name → same counter, so plugins registered twice (tests) do not collide. */
  counter(name: string, help: string, labelNames: string[] = []): Counter {
    let c = this.#counters.get(name)
    if (!c) {
      c = new Counter({ name, help, labelNames, registers: [this.registry] })
      this.#counters.set(name, c)
    }
    return c
  }
}

export const metricsPlugin = fp(
  async (app) => {
    const metrics = new Metrics()
    app.decorate('metrics', metrics)
    // Hooks on every request are callback-style, not async: an async hook costs a promise and a
    // microtask turn per request for work that never waits.
    app.addHook('onResponse', (request, reply, done) => {
      // Unmatched URLs share one label so scanners cannot blow up the label set.
      const route = request.routeOptions.url ?? 'unmatched'
      metrics.httpDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
      done()
    })
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.type(metrics.registry.contentType)
      return metrics.registry.metrics()
    })
  },
  { name: 'metrics' },
)
