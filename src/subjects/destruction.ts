import type { Queryable } from '../db/pool.js'
import type { Cell } from '../admin/csv.js'

/**
 * The record of every destruction of personal data (Приказ Роскомнадзора от 28.10.2022 № 179:
 * the act says which categories, how many records, when, by whom, on what ground, and the way of
 * destruction). An erasure on a person's request writes one in its transaction; every retention
 * purge writes one in its statement. The record never names the person — the pseudonym the audit
 * trail uses for them stands in, and the request under its number and date holds the name in the
 * operator's paperwork (docs/personal-data.md).
 */
export type DestructionAction = 'deleted' | 'pseudonymised'

export interface DestroyedCategory {
  /** A category of src/subjects/categories.ts. */
  category: string
  action: DestructionAction
  count: number
}

export interface DestructionRecord {
  id: number
  at: Date
  basis: 'request' | 'retention'
  actorKind: 'support' | 'system'
  actorId: string | null
  actorLogin: string | null
  subjectToken: string | null
  requestNumber: string | null
  requestDate: string | null
  reason: string
  categories: DestroyedCategory[]
  total: number
}

export interface NewDestructionRecord {
  basis: 'request' | 'retention'
  actor: { kind: 'support' | 'system'; id: string | null }
  subjectToken?: string | null
  requestNumber?: string | null
  requestDate?: string | null
  reason: string
  categories: DestroyedCategory[]
}

export async function recordDestruction(db: Queryable, r: NewDestructionRecord): Promise<number> {
  const total = r.categories.reduce((n, c) => n + c.count, 0)
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO destruction_records (basis, actor_kind, actor_id, subject_token, request_number, request_date, reason, categories, total)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [r.basis, r.actor.kind, r.actor.id, r.subjectToken ?? null, r.requestNumber ?? null, r.requestDate ?? null, r.reason, JSON.stringify(r.categories), total],
  )
  return rows[0]!.id
}

interface RecordRow {
  id: number
  at: Date
  basis: 'request' | 'retention'
  actor_kind: 'support' | 'system'
  actor_id: string | null
  actor_login: string | null
  subject_token: string | null
  request_number: string | null
  request_date: string | null
  reason: string
  categories: DestroyedCategory[]
  total: number
}

const toRecord = (r: RecordRow): DestructionRecord => ({
  id: r.id, at: r.at, basis: r.basis, actorKind: r.actor_kind, actorId: r.actor_id, actorLogin: r.actor_login, subjectToken: r.subject_token,
  requestNumber: r.request_number, requestDate: r.request_date, reason: r.reason, categories: r.categories, total: r.total,
})

const COLUMNS = `d.id, d.at, d.basis, d.actor_kind, d.actor_id,
  (SELECT a.login FROM support_accounts a WHERE d.actor_kind = 'support' AND a.id = d.actor_id) AS actor_login,
  d.subject_token, d.request_number, d.request_date, d.reason, d.categories, d.total`

export async function listDestructionRecords(db: Queryable, opts: { limit: number; beforeId?: number | undefined; basis?: 'request' | 'retention' | undefined }): Promise<{ records: DestructionRecord[]; nextBeforeId: number | null }> {
  const { rows } = await db.query<RecordRow>(
    `SELECT ${COLUMNS} FROM destruction_records d
     WHERE ($1::bigint IS NULL OR d.id < $1) AND ($2::text IS NULL OR d.basis = $2)
     ORDER BY d.id DESC LIMIT $3`,
    [opts.beforeId ?? null, opts.basis ?? null, opts.limit + 1],
  )
  const records = rows.slice(0, opts.limit).map(toRecord)
  return { records, nextBeforeId: rows.length > opts.limit ? records[records.length - 1]!.id : null }
}

export const DESTRUCTION_CSV_HEADER = [
  'Номер записи', 'Дата и время', 'Основание', 'Номер запроса', 'Дата запроса', 'Кто уничтожил', 'Субъект (псевдоним)',
  'Категория персональных данных', 'Способ', 'Количество записей', 'Причина', 'Информационная система',
]

const PAGE = 1000

/** One CSV row per record and category, newest first, read in pages (an export of years stays flat in memory). */
export async function* destructionCsvRows(
  db: Queryable,
  texts: { category: (code: string) => string; basis: (b: string) => string; action: (a: string) => string; actor: (r: DestructionRecord) => string; day: (d: string) => string },
  formatTime: (d: Date) => string,
  systemName: string,
): AsyncGenerator<Cell[]> {
  let beforeId: number | undefined
  for (;;) {
    const { records, nextBeforeId } = await listDestructionRecords(db, { limit: PAGE, beforeId })
    for (const r of records) {
      for (const c of r.categories) {
        yield [r.id, formatTime(r.at), texts.basis(r.basis), r.requestNumber, r.requestDate ? texts.day(r.requestDate) : null, texts.actor(r), r.subjectToken,
          texts.category(c.category), texts.action(c.action), c.count, r.reason, systemName]
      }
    }
    if (nextBeforeId === null) return
    beforeId = nextBeforeId
  }
}
