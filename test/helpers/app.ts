import { Writable } from 'node:stream'
import pino from 'pino'
import { buildApp, type App } from '../../src/app.js'
import { buildConfig, parseEnv, type Config } from '../../src/config.js'
import { loggerOptions } from '../../src/logging.js'
import { ClientRegistry, type ClientFileEntry } from '../../src/oidc-provider/clients.js'
import { createTestDatabase, type TestDatabase } from './db.js'

export const TEST_SECRETS = {
  snilsHmacKey: 'test-snils-hmac-key-0123456789abcdef0123456789',
  cookieSecret: 'test-cookie-secret-0123456789abcdef0123456789',
  keysEncryptionKey: 'test-keys-encryption-key-0123456789abcdef0123',
}
export const BOOTSTRAP_TOKEN = 'test-bootstrap-admin-token-0123456789'

export const JOURNAL_CLIENT: ClientFileEntry & { client_secret: string } = {
  client_id: 'journal-test',
  name: 'Тестовый журнал',
  client_secret: 'journal-test-secret-0123456789abcdef0123456789',
  redirect_uris: ['https://journal.example/auth/callback', 'https://journal.example/settings/gosuslugi/done'],
  post_logout_redirect_uris: ['https://journal.example/'],
}

export const journalBasicAuth = (client: { client_id: string; client_secret: string } = JOURNAL_CLIENT) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`

/** Captures every log line the app writes, to assert that personal data never reaches the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString('utf8'))
    done()
  }
  text(): string {
    return this.lines.join('')
  }
}

export interface TestApp {
  app: App
  db: TestDatabase
  config: Config
  logs: LogCapture
  close(): Promise<void>
}

export function testConfig(env: Record<string, string> = {}): Config {
  const parsed = parseEnv({
    NODE_ENV: 'test',
    PUBLIC_URL: 'http://bridge.test',
    LOG_LEVEL: 'debug',
    BOOTSTRAP_ADMIN_TOKEN: BOOTSTRAP_TOKEN,
    RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  })
  return buildConfig(parsed, TEST_SECRETS)
}

/**
 * The real app on a fresh database. `env` overrides configuration as environment variables would;
 * `clients` replaces the registered journal clients.
 */
export async function buildTestApp(opts: { env?: Record<string, string>; clients?: ClientFileEntry[]; db?: TestDatabase; configure?: (c: Config) => void } = {}): Promise<TestApp> {
  const db = opts.db ?? (await createTestDatabase())
  const config = testConfig({ DATABASE_URL: db.url, ...opts.env })
  opts.configure?.(config)
  const logs = new LogCapture()
  const logger = pino(loggerOptions(config.logLevel), logs)
  const app = await buildApp({ config, pool: db.pool, clients: new ClientRegistry(opts.clients ?? [JOURNAL_CLIENT]), logger })
  await app.ready()
  return {
    app,
    db,
    config,
    logs,
    async close() {
      await app.close()
      if (!opts.db) await db.drop()
    },
  }
}
