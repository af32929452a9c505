import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyPassword } from '../../src/admin/passwords.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { seedSchools, SCHOOL_A } from './fixtures.js'

/** `npm run admin:create` as an operator runs it on a fresh installation. */
function adminCreate(databaseUrl: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin-create.ts', ...args], {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}

describe('npm run admin:create', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await seedSchools(db.pool)
  })
  afterAll(async () => db.drop())

  it('creates the first admin and prints a generated password once', async () => {
    const run = await adminCreate(db.url, ['--login', 'ryabtsev'])
    expect(run.code).toBe(0)
    const password = /Password \(shown once, not stored in clear\): (\S+)/.exec(run.stdout)?.[1]
    expect(password).toBeDefined()
    const { rows } = await db.pool.query(`SELECT role, organization_ids, password_hash FROM support_accounts WHERE login = 'ryabtsev'`)
    expect(rows[0]).toMatchObject({ role: 'admin', organization_ids: null })
    expect(await verifyPassword(password!, rows[0].password_hash)).toBe(true)
    const audit = await db.pool.query(`SELECT actor_kind, actor_id FROM audit_events WHERE type = 'support.account_created'`)
    expect(audit.rows).toEqual([{ actor_kind: 'system', actor_id: 'admin:create' }])
  })

  it('takes the password from stdin and scopes a support account to its schools', async () => {
    const run = await adminCreate(db.url, ['--login', 'shvets', '--role', 'support', '--org', SCHOOL_A.id, '--password-stdin'], 'длинный-пароль-школы-1\n')
    expect(run.code).toBe(0)
    expect(run.stdout).not.toContain('Password')
    const { rows } = await db.pool.query(`SELECT organization_ids, password_hash FROM support_accounts WHERE login = 'shvets'`)
    expect(rows[0].organization_ids).toEqual([SCHOOL_A.id])
    expect(await verifyPassword('длинный-пароль-школы-1', rows[0].password_hash)).toBe(true)
  })

  it('explains what is wrong instead of creating a half-made account', async () => {
    const noOrg = await adminCreate(db.url, ['--login', 'lazareva', '--role', 'support'])
    expect(noOrg.code).toBe(1)
    expect(noOrg.stderr).toContain('at least one organisation')
    const taken = await adminCreate(db.url, ['--login', 'ryabtsev'])
    expect(taken.code).toBe(1)
    expect(taken.stderr).toContain('exists already')
    const usage = await adminCreate(db.url, [])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('usage: npm run admin:create')
  })
})
