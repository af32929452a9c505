import type { Queryable } from '../db/pool.js'
import type { ClientRegistry } from '../oidc-provider/clients.js'

/**
 * Who receives link events (`event_recipients`): every registered journal client that asked for
 * them — pushed to its events_endpoint or polled — and, for logout tokens, every client with a
 * backchannel_logout_uri. Every such client hears of every link change, whichever client the link
 * was made through: there is one directory per installation, so the clients of one installation
 * are faces of one journal (its web site, its mobile backend), and a link removed by support or
 * by a directory import was made through no client at all. Each gets its own copy, `aud` = its id
 * (docs/architecture.md, «Who hears what»).
 *
 * Written from CLIENTS_FILE when an instance starts; the statement that records a link change reads
 * it, so saveLink and removeLink need not know the clients. All instances are expected to run with
 * the same CLIENTS_FILE; the last one started wins.
 */
export async function syncRecipients(db: Queryable, clients: ClientRegistry): Promise<void> {
  const wanted = clients.all().filter((c) => c.events || c.backchannelLogout)
  await db.query(
    `WITH wanted AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[]) AS w(client_id, sets, backchannel_logout)
     ), gone AS (
       DELETE FROM event_recipients r WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE w.client_id = r.client_id)
     )
     INSERT INTO event_recipients (client_id, sets, backchannel_logout)
     SELECT client_id, sets, backchannel_logout FROM wanted
     ON CONFLICT (client_id) DO UPDATE SET sets = EXCLUDED.sets, backchannel_logout = EXCLUDED.backchannel_logout, updated_at = now()
       WHERE (event_recipients.sets, event_recipients.backchannel_logout) IS DISTINCT FROM (EXCLUDED.sets, EXCLUDED.backchannel_logout)`,
    [wanted.map((c) => c.clientId), wanted.map((c) => c.events?.delivery ?? null), wanted.map((c) => c.backchannelLogout !== undefined)],
  )
}
