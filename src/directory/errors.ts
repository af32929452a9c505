/**
 * Why a directory write was refused. Codes are stable (API `error` field, admin console); messages
 * are English for operators and never carry a name, a birth date or a SNILS.
 */
export type DirectoryErrorCode =
  | 'unknown_organization'
  | 'organization_not_found'
  | 'organization_has_users'
  | 'journal_user_not_found'
  | 'journal_user_referenced'
  | 'link_conflict'
  | 'unknown_child'
  | 'invalid_child'

export class DirectoryError extends Error {
  override name = 'DirectoryError'
  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}

/** PostgreSQL's error fields we branch on (pg's DatabaseError). */
interface PgError {
  code?: string
  constraint?: string
}

export const isForeignKeyViolation = (err: unknown, constraint?: string): boolean =>
  (err as PgError).code === '23503' && (constraint === undefined || (err as PgError).constraint === constraint)

/**
 * The unique (upstream_subject, organization_id, role) of `links`, hit when a card moves and the
 * `links_follow_card` trigger drags its link into a slot its person already holds.
 */
export const isLinkSlotViolation = (err: unknown): boolean =>
  (err as PgError).code === '23505' && ((err as PgError).constraint ?? '').startsWith('links_')
