import { keepAliveRequest, headerValue, type RawResponse } from './keep-alive-fetch.js'
import { UpstreamError } from './types.js'

/**
 * Back-channel HTTP to the provider. By default on node:http with keep-alive (keep-alive-fetch.ts:
 * cheap in CPU, and a login pays no TLS handshake per call); tests may pass a `fetch` instead.
 * Network failures and timeouts become `unavailable`.
 */
export interface BackChannelResponse {
  status: number
  contentType: string
  body: Buffer
}

export type BackChannel = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number }) => Promise<BackChannelResponse>

export const keepAliveBackChannel: BackChannel = async (url, init) => {
  const raw: RawResponse = await keepAliveRequest(url, init)
  return { status: raw.status, contentType: headerValue(raw, 'content-type') ?? '', body: raw.body }
}

/** A BackChannel over any fetch (tests count requests through one). */
export const fetchBackChannel = (fetchImpl: typeof fetch): BackChannel => async (url, init) => {
  const response = await fetchImpl(url, {
    method: init.method ?? 'GET',
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
    signal: AbortSignal.timeout(init.timeoutMs),
  })
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: Buffer.from(await response.arrayBuffer()) }
}

export async function upstreamRequest(channel: BackChannel, url: string, init: Parameters<BackChannel>[1], what: string): Promise<BackChannelResponse> {
  try {
    return await channel(url, init)
  } catch (err) {
    const timeout = (err as Error).name === 'TimeoutError'
    throw new UpstreamError('unavailable', timeout ? 'timeout' : 'network_error',
      timeout ? `${what}: no answer within ${init.timeoutMs} ms` : `${what}: ${(err as Error).message}`, { cause: err })
  }
}

/** The body as JSON; a body that is not JSON is a provider in trouble (`unavailable`). */
export function parseJson(response: BackChannelResponse, what: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8')) as unknown
  } catch (err) {
    throw new UpstreamError('unavailable', 'malformed_response', `${what}: answered ${response.status} with a body that is not JSON`, { cause: err })
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
