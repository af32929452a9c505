import { randomBytes } from 'node:crypto'

/**
 * The demo journal's own sessions, in memory: it is a demonstration of the integration, not a
 * journal. A real journal keeps its sessions wherever it already does.
 */
export interface JournalSession {
  userId?: string
  /** The bridge's id_token of the last «Войти через Госуслуги», for RP-initiated logout. */
  idToken?: string
  /** Its `sid`: a logout token from the bridge naming it ends this session (back-channel logout). */
  bridgeSid?: string
  /** OIDC transaction of a login in progress (state, nonce, PKCE verifier). */
  pendingLogin?: { state: string; nonce: string; codeVerifier: string }
  /** The `state` we sent with a link intent, checked when the bridge sends the person back. */
  pendingLinkState?: string
  /** Carried by every form of a signed-in page: a post without it changes nothing (cross-site request forgery). */
  csrf: string
  createdAt: number
}

const MAX_AGE_MS = 8 * 60 * 60 * 1000

export class SessionStore {
  readonly #sessions = new Map<string, JournalSession>()

  create(): { id: string; session: JournalSession } {
    this.#sweep()
    const id = randomBytes(24).toString('base64url')
    const session: JournalSession = { csrf: randomBytes(24).toString('base64url'), createdAt: Date.now() }
    this.#sessions.set(id, session)
    return { id, session }
  }

  get(id: string | undefined): JournalSession | undefined {
    if (!id) return undefined
    const s = this.#sessions.get(id)
    if (s && Date.now() - s.createdAt > MAX_AGE_MS) {
      this.#sessions.delete(id)
      return undefined
    }
    return s
  }

  delete(id: string | undefined): void {
    if (id) this.#sessions.delete(id)
  }

  /** Ends every session the predicate picks; returns how many. */
  deleteWhere(pick: (s: JournalSession) => boolean): number {
    let n = 0
    for (const [id, s] of this.#sessions) {
      if (pick(s)) {
        this.#sessions.delete(id)
        n++
      }
    }
    return n
  }

  #sweep(): void {
    const now = Date.now()
    for (const [id, s] of this.#sessions) if (now - s.createdAt > MAX_AGE_MS) this.#sessions.delete(id)
  }
}
