import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { upsertCard, upsertOrganization, validateCard } from '../directory/cards.js'
import { loadDemoDirectory } from './demo-directory.js'

export interface SeedReport {
  organizations: number
  journalUsers: number
  relations: number
}

/**
 * Loads the demo directory into the database through the same card rules as the directory API
 * (`validateCard` + `upsertCard`), in one transaction; running it again changes nothing.
 * A card the rules refuse stops the seed: the fixture is ours, so that is a bug to see at once.
 */
export async function seedDemoDirectory(pool: Pool, snilsKey: string): Promise<SeedReport> {
  const directory = loadDemoDirectory()
  return withTransaction(pool, async (db) => {
    for (const org of directory.organizations) await upsertOrganization(db, org)
    for (const card of directory.journalUsers) {
      const checked = validateCard(card, { snilsKey })
      if (!checked.ok) throw new Error(`Demo card ${card.id} refused: ${checked.rejection.code}`)
      await upsertCard(db, checked.row)
    }
    const pairs = directory.journalUsers.flatMap((u) => (u.child_ids ?? []).map((child) => [u.id, child] as const))
    // Parent↔child relations have no helper in src/directory yet; one idempotent statement here.
    if (pairs.length > 0) {
      await db.query(
        `INSERT INTO journal_user_relations (parent_id, child_id)
         SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
        [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      )
    }
    return { organizations: directory.organizations.length, journalUsers: directory.journalUsers.length, relations: pairs.length }
  })
}
