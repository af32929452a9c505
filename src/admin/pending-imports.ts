import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { Queryable } from '../db/pool.js'

/**
 * A CSV uploaded in the console, kept between its dry run and «Применить». The file carries SNILS
 * and names in clear, and SNILS is never stored in clear (docs/decisions/0003-snils-as-hmac-only.md): it is kept
 * encrypted with AES-256-GCM under a key derived from KEYS_ENCRYPTION_KEY (the service's key for data
 * at rest), bound to the upload's id and account, for 30 minutes at most, and deleted when applied.
 */
export const PENDING_IMPORT_MINUTES = 30

const IV_BYTES = 12
const TAG_BYTES = 16

function key(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'esia-bridge/support-pending-import/v1', 32))
}

const aad = (id: string, accountId: string) => Buffer.from(`${id}\u0000${accountId}`)

export interface PendingImportOptions {
  organizationId: string | null
  mode: 'merge' | 'replace'
  keepInvalidSnils: boolean
  charset?: string | undefined
}

export interface PendingImport {
  id: string
  options: PendingImportOptions
  file: Buffer
  report: unknown
}

export async function savePendingImport(
  db: Queryable,
  secret: string,
  input: { accountId: string; options: PendingImportOptions; file: Buffer; report: unknown },
): Promise<string> {
  const id = randomBytes(16).toString('base64url')
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key(secret), iv)
  cipher.setAAD(aad(id, input.accountId))
  const sealed = Buffer.concat([iv, cipher.update(input.file), cipher.final(), cipher.getAuthTag()])
  await db.query(
    `INSERT INTO support_pending_imports (id, account_id, organization_id, options, encrypted, report, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(mins => $7))`,
    [id, input.accountId, input.options.organizationId, JSON.stringify(input.options), sealed, JSON.stringify(input.report), PENDING_IMPORT_MINUTES],
  )
  return id
}

/**
 * The upload, decrypted; undefined when it does not exist, expired or belongs to another account.
 * It stays stored until `deletePendingImport` after a successful apply, so a failed apply can be
 * retried; applying twice is harmless (the second run finds every card unchanged).
 */
export async function readPendingImport(db: Queryable, secret: string, id: string, accountId: string): Promise<PendingImport | undefined> {
  const { rows } = await db.query<{ options: PendingImportOptions; encrypted: Buffer; report: unknown }>(
    `SELECT options, encrypted, report FROM support_pending_imports WHERE id = $1 AND account_id = $2 AND expires_at > now()`,
    [id, accountId],
  )
  const row = rows[0]
  if (!row) return undefined
  const iv = row.encrypted.subarray(0, IV_BYTES)
  const tag = row.encrypted.subarray(row.encrypted.length - TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key(secret), iv)
  decipher.setAAD(aad(id, accountId))
  decipher.setAuthTag(tag)
  const file = Buffer.concat([decipher.update(row.encrypted.subarray(IV_BYTES, row.encrypted.length - TAG_BYTES)), decipher.final()])
  return { id, options: row.options, file, report: row.report }
}

export async function deletePendingImport(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM support_pending_imports WHERE id = $1', [id])
}

export async function purgeExpiredImports(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM support_pending_imports WHERE expires_at < now()')
  return rowCount ?? 0
}
