import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Waits, when less than `remainingMs` of the current clock minute is left, for the next one. For
 * tests of counts kept in fixed one-minute windows (the shared rate limits), which must not see
 * their window end half-way.
 */
export async function untilEarlyInMinute(remainingMs = 25_000): Promise<void> {
  const intoMinute = Date.now() % 60_000
  if (60_000 - intoMinute < remainingMs) await sleep(60_000 - intoMinute + 100)
}
