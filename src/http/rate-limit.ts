import type { FastifyInstance } from 'fastify'

/** Route `config` fragment for public endpoints: per-IP limit per minute; none when RATE_LIMIT_PER_MINUTE=0. */
export function publicRateLimit(app: FastifyInstance, perMinute = app.config.rateLimitPerMinute): { rateLimit?: { max: number; timeWindow: string } } {
  return perMinute > 0 ? { rateLimit: { max: perMinute, timeWindow: '1 minute' } } : {}
}
