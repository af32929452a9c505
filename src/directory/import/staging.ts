import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { AuditActor } from '../../linking/audit.js'
import { CARD_COLUMNS, CARD_UPSERT } from '../cards.js'
import { STAGING_COLUMNS, type StagedBatch } from './batches.js'
import { reportLinksRemovedWithCards } from '../../events/link-events.js'

/**
 * The set-based half of the import, on the import's own transaction. Each batch of the file is
 * COPied into `import_batch`, checked there with a few statements over the whole batch, merged into
 * `journal_users` with one upsert, and its refused rows moved to `import_rejected`. `import_seen`
 * keeps every id of the file (first line that claimed it) for duplicates across batches and for
 * the deletions of replace mode. All three are temporary tables dropped at commit or rollback.
 *
 * Each statement touches one batch and probes the big tables by index, so the cost of an import
 * grows with the file, not with the directory it lands in.
 */
export type Tx = pg.ClientBase

export async function createStagingTables(tx: Tx): Promise<void> {
  await tx.query(`
    CREATE TEMP TABLE import_batch (
      line integer NOT NULL, id text, organization_id text, role text, last_name text, first_name text,
      middle_name text, birth_date date, snils_hmac bytea, snils_present boolean, snils_valid boolean,
      norm_last_name text, norm_first_name text, norm_middle_name text, no_middle_name boolean, reject text, dup_of integer,
      maybe_seen boolean NOT NULL, holds_children boolean NOT NULL
    ) ON COMMIT DROP;
    -- No index: it is scanned once at the end, for the rows set aside, and for replace mode's deletions.
    CREATE TEMP TABLE import_seen (id text NOT NULL, line integer NOT NULL) ON COMMIT DROP;
    -- Rows whose id the filter flagged: maybe repeats, settled at the end in one pass.
    CREATE TEMP TABLE import_aside (LIKE import_batch) ON COMMIT DROP;
    CREATE TEMP TABLE import_rejected (line integer NOT NULL, id text, reason text NOT NULL, dup_of integer) ON COMMIT DROP;
    -- A parent row's children («Дети»), one per line of the file; no child: the row says «none».
    CREATE TEMP TABLE import_children (line integer NOT NULL, child_id text) ON COMMIT DROP;
    -- Parent rows with children wait here until every card of the file is in (their children may come later).
    CREATE TEMP TABLE import_held (LIKE import_batch) ON COMMIT DROP;
  `)
}

export async function copyBatch(tx: Tx, batch: StagedBatch): Promise<void> {
  await tx.query('TRUNCATE import_batch')
  await pipeline(Readable.from(batch.pieces), tx.query(copyFrom(`COPY import_batch (${STAGING_COLUMNS.join(', ')}) FROM STDIN`)))
  if (batch.children) await pipeline(Readable.from([batch.children]), tx.query(copyFrom('COPY import_children (line, child_id) FROM STDIN')))
}

/**
 * Repeats of an id claimed by an earlier batch (the first occurrence in the file wins). Only rows
 * the id filter flagged can be such repeats (see `IdFilter`); they are set aside, and the others
 * claim their ids. Looking the flagged rows up batch by batch would scan every id seen so far each
 * time — quadratic in a file that repeats ids systematically.
 */
export async function setAsideRepeats(tx: Tx, batch: StagedBatch): Promise<void> {
  if (batch.maybeSeen > 0) {
    await tx.query(`WITH flagged AS (DELETE FROM import_batch WHERE maybe_seen RETURNING *) INSERT INTO import_aside SELECT * FROM flagged`)
  }
  await tx.query(`INSERT INTO import_seen (id, line) SELECT id, line FROM import_batch WHERE id IS NOT NULL AND dup_of IS NULL`)
}

/**
 * Settles the rows set aside: a repeat of an id claimed earlier, or of an earlier row set aside, is
 * refused as a duplicate of that line; the rest (the filter's false alarms) become the last batch,
 * to be checked and merged like any other. False when there was nothing set aside.
 */
export async function settleAside(tx: Tx): Promise<boolean> {
  const { rowCount } = await tx.query(`SELECT 1 FROM import_aside LIMIT 1`)
  if (!rowCount) return false
  await tx.query(`UPDATE import_aside a SET reject = 'duplicate_id', dup_of = s.line FROM import_seen s WHERE s.id = a.id`)
  await tx.query(`
    UPDATE import_aside a SET reject = 'duplicate_id', dup_of = f.first
    FROM (SELECT id, min(line) AS first FROM import_aside WHERE dup_of IS NULL GROUP BY id) f
    WHERE f.id = a.id AND a.dup_of IS NULL AND a.line > f.first`)
  await tx.query(`INSERT INTO import_seen (id, line) SELECT id, line FROM import_aside WHERE dup_of IS NULL`)
  await tx.query(`TRUNCATE import_batch`)
  await tx.query(`INSERT INTO import_batch SELECT * FROM import_aside`)
  return true
}

export interface OrganizationChecks {
  /** Replace mode: every row must belong to this organisation. */
  replacing: string | null
  /** Organisations the caller may change; undefined = all. */
  scope: string[] | undefined
}

export async function markOrganizationProblems(tx: Tx, checks: OrganizationChecks): Promise<void> {
  if (checks.replacing !== null) {
    await tx.query(`UPDATE import_batch SET reject = 'organization_mismatch' WHERE reject IS NULL AND organization_id <> $1`, [checks.replacing])
  }
  if (checks.scope) {
    // Neither into an organisation outside the scope, nor out of one (moving a card steals it).
    await tx.query(
      `UPDATE import_batch b SET reject = 'organization_out_of_scope'
       WHERE b.reject IS NULL AND (NOT (b.organization_id = ANY($1))
         OR EXISTS (SELECT 1 FROM journal_users u WHERE u.id = b.id AND NOT (u.organization_id = ANY($1))))`,
      [checks.scope],
    )
  }
  await tx.query(`
    UPDATE import_batch b SET reject = 'unknown_organization'
    WHERE b.reject IS NULL AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = b.organization_id)`)
}

/**
 * A linked card whose row moves it to another organisation or role drags its link along (the
 * `links_follow_card` trigger), and `links` allows one card per person, organisation and role. The
 * unique index is checked row by row, so a move into a slot that is held now — or that another row
 * of the batch also moves into — would fail the whole import mid-way. Such rows are refused with
 * `link_conflict` instead; the rest of the file goes in.
 */
export async function markLinkConflicts(tx: Tx): Promise<void> {
  await tx.query(`
    WITH movers AS (
      SELECT b.line, l.upstream_subject, b.organization_id, b.role
      FROM import_batch b JOIN links l ON l.journal_user_id = b.id
      WHERE b.reject IS NULL AND (l.organization_id, l.role) IS DISTINCT FROM (b.organization_id, b.role)
    ), conflicted AS (
      SELECT m.line FROM movers m
      WHERE EXISTS (SELECT 1 FROM links o
                    WHERE o.upstream_subject = m.upstream_subject AND o.organization_id = m.organization_id AND o.role = m.role)
         OR EXISTS (SELECT 1 FROM movers x
                    WHERE x.upstream_subject = m.upstream_subject AND x.organization_id = m.organization_id AND x.role = m.role
                      AND x.line <> m.line)
    )
    UPDATE import_batch b SET reject = 'link_conflict' FROM conflicted c WHERE b.line = c.line`)
}

/**
 * Parent rows that list children are held back from the merge: a child may be a row further down
 * the file. They are settled once every other card is in (`settleHeldParents`).
 */
export async function holdParentsWithChildren(tx: Tx): Promise<void> {
  await tx.query(`WITH held AS (DELETE FROM import_batch WHERE reject IS NULL AND holds_children RETURNING *) INSERT INTO import_held SELECT * FROM held`)
}

/**
 * The held parent rows become the last batch, each refused when a child it lists is no card of
 * the directory (`unknown_child`) or not a pupil's card (`invalid_child`) — the same rules as the
 * API's `child_ids`. False when nothing was held.
 */
export async function settleHeldParents(tx: Tx): Promise<boolean> {
  const { rowCount } = await tx.query(`SELECT 1 FROM import_held LIMIT 1`)
  if (!rowCount) return false
  await tx.query(`
    UPDATE import_held h SET reject = 'unknown_child'
    WHERE h.reject IS NULL AND EXISTS (
      SELECT 1 FROM import_children c WHERE c.line = h.line AND c.child_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM journal_users u WHERE u.id = c.child_id))`)
  await tx.query(`
    UPDATE import_held h SET reject = 'invalid_child'
    WHERE h.reject IS NULL AND EXISTS (
      SELECT 1 FROM import_children c JOIN journal_users u ON u.id = c.child_id WHERE c.line = h.line AND u.role <> 'student')`)
  await tx.query(`TRUNCATE import_batch`)
  await tx.query(`INSERT INTO import_batch SELECT * FROM import_held`)
  await tx.query(`TRUNCATE import_held`)
  return true
}

/**
 * Every parent row of the file that went in and states its children gets exactly those (an empty
 * «Дети»: none). Relations kept are not touched, so what Госуслуги said of them stays
 * (src/guardians/checks.ts).
 */
export async function setRelations(tx: Tx): Promise<{ added: number; removed: number }> {
  await tx.query(`
    CREATE TEMP TABLE import_relations ON COMMIT DROP AS
    SELECT DISTINCT s.id AS parent_id, c.child_id FROM import_children c JOIN import_seen s ON s.line = c.line
    WHERE NOT EXISTS (SELECT 1 FROM import_rejected r WHERE r.line = c.line)`)
  const removed = await tx.query(`
    DELETE FROM journal_user_relations r
    WHERE r.parent_id IN (SELECT parent_id FROM import_relations)
      AND NOT EXISTS (SELECT 1 FROM import_relations i WHERE i.parent_id = r.parent_id AND i.child_id = r.child_id)`)
  const added = await tx.query(`
    INSERT INTO journal_user_relations (parent_id, child_id) SELECT parent_id, child_id FROM import_relations WHERE child_id IS NOT NULL
    ON CONFLICT DO NOTHING`)
  return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0 }
}

export interface MergeCounts {
  valid: number
  inserted: number
  updated: number
}

export async function mergeBatch(tx: Tx): Promise<MergeCounts> {
  const { rows } = await tx.query<MergeCounts>(`
    WITH merged AS (
      INSERT INTO journal_users AS u (${CARD_COLUMNS})
      SELECT ${CARD_COLUMNS} FROM import_batch WHERE reject IS NULL
      ${CARD_UPSERT}
      RETURNING (xmax = 0) AS inserted
    )
    SELECT (SELECT count(*) FROM import_batch WHERE reject IS NULL)::int AS valid,
           count(*) FILTER (WHERE inserted)::int AS inserted,
           count(*) FILTER (WHERE NOT inserted)::int AS updated
    FROM merged`)
  return rows[0]!
}

export async function keepRejected(tx: Tx): Promise<void> {
  await tx.query(`INSERT INTO import_rejected (line, id, reason, dup_of) SELECT line, id, reject, dup_of FROM import_batch WHERE reject IS NOT NULL`)
}

/**
 * Replace mode: the organisation's cards that the file does not mention are deleted. Their links
 * go first, set-based, each with its `link.removed` audit row, in this same transaction.
 */
export async function deleteMissingCards(tx: Tx, organizationId: string, actor: AuditActor, reason: string): Promise<{ deleted: number; linksRemoved: number }> {
  await tx.query(
    `CREATE TEMP TABLE import_gone ON COMMIT DROP AS
     SELECT u.id FROM journal_users u
     WHERE u.organization_id = $1 AND NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.id = u.id)`,
    [organizationId],
  )
  const links = await tx.query<{ journal_user_id: string; organization_id: string }>(
    `WITH removed AS (
       DELETE FROM links l USING import_gone g WHERE l.journal_user_id = g.id
       RETURNING l.journal_user_id, l.organization_id, l.upstream_subject, l.method
     ), audit AS (
       INSERT INTO audit_events (type, actor_kind, actor_id, journal_user_id, organization_id, upstream_subject, reason, details)
       SELECT 'link.removed', $1, $2, journal_user_id, organization_id, upstream_subject, $3,
              jsonb_build_object('method', method, 'source', 'directory.import')
       FROM removed
     )
     SELECT journal_user_id, organization_id FROM removed ORDER BY journal_user_id`,
    [actor.kind, actor.id ?? null, reason],
  )
  await reportLinksRemovedWithCards(tx, links.rows.map((r) => ({ journalUserId: r.journal_user_id, organizationId: r.organization_id })))
  const cards = await tx.query(`DELETE FROM journal_users u USING import_gone g WHERE u.id = g.id`)
  return { deleted: cards.rowCount ?? 0, linksRemoved: links.rowCount ?? 0 }
}

export interface StoredRejection {
  line: number
  id: string | null
  reason: string
  dup_of: number | null
}

/** The first `limit` refused rows in file order, and the count of every reason. */
export async function readRejections(tx: Tx, limit: number): Promise<{ rows: StoredRejection[]; byReason: Record<string, number> }> {
  const counts = await tx.query<{ reason: string; n: number }>(`SELECT reason, count(*)::int AS n FROM import_rejected GROUP BY reason ORDER BY reason`)
  const rows = await tx.query<StoredRejection>(`SELECT line, id, reason, dup_of FROM import_rejected ORDER BY line LIMIT $1`, [limit])
  return { rows: rows.rows, byReason: Object.fromEntries(counts.rows.map((r) => [r.reason, r.n])) }
}
