import pg from 'pg'

/**
 * How PostgreSQL failures look from node-postgres, named once for the pool (which must drop a
 * broken connection) and for the error handlers (which answer 503 instead of 500).
 */

// Errors of the socket: the server refuses, resets, is not there, or the network is gone.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// node-postgres and its pool say these in words, without a code.
const CONNECTION_MESSAGES = /^(timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)/
// SQLSTATEs (PostgreSQL, Appendix A) of a server going away: admin or crash shutdown, still starting.
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03'])
// SQLSTATEs of a server that is there but cannot serve this now: too many connections, a statement
// cancelled by statement_timeout, and the conflicts a retry resolves (serialization, deadlock).
const BUSY_STATES = new Set(['53300', '57014', '40001', '40P01'])

const sqlState = (err: unknown): string | undefined => (err instanceof pg.DatabaseError ? err.code : undefined)

/** The connection failed or never came: it cannot be used again (not even for a ROLLBACK). */
export function connectionFailed(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true
  const state = sqlState(err)
  if (state) return state.startsWith('08') || SHUTDOWN_STATES.has(state)
  return CONNECTION_MESSAGES.test(err.message)
}

/** The database cannot serve the request now, and a little later it may: a 503, never a 500. */
export function databaseUnavailable(err: unknown): boolean {
  const state = sqlState(err)
  return connectionFailed(err) || (state !== undefined && BUSY_STATES.has(state))
}
