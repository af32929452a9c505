import type { Pool } from '../db/pool.js'
import { importDirectory, ImportFileError, ImportRefused } from '../directory/import/import.js'
import type { ImportReport } from '../directory/import/report.js'
import { ApiError } from '../http/errors.js'
import { auditSupportRead } from './audit-log.js'
import { actorOf, checkOrganizationFilter, outOfScope, requireWriter, scopeOf, type SupportCaller } from './caller.js'

/**
 * «Пакетное обновление» (docs/sources.md: Камчатка slides) by support staff: the directory's own import
 * (src/directory/import) run inside the caller's organisations. A dry run changes nothing and may
 * be run by anyone who can read; applying needs a writer. Every run is recorded as `support.import`
 * (the applied data change is recorded by the import itself as `directory.import`).
 */
export interface SupportImportOptions {
  dryRun: boolean
  organizationId: string | null
  mode: 'merge' | 'replace'
  keepInvalidSnils: boolean
  charset?: string | undefined
  format?: 'csv' | 'ndjson' | undefined
  maxBytes?: number | undefined
}

export async function runSupportImport(pool: Pool, snilsKey: string, caller: SupportCaller, source: AsyncIterable<unknown>, opts: SupportImportOptions): Promise<ImportReport> {
  if (!opts.dryRun) requireWriter(caller)
  checkOrganizationFilter(caller, opts.organizationId ?? undefined)
  let report: ImportReport
  try {
    report = await importDirectory(pool, source, {
      format: opts.format,
      charset: opts.charset,
      dryRun: opts.dryRun,
      mode: opts.mode,
      organizationId: opts.organizationId,
      organizationIds: scopeOf(caller) ?? undefined,
      snilsKey,
      keepInvalidSnils: opts.keepInvalidSnils,
      actor: actorOf(caller),
      ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
    })
  } catch (err) {
    // Statuses as the directory's own import route answers them (src/directory/routes.ts).
    if (err instanceof ImportRefused) throw err.code === 'organization_out_of_scope' ? outOfScope() : new ApiError(err.code === 'unknown_organization' ? 422 : 400, err.code, err.message)
    if (err instanceof ImportFileError) {
      throw new ApiError(err.code === 'too_large' ? 413 : err.code === 'unsupported_charset' ? 415 : 400, err.code, err.message, err.line ? { line: err.line } : undefined)
    }
    throw err
  }
  await auditSupportRead(pool, caller, 'support.import', {
    organizationId: opts.organizationId,
    details: {
      dry_run: opts.dryRun, mode: opts.mode, rows: report.rows, inserted: report.inserted, updated: report.updated,
      unchanged: report.unchanged, deleted: report.deleted, rejected: report.rejected,
    },
  })
  return report
}
