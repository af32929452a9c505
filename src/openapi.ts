import { buildApp } from './app.js'
import { buildConfig, parseEnv } from './config.js'
import { createPool } from './db/pool.js'
import { createLogger } from './logging.js'
import { ClientRegistry } from './oidc-provider/clients.js'

/**
 * The OpenAPI document generated from the route schemas. Built from a fixed configuration so the
 * committed `openapi/openapi.json` does not depend on whoever ran `npm run openapi`.
 */
export async function generateOpenApiDocument(): Promise<string> {
  const placeholder = 'openapi-generation-placeholder-secret-0123456789'
  const env = parseEnv({ NODE_ENV: 'test', PUBLIC_URL: 'https://bridge.example', LOG_LEVEL: 'silent' })
  const config = buildConfig(env, { snilsHmacKey: placeholder, cookieSecret: placeholder, keysEncryptionKey: placeholder })
  // The pool never connects: building the app does not touch the database.
  const pool = createPool('postgres://openapi@127.0.0.1:1/none', 1)
  const app = await buildApp({ config, pool, clients: new ClientRegistry([]), logger: createLogger('silent') })
  await app.ready()
  const doc = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  await pool.end()
  return doc
}
