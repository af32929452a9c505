import { freePort } from '../../src/http/free-port.js'
import pino from 'pino'
import { ensureDemoAdmin } from '../../src/admin/accounts.js'
import { buildApp, type App } from '../../src/app.js'
import { startDemoJournal, type RunningDemoJournal } from '../../src/demo-journal/index.js'
import { loggerOptions } from '../../src/logging.js'
import { seedDemoDirectory } from '../../src/mock-idp/seed-demo-directory.js'
import { ClientRegistry, demoClient } from '../../src/oidc-provider/clients.js'
import { createUpstreamAdapter } from '../../src/upstream/index.js'
import { LogCapture, TEST_SECRETS, testConfig } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { startTestMockEsia, type TestMockEsia } from '../helpers/mock-esia.js'

export const SUPPORT_PASSWORD = 'e2e-support-password-0123456789'
const DEMO_CLIENT_SECRET = 'e2e-demo-journal-secret-0123456789abcdef'


export interface JournalWorld {
  bridge: App
  bridgeUrl: string
  journal: RunningDemoJournal
  mock: TestMockEsia
  db: TestDatabase
  logs: LogCapture
  close(): Promise<void>
}

/**
 * What `npm start` runs, on random ports and a fresh database: the mock ЕСИА, the bridge, and the
 * demo journal registered as its client, with the demo directory and a support account. Three
 * loopback hosts keep their cookies apart as three real sites would.
 */
export async function startJournalWorld(opts: { env?: Record<string, string> } = {}): Promise<JournalWorld> {
  const bridgeHost = '127.0.0.2'
  const journalHost = '127.0.0.3'
  const bridgeUrl = `http://${bridgeHost}:${await freePort(bridgeHost)}`
  const journalUrl = `http://${journalHost}:${await freePort(journalHost)}`
  const mock = await startTestMockEsia({ redirectUris: [`${bridgeUrl}/auth/callback`] })
  const db = await createTestDatabase()
  await seedDemoDirectory(db.pool, TEST_SECRETS.snilsHmacKey)
  await ensureDemoAdmin(db.pool, SUPPORT_PASSWORD)

  const config = testConfig({ DATABASE_URL: db.url, PUBLIC_URL: bridgeUrl, LOG_LEVEL: 'info', ...mock.bridgeEnv('mock'), ...opts.env })
  const logs = new LogCapture()
  const bridge = await buildApp({
    config,
    pool: db.pool,
    clients: new ClientRegistry([demoClient(journalUrl, DEMO_CLIENT_SECRET)]),
    logger: pino(loggerOptions(config.logLevel), logs),
    upstream: await createUpstreamAdapter(config),
  })
  await bridge.listen({ port: Number(new URL(bridgeUrl).port), host: bridgeHost })
  const journal = await startDemoJournal({ port: Number(new URL(journalUrl).port), host: journalHost, publicUrl: journalUrl, bridgeUrl, clientSecret: DEMO_CLIENT_SECRET })
  return {
    bridge,
    bridgeUrl,
    journal,
    mock,
    db,
    logs,
    async close() {
      await journal.close()
      await bridge.close()
      await mock.close()
      await db.drop()
    },
  }
}
