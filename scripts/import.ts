/**
 * npm run import -- FILE [--dry-run] [--replace ORG] [--keep-invalid-snils] [--charset C] [--format csv|ndjson]
 *
 * «Пакетное обновление» from the command line: the same import as POST /api/v1/directory/import,
 * run against the database the service uses — DATABASE_URL, or the embedded PostgreSQL under
 * DATA_DIR (stop the service first: one server owns a data directory) — with the service's
 * SNILS_HMAC_KEY (in development, the generated one kept in DATA_DIR/secrets.json), so the HMACs
 * written here are the ones the service compares. Prints the report; exits 1 when the file cannot
 * be read (nothing is applied then).
 */
import { createReadStream } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, parseEnv } from '../src/config.js'
import { DatabaseOpenError, openDatabase, type OpenedDatabase } from '../src/db/open.js'
import { ImportFileError, ImportRefused, importDirectory } from '../src/directory/import/import.js'
import type { ImportReport } from '../src/directory/import/report.js'
import { resolveSecrets } from '../src/secrets.js'

const USAGE = 'usage: npm run import -- FILE [--dry-run] [--replace ORG] [--keep-invalid-snils] [--charset C] [--format csv|ndjson] [--json]'
const SHOWN_REJECTIONS = 50

function summary(r: ImportReport, file: string): string {
  const lines = [
    `${r.dry_run ? 'Dry run (nothing changed)' : 'Imported'}: ${file} — ${r.format}, ${r.charset}${r.mode === 'replace' ? `, replacing the cards of ${r.organization_id}` : ''}`,
    `  rows ${r.rows}: inserted ${r.inserted}, updated ${r.updated}, unchanged ${r.unchanged}, rejected ${r.rejected}` +
      (r.mode === 'replace' ? `, deleted ${r.deleted} (links removed: ${r.links_removed})` : ''),
    `  ${(r.duration_ms / 1000).toFixed(1)} s`,
  ]
  if (r.ignored_columns.length > 0) lines.push(`  ignored columns: ${r.ignored_columns.join(', ')}`)
  if (r.rejected > 0) {
    lines.push(`  rejected by reason: ${Object.entries(r.rejected_by_reason).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    for (const row of r.rejected_rows.slice(0, SHOWN_REJECTIONS)) lines.push(`    line ${row.line}${row.id ? ` (id ${row.id})` : ''}: ${row.reason} — ${row.message}`)
    if (r.rejected > SHOWN_REJECTIONS) lines.push(`    … and ${r.rejected - SHOWN_REJECTIONS} more (use --json for the full list)`)
  }
  return lines.join('\n')
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      replace: { type: 'string' },
      'keep-invalid-snils': { type: 'boolean', default: false },
      charset: { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  const file = positionals[0]
  if (values.help || !file || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'ndjson') {
    process.stderr.write(`--format must be csv or ndjson\n${USAGE}\n`)
    return 2
  }

  const env = parseEnv(process.env)
  const { secrets } = await resolveSecrets(env.NODE_ENV, env.partialSecrets, env.DATA_DIR)
  let database: OpenedDatabase
  try {
    database = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, poolSize: 2 })
  } catch (err) {
    if (!(err instanceof DatabaseOpenError)) throw err
    process.stderr.write(`${err.message}\n`)
    return 1
  }
  const pool = database.pool
  try {
    const report = await importDirectory(pool, createReadStream(file, { highWaterMark: 256 * 1024 }), {
      format: values.format as 'csv' | 'ndjson' | undefined,
      charset: values.charset,
      dryRun: values['dry-run'],
      mode: values.replace ? 'replace' : 'merge',
      organizationId: values.replace ?? null,
      snilsKey: secrets.snilsHmacKey,
      keepInvalidSnils: values['keep-invalid-snils'],
      actor: { kind: 'system', id: 'npm run import' },
    })
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report, file)}\n`)
    return 0
  } catch (err) {
    if (err instanceof ImportFileError || err instanceof ImportRefused) {
      process.stderr.write(`Nothing imported: ${err.code}: ${err.message}\n`)
      return 1
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`No such file: ${file}\n`)
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
    process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `import failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
