import { EventEmitter } from 'node:events'
import { Agent, type Dispatcher } from 'undici'

/**
 * Back-channel HTTP to the provider on undici's dispatcher API with kept-alive connections.
 *
 * Why not the global fetch, nor node:http: a login makes two or three calls to ЕСИА (token,
 * person, children) and the whole login may cost the bridge ≈ 1.2 ms of CPU (docs/performance.md,
 * «Service levels»). Measured on this machine for a token exchange (a 500-byte form out, 2 KB of JSON back,
 * 8 at once): undici's fetch ≈ 0.45 ms of CPU per request (its WHATWG streams and Request/Response
 * objects), node:http with a keep-alive agent ≈ 0.09 ms, undici's `Agent.request` ≈ 0.04 ms
 * (docs/decisions/0015-back-channel-on-undici-dispatcher.md). `keepAliveRequest` is what our
 * adapter and the event sender call; `keepAliveFetch` gives the same transport fetch's shape for
 * openid-client and jose (their `customFetch` hooks). Neither follows redirects (openid-client asks
 * for `redirect: 'manual'` anyway).
 */
// Idle connections close after 4 s, before the usual server-side keep-alive timeouts (Node 5 s,
// nginx 60–75 s), so we rarely write into a socket the server is closing; a server that announces
// a shorter `Keep-Alive: timeout` is believed (less a second).
const agent = new Agent({ keepAliveTimeout: 4000, keepAliveMaxTimeout: 4000 })

/** Larger answers are not what an identity provider sends: stop reading. */
const MAX_BODY = 1024 * 1024
const NULL_BODY_STATUS = new Set([101, 204, 205, 304])

export interface RawResponse {
  status: number
  statusText: string
  /** Name/value pairs as received (names in lower case). */
  rawHeaders: string[]
  body: Buffer
}

export interface RawRequest {
  method?: string
  headers?: Record<string, string>
  body?: Buffer | string
  /** Abort after this many ms with a `TimeoutError`. */
  timeoutMs?: number
  signal?: AbortSignal
}

const timeoutError = (ms: number) => new DOMException(`no answer within ${ms} ms`, 'TimeoutError')

/** undici's errors of a connection the server closed under us (a kept-alive one, as a rule). */
const CLOSED_UNDER_US = new Set(['UND_ERR_SOCKET', 'ECONNRESET'])

/**
 * One request. Network failures reject with a TypeError (as fetch does), a timeout or an abort
 * with the signal's reason (a `TimeoutError` DOMException for `timeoutMs`).
 */
export async function keepAliveRequest(input: string | URL, init: RawRequest = {}): Promise<RawResponse> {
  try {
    return await requestOnce(input, init)
  } catch (err) {
    // The server closed a kept-alive connection just as we reused it. One retry on a fresh one:
    // for a token exchange that did reach the server the retry is refused (the code is single-use),
    // which is where the first attempt stood anyway.
    if ((err as { closedUnderUs?: boolean }).closedUnderUs) return requestOnce(input, init)
    throw err
  }
}

function rawHeadersOf(headers: Dispatcher.ResponseData['headers']): string[] {
  const raw: string[] = []
  for (const name in headers) {
    const value = headers[name]
    if (Array.isArray(value)) for (const v of value) raw.push(name, v)
    else if (value !== undefined) raw.push(name, value)
  }
  return raw
}

async function requestOnce(input: string | URL, init: RawRequest): Promise<RawResponse> {
  const url = typeof input === 'string' ? new URL(input) : input
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`)
  const { signal } = init
  if (signal?.aborted) throw signal.reason
  // undici takes an EventEmitter as its abort signal: a timer and the caller's signal both pull it,
  // and the reason we reject with is kept here (an AbortController per request costs more).
  const abort = new EventEmitter()
  let reason: unknown
  const stop = (why: unknown) => {
    if (reason !== undefined) return
    reason = why
    abort.emit('abort')
  }
  const onAbort = () => stop(signal!.reason)
  const timer = init.timeoutMs ? setTimeout(() => stop(timeoutError(init.timeoutMs!)), init.timeoutMs) : undefined
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const response = await agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: init.headers ?? {},
      body: init.body ?? null,
      signal: abort,
      // The timer above bounds the whole exchange.
      headersTimeout: 0,
      bodyTimeout: 0,
    })
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY) {
        response.body.destroy()
        throw new TypeError('response larger than 1 MiB')
      }
      chunks.push(chunk)
    }
    return { status: response.statusCode, statusText: '', rawHeaders: rawHeadersOf(response.headers), body: Buffer.concat(chunks) }
  } catch (err) {
    if (reason !== undefined) throw reason
    if (err instanceof TypeError) throw err
    // Like fetch: a network failure is a TypeError whose cause says what happened.
    const failure = new TypeError(`fetch failed: ${(err as Error).message}`, { cause: err })
    if (CLOSED_UNDER_US.has((err as NodeJS.ErrnoException).code ?? '')) Object.assign(failure, { closedUnderUs: true })
    throw failure
  } finally {
    if (timer) clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

export const headerValue = (raw: RawResponse, name: string): string | undefined => {
  for (let i = 0; i < raw.rawHeaders.length; i += 2) if (raw.rawHeaders[i]!.toLowerCase() === name) return raw.rawHeaders[i + 1]
  return undefined
}

function requestBody(body: RequestInit['body'], headers: Record<string, string>): Buffer | string | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return body
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
    return body.toString()
  }
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  throw new TypeError('keepAliveFetch: unsupported body type')
}

/** `keepAliveRequest` in fetch's shape, for libraries that take a custom fetch. */
export const keepAliveFetch: typeof fetch = async (input, init = {}) => {
  const url = input instanceof Request ? input.url : String(input)
  const headers: Record<string, string> = {}
  if (init.headers) new Headers(init.headers).forEach((value, key) => { headers[key] = value })
  const body = requestBody(init.body, headers)
  const raw = await keepAliveRequest(url, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}), ...(init.signal ? { signal: init.signal } : {}) })
  const responseHeaders = new Headers()
  for (let i = 0; i < raw.rawHeaders.length; i += 2) responseHeaders.append(raw.rawHeaders[i]!, raw.rawHeaders[i + 1]!)
  return new Response(NULL_BODY_STATUS.has(raw.status) ? null : raw.body, { status: raw.status, statusText: raw.statusText, headers: responseHeaders })
}
