import { fetchBackChannel, keepAliveBackChannel, type BackChannel, type BackChannelResponse } from '../http.js'
import { UpstreamError } from '../types.js'
import { reverseBytes, type EsiaSigner } from './types.js'

export interface HttpSignerOptions {
  url: string
  timeoutMs: number
  /** The service's crypto uses CryptoPro's byte order: reverse what it signs and what it is asked to verify. */
  reverse: boolean
  fetch?: typeof fetch
}

/**
 * Signs through a signing service (an HSM front, a CryptoPro DSS, a small service next to a
 * CryptoPro container). Contract, documented in docs/operations.md, «`ESIA_SIGNER=http`»:
 *  - sign:   `POST {ESIA_SIGNER_URL}` with the message bytes, `Content-Type: application/octet-stream`;
 *            answer 200 with the raw signature (`application/octet-stream`) or JSON
 *            `{"signature": "<base64 or base64url>"}`.
 *  - verify: `POST {ESIA_SIGNER_URL}` with JSON `{"verify": {"alg", "signing_input", "signature",
 *            "certificate"}}` (base64url bytes, PEM certificate); answer JSON `{"valid": true|false}`.
 *            Needed only when ЕСИА signs tokens with GOST instead of RS256. The signature is the
 *            token's (s‖r big-endian, OpenSSL's order), reversed when ESIA_SIGNER_REVERSE is set.
 * Two signatures per login travel this way, so it uses the same keep-alive transport as the rest
 * of the back channel.
 */
export function createHttpSigner(opts: HttpSignerOptions): EsiaSigner {
  const http: BackChannel = opts.fetch ? fetchBackChannel(opts.fetch) : keepAliveBackChannel
  const post = async (body: string, contentType: string): Promise<BackChannelResponse> => {
    let response: BackChannelResponse
    try {
      response = await http(opts.url, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/octet-stream, application/json' }, body, timeoutMs: opts.timeoutMs })
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError'
      throw new UpstreamError('configuration', timeout ? 'signer_timeout' : 'signer_failed',
        timeout ? `ESIA_SIGNER_URL did not answer within ${opts.timeoutMs} ms` : `ESIA_SIGNER_URL is unreachable: ${(err as Error).message}`, { cause: err })
    }
    if (response.status !== 200) throw new UpstreamError('configuration', 'signer_failed', `ESIA_SIGNER_URL answered ${response.status}`)
    return response
  }
  const json = (response: BackChannelResponse): unknown => {
    try {
      return JSON.parse(response.body.toString('utf8'))
    } catch {
      return null
    }
  }
  return {
    kind: 'http',
    async sign(message) {
      // The message is ASCII-safe UTF-8 text; sent as its bytes.
      const response = await post(message, 'application/octet-stream')
      const signature = response.contentType.includes('json') ? signatureFromJson(json(response)) : response.body
      if (signature.length === 0) throw new UpstreamError('configuration', 'signer_failed', 'ESIA_SIGNER_URL returned an empty signature')
      return opts.reverse ? reverseBytes(signature) : signature
    },
    async verifyGost({ alg, signingInput, signature, certificate }) {
      const response = await post(JSON.stringify({
        verify: { alg, signing_input: signingInput.toString('base64url'), signature: (opts.reverse ? reverseBytes(signature) : signature).toString('base64url'), certificate },
      }), 'application/json')
      const body = json(response) as { valid?: unknown } | null
      if (typeof body?.valid !== 'boolean') throw new UpstreamError('configuration', 'signer_failed', 'ESIA_SIGNER_URL verify answer lacks a boolean "valid"')
      return body.valid
    },
  }
}

function signatureFromJson(body: unknown): Buffer {
  const value = (body as { signature?: unknown } | null)?.signature
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    throw new UpstreamError('configuration', 'signer_failed', 'ESIA_SIGNER_URL JSON answer lacks a base64 "signature"')
  }
  // Node's base64 decoder reads both alphabets (standard and URL-safe).
  return Buffer.from(value, 'base64')
}
