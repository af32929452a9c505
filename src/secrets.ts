import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, SECRET_ENV_NAMES, type Secrets } from './config.js'

/** Generated development secrets, kept under DATA_DIR so a restart keeps the same HMACs and keys. */
export interface DevSecrets extends Secrets {
  /** Secret of the bundled demo journal client. */
  demoClientSecret: string
  /** Password of the demo support account printed by `npm start`. */
  demoAdminPassword: string
}

const newSecret = () => randomBytes(32).toString('base64url')

/**
 * Production: every secret must come from the environment, and start-up stops naming the missing
 * ones. Development: missing ones are generated once into DATA_DIR/secrets.json (mode 0600).
 */
export async function resolveSecrets(
  nodeEnv: string,
  provided: Partial<Secrets>,
  dataDir: string,
): Promise<{ secrets: Secrets; dev: DevSecrets | undefined }> {
  if (nodeEnv === 'production') {
    const missing = (Object.keys(SECRET_ENV_NAMES) as (keyof Secrets)[]).filter((k) => !provided[k])
    if (missing.length > 0) {
      throw new ConfigError(
        `Missing secrets in production: ${missing.map((k) => SECRET_ENV_NAMES[k]).join(', ')}. ` +
          'Set each to at least 32 random characters (e.g. `openssl rand -base64 32`) from your secret store.',
      )
    }
    return { secrets: provided as Secrets, dev: undefined }
  }
  const file = path.join(dataDir, 'secrets.json')
  let stored: Partial<DevSecrets> = {}
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<DevSecrets>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const dev: DevSecrets = {
    snilsHmacKey: stored.snilsHmacKey ?? newSecret(),
    cookieSecret: stored.cookieSecret ?? newSecret(),
    keysEncryptionKey: stored.keysEncryptionKey ?? newSecret(),
    demoClientSecret: stored.demoClientSecret ?? newSecret(),
    demoAdminPassword: stored.demoAdminPassword ?? randomBytes(9).toString('base64url'),
  }
  if (JSON.stringify(stored) !== JSON.stringify(dev)) {
    await mkdir(dataDir, { recursive: true })
    await writeFile(file, JSON.stringify(dev, null, 2), { mode: 0o600 })
  }
  return { secrets: { ...dev, ...provided }, dev }
}
