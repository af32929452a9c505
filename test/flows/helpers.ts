import pino from 'pino'
import { buildApp, type App } from '../../src/app.js'
import type { Config } from '../../src/config.js'
import type { Pool } from '../../src/db/pool.js'
import { loggerOptions } from '../../src/logging.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { ClientRegistry, type ClientFileEntry } from '../../src/oidc-provider/clients.js'
import { createUpstreamAdapter } from '../../src/upstream/index.js'
import { JOURNAL_CLIENT, LogCapture, TEST_SECRETS, testConfig } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'
import { freePort } from '../../src/http/free-port.js'

export interface FlowWorld {
  app: App
  db: TestDatabase
  config: Config
  logs: LogCapture
  mock: TestMockEsia
  /** The bridge's own address (PUBLIC_URL); it listens there, so stock clients can fetch its JWKS. */
  url: string
  close(): Promise<void>
}

/**
 * The real bridge listening on a random port, talking to the bundled mock ЕСИА through the adapter
 * IDP_KIND names (`upstream`: the mock adapter by default, or the mock's standard OIDC side), on a fresh
 * database holding the mock's demo directory.
 */
export async function startFlowWorld(opts: {
  /** Environment over the mock's; a function when it depends on the mock (its key files). */
  env?: Record<string, string> | ((mock: TestMockEsia) => Promise<Record<string, string>>)
  clients?: ClientFileEntry[]
  upstream?: 'mock' | 'esia' | 'oidc'
  mock?: Parameters<typeof startTestMockEsia>[0]
  /** The pool the bridge uses instead of the test database's own (one through a TCP proxy, say); ended on close. */
  pool?: (db: TestDatabase) => Promise<Pool>
} = {}): Promise<FlowWorld> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const mock = await startTestMockEsia({ ...opts.mock, redirectUris: [`${url}/auth/callback`] })
  const db = await createTestDatabase()
  const env = typeof opts.env === 'function' ? await opts.env(mock) : opts.env
  const config = testConfig({ DATABASE_URL: db.url, PUBLIC_URL: url, ...mock.bridgeEnv(opts.upstream ?? 'mock'), ...env })
  const logs = new LogCapture()
  const upstream = await createUpstreamAdapter(config)
  const pool = opts.pool ? await opts.pool(db) : db.pool
  const app = await buildApp({ config, pool, clients: new ClientRegistry(opts.clients ?? [JOURNAL_CLIENT]), logger: pino(loggerOptions(config.logLevel), logs), upstream })
  await app.listen({ port, host: '127.0.0.1' })
  await seedDemoDirectory(db.pool, TEST_SECRETS.snilsHmacKey)
  return {
    app,
    db,
    config,
    logs,
    mock,
    url,
    async close() {
      await app.close()
      await mock.close()
      if (pool !== db.pool) await pool.end()
      await db.drop()
    },
  }
}
