import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../src/oidc-provider/clients.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { auditRows, bearer, BOOTSTRAP, seedSchools, SCHOOL_A, supportAccount } from './fixtures.js'

describe('support accounts and API tokens', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
    await seedSchools(t.db.pool)
  })
  afterAll(async () => t.close())

  it('lets automation holding BOOTSTRAP_ADMIN_TOKEN create the first admin, with a password shown once and stored as scrypt', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: BOOTSTRAP, payload: { login: 'Ryabtsev', role: 'admin' } })
    expect(res.statusCode).toBe(201)
    const { account, password } = res.json()
    expect(account).toMatchObject({ login: 'ryabtsev', role: 'admin', organization_ids: null, disabled: false, has_password: true })
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(res.headers['cache-control']).toBe('no-store')

    const { rows } = await t.db.pool.query('SELECT password_hash FROM support_accounts WHERE id = $1', [account.id])
    expect(rows[0].password_hash).toMatch(/^scrypt\$32768\$8\$3\$[\w-]{22}\$[\w-]{43}$/)
    expect(rows[0].password_hash).not.toContain(password)

    const audit = await auditRows(t.db.pool, `type = 'support.account_created' AND details->>'account_id' = $1`, [account.id])
    expect(audit).toEqual([expect.objectContaining({ actor_kind: 'support', actor_id: 'bootstrap' })])
    expect(JSON.stringify(audit)).not.toContain(password)
  })

  it('refuses accounts whose scope does not fit the role, unknown organisations and taken logins', async () => {
    const post = (payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: BOOTSTRAP, payload })
    expect((await post({ login: 'nobody', role: 'support' })).json()).toMatchObject({ error: 'invalid_scope' })
    expect((await post({ login: 'nobody', role: 'admin', organization_ids: [SCHOOL_A.id] })).json()).toMatchObject({ error: 'invalid_scope' })
    expect((await post({ login: 'nobody', role: 'support', organization_ids: ['school-z'] })).json()).toMatchObject({ error: 'unknown_organization' })
    expect((await post({ login: 'nobody', role: 'support', organization_ids: [SCHOOL_A.id], password: 'short' })).statusCode).toBe(400)
    expect((await post({ login: 'RYABTSEV', role: 'auditor' })).statusCode).toBe(409)
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM support_accounts WHERE login = 'nobody'`)
    expect(rows[0].n).toBe(0)
  })

  it('issues an API token shown once, keeps only its SHA-256, and forgets it when revoked', async () => {
    const support = await supportAccount(t, 'shvets', 'support', [SCHOOL_A.id])
    const me = await t.app.inject({ url: '/api/v1/admin/me', headers: bearer(support.token) })
    expect(me.json()).toEqual({ id: support.id, login: 'shvets', role: 'support', organization_ids: [SCHOOL_A.id], via: 'token' })

    const { rows } = await t.db.pool.query('SELECT id, token_sha256 FROM support_api_tokens WHERE account_id = $1', [support.id])
    expect(rows).toHaveLength(1)
    expect(Buffer.compare(rows[0].token_sha256, sha256(support.token))).toBe(0)

    const list = await t.app.inject({ url: '/api/v1/admin/tokens', headers: bearer(support.token) })
    expect(list.json().tokens).toEqual([expect.objectContaining({ id: rows[0].id, name: 'tests' })])
    expect(list.body).not.toContain(support.token)

    const revoked = await t.app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${rows[0].id}`, headers: bearer(support.token) })
    expect(revoked.statusCode).toBe(204)
    expect((await t.app.inject({ url: '/api/v1/admin/me', headers: bearer(support.token) })).statusCode).toBe(401)
    expect((await auditRows(t.db.pool, `type IN ('support.token_created', 'support.token_revoked') AND details->>'account_id' = $1`, [support.id])).map((e) => e.type))
      .toEqual(['support.token_created', 'support.token_revoked'])
  })

  it('answers 401 without a token or with an unknown one, and 403 when a support account manages accounts', async () => {
    expect((await t.app.inject({ url: '/api/v1/admin/me' })).statusCode).toBe(401)
    expect((await t.app.inject({ url: '/api/v1/admin/me', headers: bearer('esb_not-a-real-token') })).statusCode).toBe(401)
    const support = await supportAccount(t, 'lazareva', 'support', [SCHOOL_A.id])
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/admin/accounts', headers: bearer(support.token), payload: { login: 'friend', role: 'admin' } })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ error: 'admin_only' })
    expect((await t.app.inject({ url: '/api/v1/admin/accounts', headers: bearer(support.token) })).statusCode).toBe(403)
  })

  it('cuts off a disabled account at once: its tokens stop working', async () => {
    const auditor = await supportAccount(t, 'auditor-1', 'auditor')
    expect((await t.app.inject({ url: '/api/v1/admin/me', headers: bearer(auditor.token) })).statusCode).toBe(200)
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/admin/accounts/${auditor.id}`, headers: BOOTSTRAP, payload: { disabled: true } })
    expect(res.json().account.disabled).toBe(true)
    expect((await t.app.inject({ url: '/api/v1/admin/me', headers: bearer(auditor.token) })).statusCode).toBe(401)
  })
})
