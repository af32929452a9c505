import closeWithGrace from 'close-with-grace'
import path from 'node:path'
import { buildApp } from './app.js'
import { buildConfig, ConfigError, parseEnv } from './config.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js'
import { migrate } from './db/migrate.js'
import { createPool } from './db/pool.js'
import { createLogger } from './logging.js'
import { ClientRegistry, demoClient, loadClientsFile } from './oidc-provider/clients.js'
import { resolveSecrets } from './secrets.js'

/**
 * Entry point: configuration, database (external or embedded), migrations, listen, graceful
 * shutdown. Everything the service does is in `app.ts`.
 */
async function main(): Promise<void> {
  const env = parseEnv(process.env)
  const { secrets, dev } = await resolveSecrets(env.NODE_ENV, env.partialSecrets, env.DATA_DIR)
  const config = buildConfig(env, secrets)
  const log = createLogger(config.logLevel)

  let embedded: EmbeddedDatabase | undefined
  let databaseUrl = config.databaseUrl
  if (!databaseUrl) {
    log.info({ dir: path.resolve(config.dataDir, 'pg') }, 'DATABASE_URL is not set: starting the embedded PostgreSQL (development database)')
    embedded = await startEmbeddedPostgres(path.join(config.dataDir, 'pg'))
    databaseUrl = embedded.url
  }
  await migrate(databaseUrl, (msg) => log.debug(msg))
  const pool = createPool(databaseUrl)

  const demoJournalUrl = `http://localhost:${config.demoJournalPort}`
  const clientEntries = config.clientsFile ? await loadClientsFile(config.clientsFile) : dev ? [demoClient(demoJournalUrl, dev.demoClientSecret)] : []
  const clients = new ClientRegistry(clientEntries)

  const app = await buildApp({ config, pool, clients, logger: log })

  closeWithGrace({ delay: 10_000, logger: { error: (m: unknown) => log.error(m) } }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down')
    await app.close()
    await pool.end()
    await embedded?.stop()
  })

  await app.listen({ port: config.port, host: config.host })
  const lines = [`Мост ЕСИА (bridge):  ${config.publicUrl}`, `  health:            ${config.publicUrl}/readyz`]
  process.stdout.write(`\n${lines.join('\n')}\n\n`)
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`esia-bridge cannot start: ${err.message}\n`)
  } else {
    process.stderr.write(`esia-bridge failed to start: ${(err as Error).stack ?? String(err)}\n`)
  }
  process.exit(1)
})
