import { UpstreamError } from './types.js'

/**
 * Back-channel HTTP to the provider. Node's global fetch (undici) keeps connections alive, so a
 * login does not pay a TLS handshake per call. Network failures and timeouts become `unavailable`.
 */
export async function upstreamFetch(fetchImpl: typeof fetch, url: string | URL, init: RequestInit, timeoutMs: number, what: string): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const timeout = (err as Error).name === 'TimeoutError'
    throw new UpstreamError('unavailable', timeout ? 'timeout' : 'network_error',
      timeout ? `${what}: no answer within ${timeoutMs} ms` : `${what}: ${(err as Error).message}`, { cause: err })
  }
}

/** The body as JSON; a body that is not JSON is a provider in trouble (`unavailable`). */
export async function readJson(response: Response, what: string): Promise<unknown> {
  const text = await response.text().catch((err: unknown) => {
    throw new UpstreamError('unavailable', 'network_error', `${what}: the answer was cut off`, { cause: err })
  })
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new UpstreamError('unavailable', 'malformed_response', `${what}: answered ${response.status} with a body that is not JSON`, { cause: err })
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
