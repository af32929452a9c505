import type { Queryable } from '../db/pool.js'

/**
 * Throttling of console logins against password guessing (OWASP ASVS 5.0 V6.3.1). Failures are
 * counted per login (a targeted guess) and per client address (a spray across logins) over a sliding
 * window, in the database so every instance of the service sees the same counts. This is separate
 * from @fastify/rate-limit, which counts all requests per address and is off when
 * RATE_LIMIT_PER_MINUTE=0 (benchmarks); a login throttle must never be off.
 */
export const LOGIN_WINDOW_MINUTES = 15
export const MAX_FAILURES_PER_LOGIN = 5
export const MAX_FAILURES_PER_ADDRESS = 30

const keys = (login: string, address: string) => [`login:${login}`, `ip:${address}`]

export async function loginBlocked(db: Queryable, login: string, address: string): Promise<boolean> {
  const [loginKey, ipKey] = keys(login, address)
  const { rows } = await db.query<{ per_login: number; per_ip: number }>(
    `SELECT count(*) FILTER (WHERE key = $1)::int AS per_login, count(*) FILTER (WHERE key = $2)::int AS per_ip
     FROM support_login_failures WHERE key IN ($1, $2) AND at > now() - make_interval(mins => $3)`,
    [loginKey, ipKey, LOGIN_WINDOW_MINUTES],
  )
  const r = rows[0]!
  return r.per_login >= MAX_FAILURES_PER_LOGIN || r.per_ip >= MAX_FAILURES_PER_ADDRESS
}

export async function recordLoginFailure(db: Queryable, login: string, address: string): Promise<void> {
  await db.query(`INSERT INTO support_login_failures (key) SELECT unnest($1::text[])`, [keys(login, address)])
}

/** A successful login forgives that login's failures (not the address's: a spray stays counted). */
export async function clearLoginFailures(db: Queryable, login: string): Promise<void> {
  await db.query('DELETE FROM support_login_failures WHERE key = $1', [`login:${login}`])
}

export async function purgeLoginFailures(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM support_login_failures WHERE at < now() - make_interval(mins => $1)`, [LOGIN_WINDOW_MINUTES])
  return rowCount ?? 0
}
