import { UpstreamError } from '../types.js'
import type { EsiaSigner, GostVerification } from './types.js'

/**
 * Every login start and token exchange signs once, and `/oauth2/authorize` is public: without a
 * bound, a burst of requests would start a signing process each (the command signer forks
 * OpenSSL or CryptoPro) and starve the host. At most `concurrent` signatures run at once and
 * `queued` wait; beyond that a login is refused at once as "ЕСИА unavailable, try again", which
 * the flows already show as a Russian page.
 */
export function limitSigner(signer: EsiaSigner, limits: { concurrent: number; queued: number }): EsiaSigner {
  let running = 0
  const waiting: (() => void)[] = []
  const acquire = async (): Promise<void> => {
    if (running < limits.concurrent) {
      running++
      return
    }
    if (waiting.length >= limits.queued) throw new UpstreamError('unavailable', 'signer_busy', `the ${signer.kind} signer is saturated (${limits.concurrent} running, ${limits.queued} waiting)`)
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  const release = (): void => {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
  const bounded = async <T>(work: () => Promise<T>): Promise<T> => {
    await acquire()
    try {
      return await work()
    } finally {
      release()
    }
  }
  const { verifyGost } = signer
  return {
    ...signer,
    sign: (message) => bounded(() => signer.sign(message)),
    // A GOST token check forks OpenSSL too: it shares the bound.
    ...(verifyGost ? { verifyGost: (input: GostVerification) => bounded(() => verifyGost(input)) } : {}),
  }
}
