/**
 * Signs ЕСИА `client_secret` messages (docs/esia.md, «The signed `client_secret`»). ЕСИА wants a raw GOST R 34.10-2012
 * (256) signature — 64 bytes, in ЕСИА's byte order — over the UTF-8 message, and Node has no GOST,
 * so the signature is made outside: an external program, a signing service, or (for the bundled
 * mock only) a software test key.
 */
export interface EsiaSigner {
  readonly kind: 'command' | 'http' | 'test-key'
  /** Raw signature bytes of `message` (UTF-8), already in the byte order ЕСИА expects. */
  sign(message: string): Promise<Buffer>
  /**
   * Verifies a signature made with a GOST key on a token (ЕСИА can sign tokens with
   * `GOST3410_2012_256` instead of RS256, docs/esia.md, «Token shapes and the checks made»). Only signers that reach real
   * GOST crypto offer it. false: the signature does not verify; throws when it could not be checked.
   */
  verifyGost?(input: GostVerification): Promise<boolean>
}

export interface GostVerification {
  alg: string
  /** `header.payload` of the token, as signed. */
  signingInput: Buffer
  /** The token's raw signature as ЕСИА sent it: 64 bytes, s‖r big-endian (OpenSSL's order). */
  signature: Buffer
  /** ЕСИА's certificate (PEM) from ESIA_TOKEN_KEYS. */
  certificate: string
}

/** ЕСИА's raw signature is little-endian when it comes from CryptoPro and must be reversed
 * (docs/esia.md, «The signed `client_secret`»). */
export const reverseBytes = (sig: Buffer): Buffer => Buffer.from(sig).reverse()
