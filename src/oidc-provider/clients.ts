import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/**
 * Journal clients (relying parties of the bridge), loaded from CLIENTS_FILE. Secrets are kept only
 * as SHA-256: they are long random strings, not passwords, so a fast hash is enough and keeps the
 * token endpoint cheap on the login path.
 */
const ClientFileEntry = Type.Object({
  client_id: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.String({ minLength: 1 }),
  client_secret: Type.Optional(Type.String({ minLength: 32 })),
  client_secret_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  redirect_uris: Type.Array(Type.String({ pattern: '^https?://' }), { minItems: 1 }),
  post_logout_redirect_uris: Type.Optional(Type.Array(Type.String({ pattern: '^https?://' }))),
  /** Link events as Security Event Tokens pushed here (RFC 8935); src/events/. */
  events_endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** `poll`: the journal fetches its events at /api/v1/events (RFC 8936) instead. Default: push when events_endpoint is set. */
  events_delivery: Type.Optional(Type.Union([Type.Literal('push'), Type.Literal('poll')])),
  /** OpenID Connect Back-Channel Logout 1.0 client metadata. */
  backchannel_logout_uri: Type.Optional(Type.String({ pattern: '^https?://' })),
  backchannel_logout_session_required: Type.Optional(Type.Boolean()),
})
const ClientFile = Type.Array(ClientFileEntry)
export type ClientFileEntry = Static<typeof ClientFileEntry>

export interface JournalClient {
  clientId: string
  name: string
  secretSha256: Buffer
  redirectUris: ReadonlySet<string>
  postLogoutRedirectUris: ReadonlySet<string>
  /** How the client takes link events; undefined: it takes none. */
  events: { delivery: 'push'; endpoint: string } | { delivery: 'poll' } | undefined
  /** Where logout tokens go; undefined: the client is not told of logouts. */
  backchannelLogout: { uri: string; sessionRequired: boolean } | undefined
}

/** The client's choice of event delivery, or why the entry is inconsistent. */
function eventsOf(e: ClientFileEntry): JournalClient['events'] {
  const delivery = e.events_delivery ?? (e.events_endpoint ? 'push' : undefined)
  if (delivery === 'push') {
    if (!e.events_endpoint) throw new Error(`Client ${e.client_id}: events_delivery is push but events_endpoint is missing`)
    return { delivery, endpoint: checkedUri(e.client_id, 'events_endpoint', e.events_endpoint) }
  }
  if (delivery === 'poll' && e.events_endpoint) throw new Error(`Client ${e.client_id}: events_delivery is poll, so events_endpoint must not be set`)
  return delivery === 'poll' ? { delivery } : undefined
}

/** An absolute URL without a fragment (Back-Channel Logout 1.0 §2.2 says so of backchannel_logout_uri). */
function checkedUri(clientId: string, field: string, uri: string): string {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new Error(`Client ${clientId}: ${field} is not a URL`)
  }
  if (url.hash) throw new Error(`Client ${clientId}: ${field} must not contain a fragment`)
  return uri
}

export const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest()

export class ClientRegistry {
  readonly #clients = new Map<string, JournalClient>()

  constructor(entries: ClientFileEntry[]) {
    for (const e of entries) {
      if (this.#clients.has(e.client_id)) throw new Error(`Duplicate client_id ${e.client_id} in the clients list`)
      const secretSha256 = e.client_secret_sha256 ? Buffer.from(e.client_secret_sha256, 'hex') : e.client_secret ? sha256(e.client_secret) : undefined
      if (!secretSha256) throw new Error(`Client ${e.client_id} has neither client_secret nor client_secret_sha256`)
      this.#clients.set(e.client_id, {
        clientId: e.client_id,
        name: e.name,
        secretSha256,
        redirectUris: new Set(e.redirect_uris),
        postLogoutRedirectUris: new Set(e.post_logout_redirect_uris ?? []),
        events: eventsOf(e),
        backchannelLogout: e.backchannel_logout_uri
          ? { uri: checkedUri(e.client_id, 'backchannel_logout_uri', e.backchannel_logout_uri), sessionRequired: e.backchannel_logout_session_required ?? false }
          : undefined,
      })
    }
  }

  get(clientId: string): JournalClient | undefined {
    return this.#clients.get(clientId)
  }

  /** Is `redirectUri` (still) registered for this client? The registry may change while a person is away. */
  hasRedirectUri(clientId: string, redirectUri: string): boolean {
    return this.#clients.get(clientId)?.redirectUris.has(redirectUri) === true
  }

  all(): JournalClient[] {
    return [...this.#clients.values()]
  }

  /** Constant-time secret check; undefined for an unknown client or a wrong secret alike. */
  authenticate(clientId: string, secret: string): JournalClient | undefined {
    const client = this.#clients.get(clientId)
    const presented = sha256(secret)
    const expected = client?.secretSha256 ?? presented.map((b) => b ^ 0xff)
    return timingSafeEqual(presented, expected) && client ? client : undefined
  }

  /** Origins journals redirect to: the form-action CSP of our pages must allow them. */
  redirectOrigins(): string[] {
    const origins = new Set<string>()
    for (const c of this.#clients.values()) for (const u of [...c.redirectUris, ...c.postLogoutRedirectUris]) origins.add(new URL(u).origin)
    return [...origins]
  }
}

export async function loadClientsFile(file: string, opts: { requireHttps?: boolean } = {}): Promise<ClientFileEntry[]> {
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'))
  if (!Value.Check(ClientFile, parsed)) {
    const first = [...Value.Errors(ClientFile, parsed)][0]
    throw new Error(`CLIENTS_FILE ${file} is not a valid clients list: ${first?.instancePath || '/'} ${first?.message ?? ''}`)
  }
  if (opts.requireHttps) {
    // Codes travel in the redirect's query string: over plain http anyone on the path can take them.
    for (const c of parsed) {
      const plain = [...c.redirect_uris, ...(c.post_logout_redirect_uris ?? [])].find((u) => !u.startsWith('https://'))
      if (plain) throw new Error(`CLIENTS_FILE ${file}: client ${c.client_id} has a redirect URI that is not https (${plain}); refused in production`)
      // Events and logout tokens name the journal's users: over plain http anyone on the path reads them.
      for (const field of ['events_endpoint', 'backchannel_logout_uri'] as const) {
        const uri = c[field]
        if (uri && !uri.startsWith('https://')) throw new Error(`CLIENTS_FILE ${file}: client ${c.client_id} has ${field} that is not https (${uri}); refused in production`)
      }
    }
  }
  return parsed
}

/** The demo journal's registration, used in development when CLIENTS_FILE is not set. */
export function demoClient(demoJournalUrl: string, secret: string): ClientFileEntry {
  return {
    client_id: 'demo-journal',
    name: 'Демо-журнал',
    client_secret: secret,
    redirect_uris: [`${demoJournalUrl}/auth/callback`, `${demoJournalUrl}/settings/gosuslugi/done`],
    post_logout_redirect_uris: [`${demoJournalUrl}/`],
    events_endpoint: `${demoJournalUrl}/bridge/events`,
    backchannel_logout_uri: `${demoJournalUrl}/bridge/backchannel-logout`,
    backchannel_logout_session_required: true,
  }
}
