import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose'

export interface ProviderKeysOptions {
  fetch: typeof fetch
  /** How soon jose itself fetches the JWKS again for an unknown `kid` (its default, 30 s). */
  cooldownMs: number
  /** At most one extra fetch per this many ms, inside the cooldown, for an unknown `kid`. */
  unknownKidRefetchMs: number
}

/**
 * The OIDC provider's signing keys (its `jwks_uri`), cached by jose. A token with a `kid` we have not
 * seen is a key the provider has just started signing with, or a forged token. jose fetches the
 * JWKS again for it only after its cooldown since the last fetch, so a provider that rotates within
 * 30 s of our last fetch would fail every login until the cooldown ends (the OpenID Foundation's
 * conformance suite tests exactly this rotation). Inside the cooldown an unknown `kid` therefore
 * gets one fetch of its own — at most one per `unknownKidRefetchMs` for the whole process, so a
 * stream of forged `kid`s costs the provider one request per interval, never one per token.
 */
export function providerKeys(jwksUri: URL, opts: ProviderKeysOptions): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(jwksUri, { timeoutDuration: 5000, cooldownDuration: opts.cooldownMs, [customFetch]: opts.fetch })
  let lastExtraFetch = Number.NEGATIVE_INFINITY
  return async (header, token) => {
    // Outside the cooldown jose fetches again by itself; an extra fetch would be a second one.
    const coolingDown = jwks.coolingDown
    try {
      return await jwks(header, token)
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !coolingDown) throw err
      const now = Date.now()
      if (now - lastExtraFetch < opts.unknownKidRefetchMs) throw err
      lastExtraFetch = now
      await jwks.reload()
      return jwks(header, token)
    }
  }
}
