import pg from 'pg'
import type { Pool } from '../../db/pool.js'
import { writeAudit, type AuditActor } from '../../linking/audit.js'
import { createCardValidator } from '../cards.js'
import { stagedBatches, type StagedBatch } from './batches.js'
import { deferChecksIfEmpty, restoreChecks } from './bulk-load.js'
import { deferCompletenessCounts, recountCompleteness, type CountsMode } from './completeness-counts.js'
import { decodeText } from './decode.js'
import { ImportFileError, ImportRefused } from './errors.js'
import { rejectedRow, type ImportReport, type ImportTimings } from './report.js'
import { csvRows, everyRowNamed, ndjsonRows, type CsvLayout, type ImportFormat, type SourceRow } from './rows.js'
import {
  copyBatch,
  createStagingTables,
  deleteMissingCards,
  holdParentsWithChildren,
  keepRejected,
  markLinkConflicts,
  markOrganizationProblems,
  mergeBatch,
  readRejections,
  setAsideRepeats,
  setRelations,
  settleAside,
  settleHeldParents,
  type Tx,
} from './staging.js'

/**
 * Batch update of the directory («Пакетное обновление», docs/sources.md: Камчатка slides) from a CSV or NDJSON stream.
 *
 * One transaction for the whole file: a file that cannot be read rolls everything back; rows that
 * cannot be applied are refused with a reason and the rest goes in. The file is read in batches;
 * while the database checks and merges one batch, the next one is decoded, validated and HMAC'd,
 * so both CPUs work and memory stays one or two batches whatever the file size. A dry run does all
 * of it and rolls back, so its counts are exact.
 */
export interface ImportOptions {
  /** Omitted: NDJSON when the first character is `{`, else CSV. */
  format?: ImportFormat | undefined
  /** Declared charset (Content-Type `charset=`); omitted: detected. */
  charset?: string | undefined
  dryRun?: boolean
  /** `replace`: the file is the complete list of `organizationId`'s cards; the others are deleted. */
  mode?: 'merge' | 'replace'
  organizationId?: string | null | undefined
  /** Organisations the caller may change (support staff); omitted: all. */
  organizationIds?: string[] | undefined
  snilsKey: string
  /** Keep cards whose SNILS fails the checksum, flagged invalid, instead of refusing the row. */
  keepInvalidSnils?: boolean
  actor: AuditActor
  /** Largest accepted file, counted as it streams. */
  maxBytes?: number
  batchSize?: number
  /** How many refused rows the report lists (all are counted). */
  rejectedLimit?: number
}

export const DEFAULT_BATCH_SIZE = 100_000
export const DEFAULT_REJECTED_LIMIT = 100_000
const IMPORT_LOCK = 'esia-bridge/directory-import'
const DELETED_REASON = 'card deleted from the journal directory (batch import, replace mode)'

async function sniffFormat(chunks: AsyncGenerator<string>): Promise<{ format: ImportFormat; chunks: AsyncGenerator<string> }> {
  const first = await chunks.next()
  const head = first.done ? '' : first.value
  async function* again(): AsyncGenerator<string> {
    if (head) yield head
    yield* chunks
  }
  return { format: head.trimStart().startsWith('{') ? 'ndjson' : 'csv', chunks: again() }
}

export async function importDirectory(pool: Pool, source: AsyncIterable<unknown>, opts: ImportOptions): Promise<ImportReport> {
  const started = performance.now()
  const mode = opts.mode ?? 'merge'
  const replacing = mode === 'replace' ? (opts.organizationId ?? null) : null
  if (mode === 'replace' && !replacing) throw new ImportRefused('organization_required', 'Replace mode needs organization_id: the organisation whose card list the file is')
  if (replacing && opts.organizationIds && !opts.organizationIds.includes(replacing)) {
    throw new ImportRefused('organization_out_of_scope', 'The organisation to replace is outside the caller’s scope')
  }

  const decoded = await decodeText(source, { charset: opts.charset, maxBytes: opts.maxBytes })
  const { format, chunks } = opts.format ? { format: opts.format, chunks: decoded.chunks } : await sniffFormat(decoded.chunks)
  let layout: CsvLayout | undefined
  const rows: AsyncIterable<SourceRow[]> = format === 'csv' ? csvRows(chunks, (l) => (layout = l)) : ndjsonRows(chunks)
  const batches = stagedBatches(replacing ? everyRowNamed(rows) : rows, {
    validate: createCardValidator({ snilsKey: opts.snilsKey, keepInvalidSnils: opts.keepInvalidSnils ?? false }),
    batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE,
  })

  // Its own connection rather than one from the pool: the session gets large temp buffers for the
  // staging tables, and they are given back when the import ends instead of staying with a pooled
  // connection.
  // An import's statements take as long as its file, so the pool's statement timeouts are lifted.
  const client = new pg.Client({ ...pool.options, statement_timeout: 0, query_timeout: 0 })
  await client.connect()
  client.on('error', () => {})
  try {
    await client.query(`SET temp_buffers = '256MB'`)
    await client.query('BEGIN')
    // One import at a time: two concurrent merges over the same cards would deadlock or interleave.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [IMPORT_LOCK])
    await client.query(`SET LOCAL work_mem = '64MB'`)
    if (replacing) await assertOrganizationExists(client, replacing)
    await createStagingTables(client)
    const deferredChecks = opts.dryRun ? [] : await deferChecksIfEmpty(client)
    const countsMode: CountsMode = deferredChecks.length > 0 ? 'all' : 'deferred'
    await deferCompletenessCounts(client, countsMode)

    const timings: ImportTimings = { reading_ms: 0, copy_ms: 0, checks_ms: 0, merge_ms: 0, finish_ms: 0 }
    const totals = { rows: 0, valid: 0, inserted: 0, updated: 0 }
    const lap = (key: keyof ImportTimings, since: number) => {
      const now = performance.now()
      timings[key] += now - since
      return now
    }
    let t = performance.now()
    const apply = async (holdParents = true) => {
      await markOrganizationProblems(client, { replacing, scope: opts.organizationIds })
      await markLinkConflicts(client)
      if (holdParents) await holdParentsWithChildren(client)
      t = lap('checks_ms', t)
      const merged = await mergeBatch(client)
      await keepRejected(client)
      totals.valid += merged.valid
      totals.inserted += merged.inserted
      totals.updated += merged.updated
      t = lap('merge_ms', t)
    }
    let pending: Promise<IteratorResult<StagedBatch>> = batches.next()
    for (;;) {
      const next = await pending
      if (next.done) break
      // Read the following batch while the database works on this one.
      pending = batches.next()
      pending.catch(() => {})
      t = lap('reading_ms', t)
      const batch = next.value
      totals.rows += batch.rows
      await copyBatch(client, batch)
      t = lap('copy_ms', t)
      await setAsideRepeats(client, batch)
      await apply()
    }
    if (await settleAside(client)) await apply()

    const removed = replacing ? await deleteMissingCards(client, replacing, opts.actor, DELETED_REASON) : { deleted: 0, linksRemoved: 0 }
    // Every other card is in now (and replace mode's deletions done): the parents' children can be checked.
    if (await settleHeldParents(client)) await apply(false)
    const relations = await setRelations(client)
    await restoreChecks(client, deferredChecks)
    t = lap('merge_ms', t)
    const limit = opts.rejectedLimit ?? DEFAULT_REJECTED_LIMIT
    const rejections = await readRejections(client, limit)
    const rejected = totals.rows - totals.valid
    const report: ImportReport = {
      dry_run: opts.dryRun ?? false,
      mode,
      organization_id: replacing,
      format,
      charset: decoded.charset,
      rows: totals.rows,
      inserted: totals.inserted,
      updated: totals.updated,
      unchanged: totals.valid - totals.inserted - totals.updated,
      deleted: removed.deleted,
      rejected,
      links_removed: removed.linksRemoved,
      relations_added: relations.added,
      relations_removed: relations.removed,
      rejected_by_reason: rejections.byReason,
      rejected_rows: rejections.rows.map(rejectedRow),
      rejected_truncated: rejected > rejections.rows.length,
      ignored_columns: layout?.ignored ?? [],
      duration_ms: 0,
      timings,
    }
    if (opts.dryRun) {
      await client.query('ROLLBACK')
    } else {
      await writeAudit(client, {
        type: 'directory.import',
        actor: opts.actor,
        organizationId: replacing,
        details: {
          format, mode, charset: decoded.charset, rows: report.rows, inserted: report.inserted, updated: report.updated,
          unchanged: report.unchanged, deleted: report.deleted, rejected: report.rejected, links_removed: report.links_removed,
          relations_added: report.relations_added, relations_removed: report.relations_removed,
          keep_invalid_snils: opts.keepInvalidSnils ?? false,
        },
      })
      const changed = report.inserted + report.updated + report.deleted + report.relations_added + report.relations_removed > 0
      // Fresh planner statistics for what the import changed, committed with it: the reports asked
      // right after a nightly import are planned on the new directory, not on whatever (or nothing)
      // was there before — autovacuum may be off, or not come round for a while.
      if (changed) {
        await analyzeDirectory(client)
        await recountCompleteness(client, countsMode)
      }
      await client.query('COMMIT')
      if (changed) await vacuumDirectory(client)
    }
    lap('finish_ms', t)
    report.duration_ms = Math.round(performance.now() - started)
    for (const k of Object.keys(timings) as (keyof ImportTimings)[]) timings[k] = Math.round(timings[k])
    return report
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    // The source is left as it is: an HTTP server discards the rest of a request body itself once
    // the error is answered, and destroying it would take the answer's connection with it.
    throw err
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The tables the reports and the login's lookups read. In the import's transaction: ANALYZE sees
 * the rows this transaction wrote. 2 000 000 cards: a few hundred milliseconds (a sample of
 * 30 000 rows per table at the default statistics target), against reports planned blind.
 */
export async function analyzeDirectory(tx: Tx): Promise<void> {
  await tx.query('ANALYZE journal_users, journal_user_relations, organizations')
}

/**
 * After the commit (VACUUM cannot run in a transaction): the rows just written carry no hint bits
 * yet, so the first reader of each one — the first report after a nightly import — would look up
 * its transaction's fate and write the page back; measured on the largest school of a
 * 400 000-card import, its first scan 172 ms against 51–86 ms after. VACUUM does it once, here, and
 * marks the pages all-visible; only pages changed since the last VACUUM are visited. The import is
 * committed by then: a VACUUM that fails is left to autovacuum. SKIP_LOCKED: a table an
 * anti-wraparound autovacuum is working on is skipped, not waited for — the import's answer would
 * otherwise wait with no statement limit for as long as that takes.
 */
async function vacuumDirectory(client: pg.Client): Promise<void> {
  await client.query('VACUUM (SKIP_LOCKED) journal_users, journal_user_relations').catch(() => {})
}

async function assertOrganizationExists(tx: Tx, id: string): Promise<void> {
  const { rowCount } = await tx.query('SELECT 1 FROM organizations WHERE id = $1', [id])
  if (!rowCount) throw new ImportRefused('unknown_organization', 'The organisation to replace is not registered')
}

export { ImportFileError, ImportRefused }
