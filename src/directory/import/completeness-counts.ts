import type { Tx } from './staging.js'

/**
 * The completeness counts during an import (migration 0020_completeness_counts.sql). Kept statement
 * by statement, the counts of every organisation the file touches would stay locked from the first
 * batch to the commit — a minute on a region's file, with the journal's single-card writes to
 * those schools waiting behind it. So the import only notes the organisations its statements touch
 * (`deferred`) and counts them again at its end, locking their rows for that last step only. Into
 * an empty directory (`all`: the import holds the table alone) nothing is noted and everything is
 * counted once at the end.
 */
export type CountsMode = 'all' | 'deferred'

export async function deferCompletenessCounts(tx: Tx, mode: CountsMode): Promise<void> {
  await tx.query(`SELECT set_config('esia_bridge.completeness', $1, true)`, [mode])
  if (mode === 'deferred') await tx.query('CREATE TEMP TABLE completeness_dirty (organization_id text PRIMARY KEY) ON COMMIT DROP')
}

const LOCK_NOT_AVAILABLE = '55P03'
const DEADLOCK = '40P01'
/** How long one try waits for a count row before stepping back. */
const LOCK_WAIT_MS = 200
/** Longer than any single-card write may run (the pool's statement timeout, 30 s). */
const GIVE_UP_AFTER_MS = 45_000

/**
 * Counts the touched organisations again. A single-card write of the journal may hold one of their
 * count rows while it waits for a card this import changed; if the import then waited for that row
 * the two would deadlock, and PostgreSQL would cancel the import — minutes of work. So the import
 * never waits long: each try gives up a row it cannot lock within 200 ms, rolls back to a savepoint
 * (its own work is kept) and tries again a moment later. The single-card write meanwhile either
 * finishes or reaches its statement timeout and answers 503 to the journal, which retries.
 */
export async function recountCompleteness(tx: Tx, mode: CountsMode): Promise<void> {
  const recount = mode === 'all' ? 'SELECT completeness_refresh(NULL)' : 'SELECT completeness_refresh(ARRAY(SELECT organization_id FROM pg_temp.completeness_dirty ORDER BY 1))'
  const started = performance.now()
  await tx.query(`SET LOCAL lock_timeout = ${LOCK_WAIT_MS}`)
  try {
    for (;;) {
      await tx.query('SAVEPOINT completeness_recount')
      try {
        await tx.query(recount)
        await tx.query('RELEASE SAVEPOINT completeness_recount')
        return
      } catch (err) {
        await tx.query('ROLLBACK TO SAVEPOINT completeness_recount')
        const code = (err as { code?: string }).code
        if ((code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK) || performance.now() - started > GIVE_UP_AFTER_MS) throw err
        await new Promise((resolve) => setTimeout(resolve, LOCK_WAIT_MS + Math.random() * LOCK_WAIT_MS))
      }
    }
  } finally {
    await tx.query('SET LOCAL lock_timeout = 0')
  }
}
