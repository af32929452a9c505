import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { buildConfig, ConfigError, parseEnv } from './config.js'
import { DatabaseOpenError, openDatabase } from './db/open.js'
import type { RunningDemoJournal } from './demo-journal/index.js'
import { createLogger } from './logging.js'
import { startDraining } from './ops/drain.js'
import { checkUpstreamIssuer, UpstreamIssuerChanged } from './linking/upstream-issuer.js'
import { ClientRegistry, demoClient, loadClientsFile } from './oidc-provider/clients.js'
import { resolveSecrets } from './secrets.js'
import { createUpstreamAdapter } from './upstream/index.js'

/**
 * Entry point: configuration, database (external or embedded), migrations, listen, graceful
 * shutdown. With IDP_KIND=mock (the default in development) it also starts the bundled mock ЕСИА
 * (unless ESIA_URL names one already running) and the demo journal with demo data, so `npm start` shows the whole product; with esia or oidc
 * it starts the bridge alone, as production does. Everything the bridge does is in `app.ts`.
 */
async function main(): Promise<void> {
  const env = parseEnv(process.env)
  const { secrets, dev } = await resolveSecrets(env.NODE_ENV, env.partialSecrets, env.DATA_DIR)
  const config = buildConfig(env, secrets)
  const log = createLogger(config.logLevel)

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: (msg) => log.info(msg) })
  const pool = database.pool

  const demoJournalUrl = `http://localhost:${config.demoJournalPort}`
  const demo = dev && config.idp.kind === 'mock' && !config.clientsFile ? dev : undefined
  const clientEntries = config.clientsFile ? await loadClientsFile(config.clientsFile, { requireHttps: config.env === 'production' }) : dev ? [demoClient(demoJournalUrl, dev.demoClientSecret)] : []
  const clients = new ClientRegistry(clientEntries)

  // The mock must listen before the adapter is built: the adapter reads the mock's token keys.
  // Development parts are loaded only when used: a production start never imports them.
  // ESIA_URL with IDP_KIND=mock means a mock already running (`npm run mock-esia`): use it.
  const separateMock = config.idp.kind === 'mock' && config.idp.esia.url !== undefined
  const mockModule = config.idp.kind === 'mock' ? await import('./mock-idp/bridge-client.js') : undefined
  const mock = mockModule && !separateMock
    ? await mockModule.startBundledMockEsia(config, { logger: log.child({ component: 'mock-esia' }) })
    : undefined
  const mockKeys = mock ?? (mockModule && separateMock ? await mockModule.useSeparateMockEsia(config) : undefined)
  const upstream = await createUpstreamAdapter(config, mockKeys ? { testSigningKey: mockKeys.testKey.privateKey, ...(mockKeys.gostTestKey ? { gostTestKey: mockKeys.gostTestKey } : {}) } : {})
  await checkUpstreamIssuer(pool, upstream.issuer, { development: config.idp.kind === 'mock' })

  if (demo) {
    await (await import('./mock-idp/seed-demo-directory.js')).seedDemoDirectory(pool, config.secrets.snilsHmacKey)
    await (await import('./admin/accounts.js')).ensureDemoAdmin(pool, demo.demoAdminPassword)
  }

  const app = await buildApp({ config, pool, clients, logger: log, upstream })
  let journal: RunningDemoJournal | undefined

  // SIGTERM (a rolling restart): drain — /readyz 503 while still serving for the delay, then the
  // listener closes and requests in flight get the grace to finish — then the pool closes. SIGINT
  // is a person at a terminal: no balancer to wait for. Past delay + grace the process exits 1.
  const { delayMs, graceMs } = config.shutdown
  closeWithGrace({ delay: delayMs + graceMs, logger: { error: (m: unknown) => log.error(m) } }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal, delayMs, graceMs }, 'shutting down: draining')
    if (signal === 'SIGTERM') await startDraining(app, delayMs)
    await journal?.close()
    await app.close()
    await mock?.close()
    await database.close()
    log.info('stopped')
  })

  await app.listen({ port: config.port, host: config.host })
  const lines = [`Мост ЕСИА (esia-bridge):      ${config.publicUrl}    (health: ${config.publicUrl}/readyz)`]
  if (mockKeys) lines.push(`Тестовый вход Госуслуг (mock): ${mockKeys.url}`, `  ${mockKeys.signature}`)
  if (demo) {
    const { startDemoJournal } = await import('./demo-journal/index.js')
    journal = await startDemoJournal({
      port: config.demoJournalPort,
      host: config.host,
      publicUrl: demoJournalUrl,
      bridgeUrl: config.publicUrl,
      clientSecret: demo.demoClientSecret,
      logger: log.child({ component: 'demo-journal' }),
    })
    lines.push(
      `Демо-журнал:                   ${journal.url}`,
      '',
      `Откройте ${journal.url}, войдите как ${journal.sampleLogin} (пароль: ${journal.password}), «Персональные настройки» →`,
      '«Привязать пользователя портала гос. услуг», затем выйдите и нажмите «Войти через Госуслуги».',
      '«Выберите организацию» покажет вход через Госуслуги как «Иванова Марина Сергеевна» (две карточки).',
      `Консоль поддержки: ${config.publicUrl}/admin  (логин admin, пароль: ${demo.demoAdminPassword})`,
    )
  }
  // Last on the screen: the log lines of the start (written in blocks, or by a worker at a
  // terminal) go out first, so the password and the click-through do not scroll away.
  await new Promise<void>((resolve) => log.flush(() => resolve()))
  process.stdout.write(`\n${lines.join('\n')}\n\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`esia-bridge cannot start: ${startFailure(err)}\n`)
  if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '')) process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})

/** One line that says what failed and what to do; the stack only with LOG_LEVEL=debug. */
function startFailure(err: unknown): string {
  if (err instanceof ConfigError || err instanceof UpstreamIssuerChanged || err instanceof DatabaseOpenError) return err.message
  const e = err as NodeJS.ErrnoException & { port?: number }
  if (e?.code === 'EADDRINUSE') return `${e.message.replace(/^listen /, 'address ')} — another process (perhaps another npm start) holds it: stop it, or choose other ports with PORT, MOCK_ESIA_PORT, DEMO_JOURNAL_PORT`
  if (e?.code === 'EACCES' && e.syscall === 'listen') return `${e.message} — choose a port above 1023 with PORT, or run with the right to bind it`
  const message = (e instanceof Error ? e.message : String(err)).split('\n')[0]
  return `${message} (LOG_LEVEL=debug prints the stack)`
}
