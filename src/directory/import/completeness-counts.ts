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

const DEADLOCK = '40P01'
const ATTEMPTS = 3

/**
 * Counts the touched organisations again. A single-card write holding one of their rows while it
 * waits for a card this import changed would deadlock with it; PostgreSQL then cancels one side.
 * If that is this step, it is tried again from a savepoint — the import's own work is kept — once
 * the other write has been refused and its locks are gone.
 */
export async function recountCompleteness(tx: Tx, mode: CountsMode): Promise<void> {
  const recount = mode === 'all' ? 'SELECT completeness_refresh(NULL)' : 'SELECT completeness_refresh(ARRAY(SELECT organization_id FROM pg_temp.completeness_dirty ORDER BY 1))'
  for (let attempt = 1; ; attempt++) {
    await tx.query('SAVEPOINT completeness_recount')
    try {
      await tx.query(recount)
      await tx.query('RELEASE SAVEPOINT completeness_recount')
      return
    } catch (err) {
      await tx.query('ROLLBACK TO SAVEPOINT completeness_recount')
      if ((err as { code?: string }).code !== DEADLOCK || attempt >= ATTEMPTS) throw err
    }
  }
}
