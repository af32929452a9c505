/**
 * npm run admin:create -- --login L [--role admin|support|auditor] [--org ID ...] [--password-stdin]
 *
 * Creates a support account in the database the service uses: DATABASE_URL, or the embedded
 * PostgreSQL under DATA_DIR (as `npm start` resolves it; stop the service first, one server owns a
 * data directory). Prints a generated password once, or takes one from stdin with --password-stdin
 * (so it never appears in the shell history or the process list).
 */
import { parseArgs } from 'node:util'
import { AccountError, createAccount, SUPPORT_ROLES, type SupportRole } from '../src/admin/accounts.js'
import { ConfigError, parseEnv } from '../src/config.js'
import { DatabaseOpenError, openDatabase, type OpenedDatabase } from '../src/db/open.js'
import { withTransaction } from '../src/db/pool.js'

const USAGE = 'usage: npm run admin:create -- --login L [--role admin|support|auditor] [--org ID ...] [--password-stdin]'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      login: { type: 'string' },
      role: { type: 'string', default: 'admin' },
      org: { type: 'string', multiple: true },
      'password-stdin': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help || !values.login) {
    process.stderr.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  if (!(SUPPORT_ROLES as readonly string[]).includes(values.role)) {
    process.stderr.write(`--role must be one of ${SUPPORT_ROLES.join(', ')}\n${USAGE}\n`)
    return 2
  }
  const password = values['password-stdin'] ? await readStdin() : undefined

  const env = parseEnv(process.env)
  let database: OpenedDatabase
  try {
    database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: 1 })
  } catch (err) {
    if (!(err instanceof DatabaseOpenError)) throw err
    process.stderr.write(`${err.message}\n`)
    return 1
  }
  const pool = database.pool
  try {
    const { account, generatedPassword } = await withTransaction(pool, (tx) =>
      createAccount(tx, {
        login: values.login!,
        role: values.role as SupportRole,
        organizationIds: values.org ?? null,
        ...(password !== undefined ? { password } : {}),
        actor: { kind: 'system', id: 'admin:create' },
      }),
    )
    const scope = account.organizationIds ? account.organizationIds.join(', ') : 'all organisations'
    process.stdout.write(`Created ${account.role} account "${account.login}" (${scope}), id ${account.id}.\n`)
    if (generatedPassword) {
      process.stdout.write(`Password (shown once, not stored in clear): ${generatedPassword}\n`)
    }
    process.stdout.write('Sign in at /admin/login.\n')
    return 0
  } catch (err) {
    if (err instanceof AccountError) {
      process.stderr.write(`${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    await database.close()
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `admin:create failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
