import type { Queryable } from '../db/pool.js'

export class UpstreamIssuerChanged extends Error {
  override name = 'UpstreamIssuerChanged'
}

/**
 * Links hold upstream subjects, and a subject means a person only together with the provider that
 * issued it: an ЕСИА oid and a broker's `sub` of the same digits are different people. The bridge
 * remembers the issuer its links were made with and refuses to start against another one while
 * links exist — moving from a direct ЕСИА connection to a broker (docs/decisions/0004-one-upstream-issuer-kept-with-links.md) is then a
 * deliberate migration of the links, never a silent mix-up. The bundled mock (development data)
 * is simply re-pointed.
 */
export async function checkUpstreamIssuer(db: Queryable, issuer: string, opts: { development: boolean }): Promise<'recorded' | 'same' | 'moved'> {
  const { rows } = await db.query<{ value: string }>(`SELECT value FROM bridge_settings WHERE name = 'upstream_issuer'`)
  const stored = rows[0]?.value
  if (stored === issuer) return 'same'
  if (stored !== undefined) {
    const { rows: links } = await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM links) AS any')
    if (links[0]!.any && !opts.development) {
      throw new UpstreamIssuerChanged(
        `The links in this database were made with the upstream ${stored}, but the configured upstream is ${issuer}. ` +
          'Subjects of different providers are different people. Point IDP_KIND/ESIA_URL/OIDC_ISSUER back, or migrate the links ' +
          `deliberately (map each subject to the new provider's) and then: UPDATE bridge_settings SET value = '${issuer}' WHERE name = 'upstream_issuer'.`,
      )
    }
  }
  await db.query(
    `INSERT INTO bridge_settings (name, value) VALUES ('upstream_issuer', $1)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [issuer],
  )
  return stored === undefined ? 'recorded' : 'moved'
}
