import http from 'node:http'
import https from 'node:https'

/**
 * Back-channel HTTP to the provider on node:http(s) with keep-alive agents.
 *
 * Why not the global fetch: a login makes two or three calls to ЕСИА (token, person, children) and
 * the whole login may cost the bridge ≈ 1.2 ms of CPU (DESIGN.md §Service levels). Measured on this
 * machine, undici's fetch costs ≈ 0.45 ms of CPU per small request, node:http with a keep-alive
 * agent ≈ 0.1 ms: the difference is most of the budget. `keepAliveRequest` is what our adapter
 * calls; `keepAliveFetch` gives the same transport fetch's shape for openid-client and jose
 * (their `customFetch` hooks). Neither follows redirects (openid-client asks for `redirect:
 * 'manual'` anyway).
 */
// Idle sockets close after 4 s, before the usual server-side keep-alive timeouts (Node 5 s, nginx
// 60–75 s), so we rarely write into a socket the server is closing.
const agents = {
  'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 4000 }),
  'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 4000 }),
}

/** Larger answers are not what an identity provider sends: stop reading. */
const MAX_BODY = 1024 * 1024
const NULL_BODY_STATUS = new Set([101, 204, 205, 304])

export interface RawResponse {
  status: number
  statusText: string
  /** Name/value pairs as received. */
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

/**
 * One request. Network failures reject with a TypeError (as fetch does), a timeout or an abort
 * with the signal's reason (a `TimeoutError` DOMException for `timeoutMs`).
 */
export async function keepAliveRequest(input: string | URL, init: RawRequest = {}): Promise<RawResponse> {
  try {
    return await requestOnce(input, init)
  } catch (err) {
    // The server closed a kept-alive socket just as we reused it: the request never reached it
    // (Node's documented pattern, `request.reusedSocket`). One retry on a fresh socket.
    if ((err as { reusedSocket?: boolean }).reusedSocket) return requestOnce(input, init)
    throw err
  }
}

function requestOnce(input: string | URL, init: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = typeof input === 'string' ? new URL(input) : input
    const agent = agents[url.protocol as keyof typeof agents]
    if (!agent) return reject(new TypeError(`unsupported protocol ${url.protocol}`))
    const { signal } = init
    if (signal?.aborted) return reject(signal.reason)
    const headers = { ...init.headers }
    // A string body goes out in the same write as the headers (node:http joins them); a Buffer
    // would take a second, vectored write — syscalls are the dearest part of a request here.
    const body = init.body
    if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.length)
    let settled = false
    const done = (err: unknown, value?: RawResponse) => {
      if (settled) return
      settled = true
      if (timer) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err) {
        request.destroy()
        reject(err)
      } else resolve(value!)
    }
    const onAbort = () => done(signal!.reason)
    const timer = init.timeoutMs ? setTimeout(() => done(timeoutError(init.timeoutMs!)), init.timeoutMs) : undefined
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: init.method ?? 'GET', headers, agent }, (response) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY) done(new TypeError('response larger than 1 MiB'))
        else chunks.push(chunk)
      })
      response.on('error', (err) => done(new TypeError(`fetch failed: ${err.message}`, { cause: err })))
      response.on('end', () => done(null, { status: response.statusCode ?? 502, statusText: response.statusMessage ?? '', rawHeaders: response.rawHeaders, body: Buffer.concat(chunks) }))
    })
    // Like fetch: a network failure is a TypeError whose cause says what happened.
    request.on('error', (err) => {
      const failure = new TypeError(`fetch failed: ${err.message}`, { cause: err })
      if (request.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') Object.assign(failure, { reusedSocket: true })
      done(failure)
    })
    signal?.addEventListener('abort', onAbort, { once: true })
    request.end(body)
  })
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
