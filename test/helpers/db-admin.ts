import pg from 'pg'

export function databaseUrlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Databases left by a test run that was killed: their owner pid is gone. */
export async function dropStaleTestDatabases(adminUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl })
  await c.connect()
  try {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^esia_(tpl|t)_[0-9]+_'`)
    for (const { datname } of rows) {
      const pid = Number(datname.split('_')[2])
      if (!alive(pid)) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {})
    }
  } finally {
    await c.end()
  }
}
