import type { Queryable } from '../db/pool.js'
import { writeAudit, type AuditActor } from '../linking/audit.js'
import { generatePassword, hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js'

/**
 * Support accounts (roles and organisation scope, docs/support.md). `organizationIds` null means every
 * organisation: always so for admin, never for support, optional for auditor.
 */
export const SUPPORT_ROLES = ['admin', 'support', 'auditor'] as const
export type SupportRole = (typeof SUPPORT_ROLES)[number]

export interface SupportAccount {
  id: string
  login: string
  role: SupportRole
  organizationIds: string[] | null
  disabled: boolean
  hasPassword: boolean
  createdAt: Date
  lastLoginAt: Date | null
}

interface AccountRow {
  id: string
  login: string
  role: SupportRole
  organization_ids: string[] | null
  disabled: boolean
  password_hash: string | null
  created_at: Date
  last_login_at: Date | null
}

const COLUMNS = 'id, login, role, organization_ids, disabled, password_hash, created_at, last_login_at'

const toAccount = (r: AccountRow): SupportAccount => ({
  id: r.id,
  login: r.login,
  role: r.role,
  organizationIds: r.organization_ids,
  disabled: r.disabled,
  hasPassword: r.password_hash !== null,
  createdAt: r.created_at,
  lastLoginAt: r.last_login_at,
})

/** Logins are compared in lower case: «Ivanova» and «ivanova» are one person at the keyboard. */
export const normalizeLogin = (login: string): string => login.normalize('NFC').trim().toLowerCase()
export const LOGIN_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$'

export class AccountError extends Error {
  override name = 'AccountError'
  constructor(
    readonly code: 'invalid_login' | 'login_taken' | 'invalid_scope' | 'unknown_organization' | 'weak_password',
    message: string,
  ) {
    super(message)
  }
}

export interface NewAccount {
  login: string
  role: SupportRole
  /** Required for support; must be absent for admin; optional (absent = all) for auditor. */
  organizationIds?: string[] | null
  /** Omitted: a password is generated and returned once. `null`: token-only account. */
  password?: string | null
  actor: AuditActor
}

function checkScope(role: SupportRole, orgs: string[] | null): string[] | null {
  const list = orgs && orgs.length > 0 ? [...new Set(orgs.map((o) => o.trim()).filter(Boolean))] : null
  if (role === 'admin' && list) throw new AccountError('invalid_scope', 'An admin manages every organisation; do not give organisations')
  if (role === 'support' && !list) throw new AccountError('invalid_scope', 'A support account needs at least one organisation')
  return role === 'admin' ? null : list
}

/**
 * Creates an account with its `support.account_created` audit event; returns the account and the
 * generated password (shown once, never stored in clear). Call inside a transaction for atomicity.
 */
export async function createAccount(db: Queryable, input: NewAccount): Promise<{ account: SupportAccount; generatedPassword?: string }> {
  const login = normalizeLogin(input.login)
  if (!new RegExp(LOGIN_PATTERN).test(login)) throw new AccountError('invalid_login', 'login: 2–64 Latin letters, digits and . _ @ -, starting with a letter or digit')
  const organizationIds = checkScope(input.role, input.organizationIds ?? null)
  if (organizationIds) {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM organizations WHERE id = ANY($1)', [organizationIds])
    const known = new Set(rows.map((r) => r.id))
    const unknown = organizationIds.filter((o) => !known.has(o))
    if (unknown.length > 0) throw new AccountError('unknown_organization', `Unknown organisation(s): ${unknown.join(', ')}`)
  }
  const generatedPassword = input.password === undefined ? generatePassword() : undefined
  const password = input.password ?? generatedPassword ?? null
  if (password !== null && password.length < MIN_PASSWORD_LENGTH) throw new AccountError('weak_password', `The password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  const passwordHash = password === null ? null : await hashPassword(password)

  const { rows } = await db.query<AccountRow>(
    `INSERT INTO support_accounts (login, role, organization_ids, password_hash, created_by)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (login) DO NOTHING RETURNING ${COLUMNS}`,
    [login, input.role, organizationIds, passwordHash, input.actor.id ?? null],
  )
  if (!rows[0]) throw new AccountError('login_taken', 'An account with this login exists already')
  const account = toAccount(rows[0])
  await writeAudit(db, {
    type: 'support.account_created',
    actor: input.actor,
    details: { account_id: account.id, login: account.login, role: account.role, organization_ids: account.organizationIds },
  })
  return { account, ...(generatedPassword ? { generatedPassword } : {}) }
}

export async function findAccountById(db: Queryable, id: string): Promise<SupportAccount | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM support_accounts WHERE id = $1`, [id])
  return rows[0] && toAccount(rows[0])
}

/** The account and its password hash, for the login check only. */
export async function findAccountForLogin(db: Queryable, login: string): Promise<{ account: SupportAccount; passwordHash: string | null } | undefined> {
  const { rows } = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM support_accounts WHERE login = $1`, [normalizeLogin(login)])
  return rows[0] && { account: toAccount(rows[0]), passwordHash: rows[0].password_hash }
}

export async function listAccounts(db: Queryable): Promise<SupportAccount[]> {
  const { rows } = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM support_accounts ORDER BY login`)
  return rows.map(toAccount)
}

export async function recordLogin(db: Queryable, accountId: string, rehashed?: string): Promise<void> {
  await db.query(
    `UPDATE support_accounts SET last_login_at = now(), password_hash = COALESCE($2, password_hash) WHERE id = $1`,
    [accountId, rehashed ?? null],
  )
}

export interface AccountChange {
  disabled?: boolean
  organizationIds?: string[] | null
  role?: SupportRole
}

/**
 * Changes role, scope or the disabled flag, with a `support.account_updated` event. Disabling (or
 * any change of rights) ends the account's console sessions, so nobody keeps rights they lost.
 */
export async function updateAccount(db: Queryable, id: string, change: AccountChange, actor: AuditActor): Promise<SupportAccount | undefined> {
  const current = await findAccountById(db, id)
  if (!current) return undefined
  const role = change.role ?? current.role
  const organizationIds = checkScope(role, change.organizationIds !== undefined ? change.organizationIds : current.organizationIds)
  const disabled = change.disabled ?? current.disabled
  const { rows } = await db.query<AccountRow>(
    `UPDATE support_accounts SET role = $2, organization_ids = $3, disabled = $4, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, role, organizationIds, disabled],
  )
  await db.query('DELETE FROM support_sessions WHERE account_id = $1', [id])
  await writeAudit(db, {
    type: 'support.account_updated',
    actor,
    details: { account_id: id, role, organization_ids: organizationIds, disabled },
  })
  return toAccount(rows[0]!)
}

export async function setPassword(db: Queryable, id: string, password: string, actor: AuditActor): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AccountError('weak_password', `The password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  await db.query('UPDATE support_accounts SET password_hash = $2, updated_at = now() WHERE id = $1', [id, await hashPassword(password)])
  await writeAudit(db, { type: 'support.password_changed', actor, details: { account_id: id } })
}

/**
 * The demo support account of `npm start` (login `admin`, password from DATA_DIR/secrets.json).
 * Created once; an existing account of that login is left as it is.
 */
export async function ensureDemoAdmin(db: Queryable, password: string, login = 'admin'): Promise<void> {
  if (await findAccountForLogin(db, login)) return
  await createAccount(db, { login, role: 'admin', password, actor: { kind: 'system', id: 'demo' } })
}
