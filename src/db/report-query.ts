import pg from 'pg'
import { connectionFailed } from './failures.js'
import type { Pool, PoolClient } from './pool.js'

/**
 * Reports («Контроль заполнения данных») read whole organisations, and a region's largest holds
 * hundreds of thousands of cards: unlike the short statements of a login, one of them can run long
 * when something is off (statistics, a cold cache, a concurrent import). So each report runs in a
 * read-only transaction of its own with
 *
 * - a statement timeout (REPORT_STATEMENT_TIMEOUT_MS): past it PostgreSQL cancels the statement
 *   and the caller answers 503 «Отчёт сейчас недоступен, попробуйте позже» — never a query left
 *   running for nobody;
 * - the request's abort signal: when the client goes away, the statement in flight is cancelled
 *   (pg_cancel_backend from another connection), so nothing keeps working for a closed socket;
 * - enough work_mem for a large school's problem cards to be sorted in memory;
 * - cursors (the CSV) planned for reading every row, as a download does, rather than PostgreSQL's
 *   default of the first tenth — which picks a walk of the whole directory in id order over
 *   reading the school's cards and sorting them.
 */
export class ReportUnavailable extends Error {
  constructor(cause: unknown) {
    super('The report is unavailable now; try again later', { cause })
    this.name = 'ReportUnavailable'
  }
}

export interface ReportOptions {
  timeoutMs: number
  /** Aborted when the client has gone: the statement in flight is cancelled. */
  signal?: AbortSignal | undefined
}

// SQLSTATE query_canceled: statement_timeout, or our pg_cancel_backend.
const QUERY_CANCELED = '57014'
const REPORT_WORK_MEM = '64MB'

/** A report's connection, in its read-only transaction; `close` ends both (idempotent). */
export interface ReportConnection {
  query: PoolClient['query']
  close(): Promise<void>
}

export async function openReport(pool: Pool, opts: ReportOptions): Promise<ReportConnection> {
  opts.signal?.throwIfAborted()
  const client = await pool.connect()
  const pid = (client as unknown as { processID: number | null }).processID
  let closed = false
  let broken: Error | undefined
  const cancel = () => {
    if (closed || pid === null) return
    // A connection whose statement was cancelled is not given back to the pool: the cancel may
    // arrive late, and must not hit another request's statement on the same backend.
    broken = new Error('report cancelled: the client went away')
    // Another connection: this one is busy with the statement to cancel.
    pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {})
  }
  opts.signal?.addEventListener('abort', cancel, { once: true })
  const close = async () => {
    if (closed) return
    closed = true
    opts.signal?.removeEventListener('abort', cancel)
    if (!broken) await client.query('ROLLBACK').catch((err: unknown) => (broken = err as Error))
    client.release(broken)
  }
  const timeout = Math.max(1, Math.round(opts.timeoutMs))
  const query = (async (...args: Parameters<PoolClient['query']>) => {
    // Once given back, the client may be another request's: nothing more goes through it.
    if (closed) throw new Error('report connection closed')
    try {
      return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args)
    } catch (err) {
      if (connectionFailed(err)) broken = err as Error
      throw err instanceof pg.DatabaseError && err.code === QUERY_CANCELED ? new ReportUnavailable(err) : err
    }
  }) as PoolClient['query']
  try {
    // One round trip. The idle limit ends a transaction whose reader (a CSV download) stalls.
    await query(
      `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeout}; SET LOCAL work_mem = '${REPORT_WORK_MEM}';
       SET LOCAL cursor_tuple_fraction = 1; SET LOCAL idle_in_transaction_session_timeout = ${Math.max(60_000, 4 * timeout)}`,
    )
  } catch (err) {
    await close()
    throw err
  }
  return { query, close }
}

/** Runs `fn` on a report connection (see `openReport`) and ends it. */
export async function withReport<T>(pool: Pool, opts: ReportOptions, fn: (db: ReportConnection) => Promise<T>): Promise<T> {
  const db = await openReport(pool, opts)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}
