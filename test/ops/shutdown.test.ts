import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BOOTSTRAP_TOKEN } from '../helpers/app.js'
import { httpRequest } from '../helpers/http-browser.js'
import { startRegion, type Region } from '../helpers/region.js'

const HEADER = 'Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор\n'
const row = (i: number) => `Дренажева;Анна;Сергеевна;01.02.2011;;Обучающийся;school-12;drain-${i}\n`

/**
 * A slow upload, as a school's batch update over a thin line: the body arrives in pieces for
 * `seconds`, so the request is in flight across the whole graceful stop.
 */
function slowImport(url: string, seconds: number): { sent: Promise<void>; answer: Promise<{ status: number; body: string; at: number }> } {
  let finishSending: () => void = () => {}
  const sent = new Promise<void>((resolve) => (finishSending = resolve))
  const answer = new Promise<{ status: number; body: string; at: number }>((resolve, reject) => {
    const req = http.request(new URL('/api/v1/directory/import', url), { method: 'POST', headers: { authorization: `Bearer ${BOOTSTRAP_TOKEN}`, 'content-type': 'text/csv; charset=utf-8' } }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => void (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: Date.now() }))
    })
    req.on('error', reject)
    req.write(HEADER)
    void (async () => {
      for (let i = 0; i < seconds * 4; i++) {
        req.write(row(i))
        await sleep(250)
      }
      req.end()
      finishSending()
    })()
  })
  return { sent, answer }
}

/** Whether a new TCP connection to the instance is accepted. */
const accepts = (url: string) => httpRequest(new URL('/healthz', url), { timeoutMs: 1000 }).then(() => true, () => false)

/**
 * SIGTERM, as a rolling restart or Kubernetes sends it: /readyz turns 503 at once while everything
 * is still served for SHUTDOWN_DELAY_SECONDS (the balancer's time to notice), then the listener
 * closes, the requests in flight finish, the pool closes and the process exits 0.
 */
describe('a bridge process stopping with SIGTERM', () => {
  let region: Region
  beforeAll(async () => {
    region = await startRegion({ instances: 1, balancer: false, env: { SHUTDOWN_DELAY_SECONDS: '2', SHUTDOWN_GRACE_SECONDS: '20' } })
  })
  afterAll(async () => region?.close())

  it('drains: not ready at once, serving through the delay, then no new connections, the upload in flight finished, exit 0', async () => {
    const bridge = region.instances[0]!
    const upload = slowImport(bridge.url, 5)
    await sleep(500)

    const t0 = Date.now()
    const exit = bridge.stop('SIGTERM')
    await sleep(200)

    const readyz = await httpRequest(new URL('/readyz', bridge.url))
    expect(readyz.status).toBe(503)
    expect(JSON.parse(readyz.body)).toEqual({ status: 'draining' })
    // Still serving during the delay, but telling clients to reconnect (elsewhere) next time.
    const served = await httpRequest(new URL('/.well-known/openid-configuration', bridge.url))
    expect(served.status).toBe(200)
    expect(served.headers.connection).toBe('close')

    // After the delay the listener is closed: a balancer's new connection is refused and retried elsewhere.
    while (await accepts(bridge.url)) await sleep(100)
    const closedAfter = Date.now() - t0
    expect(closedAfter).toBeGreaterThanOrEqual(1900)

    // The upload, in flight all along, is read to its end and answered.
    await upload.sent
    const answer = await upload.answer
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({ rows: 20, inserted: 20, rejected: 0 })
    expect((await region.db.pool.query(`SELECT count(*)::int AS n FROM journal_users WHERE id LIKE 'drain-%'`)).rows[0]).toEqual({ n: 20 })

    const { code, signal } = await exit
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    const log = bridge.logTail(200)
    expect(log).toContain('shutting down: draining')
    // Logged after the pool closed, the last thing the process does.
    expect(log).toContain('"msg":"stopped"')
  })
})
