import http from 'node:http'
import { once } from 'node:events'
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose'
import type { App } from '../../src/app.js'
import { freePort } from '../../src/http/free-port.js'

/**
 * A journal's receiving side, in the test: an HTTP server that records every request (path,
 * content type, body) and answers as the test says — 202 by default, as RFC 8935 asks.
 */
export interface Received {
  path: string
  contentType: string
  body: string
  at: number
}

export type Answer = { status: number; body?: string; delayMs?: number } | number

export interface Receiver {
  url: string
  requests: Received[]
  /** Replaces the answer for requests from now on (`n` counts requests to that path, from 1). */
  answer(fn: (request: Received, n: number) => Answer): void
  /** Waits until `count` requests to `path` arrived (fails after `ms`). */
  waitFor(path: string, count: number, ms?: number): Promise<Received[]>
  to(path: string): Received[]
  clear(): void
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = []
  const perPath = new Map<string, number>()
  let answer: (request: Received, n: number) => Answer = () => 202
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const received = { path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }
      requests.push(received)
      const n = (perPath.get(received.path) ?? 0) + 1
      perPath.set(received.path, n)
      const a = answer(received, n)
      const { status, body, delayMs } = typeof a === 'number' ? { status: a, body: undefined, delayMs: 0 } : a
      setTimeout(() => {
        res.writeHead(status, body ? { 'content-type': 'application/json' } : {})
        res.end(body)
      }, delayMs ?? 0)
    })
  })
  const port = await freePort()
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const to = (path: string) => requests.filter((r) => r.path === path)
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (fn) => void (answer = fn),
    to,
    async waitFor(path, count, ms = 10_000) {
      const deadline = Date.now() + ms
      while (to(path).length < count) {
        if (Date.now() > deadline) throw new Error(`${path}: ${to(path).length} of ${count} requests after ${ms} ms`)
        await new Promise((r) => setTimeout(r, 25))
      }
      return to(path)
    },
    clear() {
      requests.length = 0
      perPath.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Requests a test left hanging end with the receiver.
        server.closeAllConnections()
      }),
  }
}

/** The bridge's published keys, as a journal fetches them from /oauth2/jwks. */
export async function bridgeKeys(app: App) {
  const res = await app.inject({ method: 'GET', url: '/oauth2/jwks' })
  return createLocalJWKSet(res.json())
}

export interface VerifiedSet extends JWTPayload {
  sub_id: { format: string; id: string }
  events: Record<string, Record<string, unknown>>
}

/** A SET checked as docs/integration.md tells a journal to: signature against /oauth2/jwks, typ, iss, aud. */
export async function verifySet(app: App, token: string, audience: string): Promise<{ payload: VerifiedSet; type: string; event: Record<string, unknown> }> {
  const { payload, protectedHeader } = await jwtVerify<VerifiedSet>(token, await bridgeKeys(app), {
    issuer: app.config.publicUrl,
    audience,
    typ: 'secevent+jwt',
    algorithms: ['ES256'],
    requiredClaims: ['iat', 'jti', 'events'],
  })
  if (protectedHeader.alg !== 'ES256') throw new Error('not ES256')
  const [type, event] = Object.entries(payload.events)[0]!
  return { payload, type, event }
}

/** The events pushed so far to `path`, verified, in order. */
export async function pushedEvents(app: App, receiver: Receiver, path: string, audience: string) {
  return Promise.all(receiver.to(path).map((r) => verifySet(app, r.body, audience)))
}

/** Waits until the app's outbox has nothing pending (every queued event delivered or given up). */
export async function outboxSettled(app: App, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const { rows } = await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_outbox WHERE status = 'pending' AND delivery = 'push'`)
    if (rows[0]!.n === 0) return
    if (Date.now() > deadline) throw new Error(`${rows[0]!.n} events still pending after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
