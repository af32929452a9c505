import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'

describe('health and readiness', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  it('answers /healthz', async () => {
    const res = await t.app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  it('is ready when the database answers and every migration is applied', async () => {
    const res = await t.app.inject({ url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } })
  })

  it('is not ready when a migration is missing', async () => {
    await t.db.pool.query(`DELETE FROM schema_migrations WHERE name = '0001_core'`)
    const res = await t.app.inject({ url: '/readyz' })
    expect(res.statusCode).toBe(503)
    expect(res.json().checks.migrations).toContain('0001_core')
    await t.db.pool.query(`INSERT INTO schema_migrations (name, run_on) VALUES ('0001_core', now())`)
  })

  it('sends security headers', async () => {
    const res = await t.app.inject({ url: '/healthz' })
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(res.headers['referrer-policy']).toBe('no-referrer')
  })

  it('exposes Prometheus metrics with request latency by route', async () => {
    await t.app.inject({ url: '/healthz' })
    const res = await t.app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} \d+/)
  })

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.app.inject({ url: '/no/such/route?snils=12345678901' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'not_found', message: 'No route GET /no/such/route' })
  })
})
