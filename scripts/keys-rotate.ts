import { buildConfig, ConfigError, parseEnv } from '../src/config.js'
import { openDatabase } from '../src/db/open.js'
import { ACTIVATION_DELAY_S, RETIRED_KEY_GRACE_S, SigningKeys } from '../src/oidc-provider/keys.js'
import { resolveSecrets } from '../src/secrets.js'

/**
 * `npm run keys:rotate` — starts a rotation of the bridge's token-signing key, safe to run while
 * instances serve traffic: the new key is published at once, signs after ACTIVATION_DELAY_S (every
 * journal's JWKS cache has it by then), and the old key stays published until its tokens expired.
 * Running instances pick the change up within a minute, without restart.
 *
 * Uses the same environment as the server (DATABASE_URL, KEYS_ENCRYPTION_KEY; in development the
 * generated secrets under DATA_DIR and, without DATABASE_URL, the embedded database — stop the
 * server first in that case, the embedded database serves one process).
 */
async function main(): Promise<void> {
  const env = parseEnv(process.env)
  const { secrets } = await resolveSecrets(env.NODE_ENV, env.partialSecrets, env.DATA_DIR)
  const config = buildConfig(env, secrets)

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 })
  const pool = database.pool
  try {
    const keys = new SigningKeys({ db: pool, encryptionSecret: config.secrets.keysEncryptionKey })
    const { kid, activatesAt } = await keys.rotate()
    const first = activatesAt.getTime() <= Date.now()
    process.stdout.write(
      [
        `New signing key ${kid} is published in ${config.publicUrl}/oauth2/jwks now.`,
        first
          ? 'There was no key before, so it signs at once.'
          : `It signs from ${activatesAt.toISOString()} (in ${ACTIVATION_DELAY_S / 60} min); the previous key stops signing then\n` +
            `and stays published for ${RETIRED_KEY_GRACE_S / 60} more minutes, until its last tokens expired.`,
        '',
      ].join('\n'),
    )
  } finally {
    await database.close()
  }
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `keys:rotate: ${err.message}\n` : `keys:rotate failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
