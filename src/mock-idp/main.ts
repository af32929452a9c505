import { buildConfig, ConfigError, parseEnv } from '../config.js'
import { createLogger } from '../logging.js'
import { bridgeCallbackUrl, startBundledMockEsia } from './bridge-client.js'

/**
 * `npm run mock-esia`: the mock ЕСИА on its own (MOCK_ESIA_PORT, 3100), with the bridge
 * (PUBLIC_URL) registered and the test key under DATA_DIR shared with it. Prints what to set for
 * a bridge started separately.
 */
async function main(): Promise<void> {
  const env = parseEnv({ ...process.env, IDP_KIND: 'mock' })
  if (env.NODE_ENV === 'production') throw new ConfigError('the mock ЕСИА is for development and tests only')
  const config = buildConfig(env, { snilsHmacKey: '-', cookieSecret: '-', keysEncryptionKey: '-' })
  const mock = await startBundledMockEsia(config, { logger: createLogger(config.logLevel) })
  const lines = [
    `Mock ЕСИА (тестовый вход Госуслуг): ${mock.url}`,
    `  registered ИС ${config.idp.esia.clientId ?? 'ESIABRIDGE'} → ${bridgeCallbackUrl(config)}`,
    `  ${mock.signature}`,
    `  token keys:  ${mock.keysUrl}   faults: ${mock.url}/mock/faults`,
    `  bridge env:  IDP_KIND=mock ESIA_URL=${mock.url}`,
  ]
  process.stdout.write(`\n${lines.join('\n')}\n\n`)
  const stop = () => void mock.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: unknown) => {
  process.stderr.write(`mock ЕСИА cannot start: ${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`)
  process.exit(1)
})
