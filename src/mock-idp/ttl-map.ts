/**
 * A map whose entries expire, with a hard cap on size: pending logins, unused codes and refresh
 * tokens must not grow without bound when a benchmark drives thousands of logins a second.
 */
export class TtlMap<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>()

  constructor(private readonly ttlMs: number, private readonly maxSize = 200_000) {}

  set(key: K, value: V, ttlMs = this.ttlMs): void {
    if (this.#entries.size >= this.maxSize) {
      // Maps iterate in insertion order: the oldest entry goes first.
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlMs })
  }

  /** The value if present and not expired. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  /** Removes and returns the value: single use. */
  take(key: K): V | undefined {
    const value = this.get(key)
    this.#entries.delete(key)
    return value
  }

  sweep(now = Date.now()): void {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key)
  }

  get size(): number {
    return this.#entries.size
  }
}
