import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDemoAdmin } from '../../src/admin/accounts.js'
import { ACTIVATION_DELAY_S } from '../../src/oidc-provider/keys.js'
import { TEST_SECRETS } from '../helpers/app.js'
import { untilEarlyInMinute } from '../helpers/clock.js'
import { HttpBrowser, httpRequest } from '../helpers/http-browser.js'
import { NGINX, nginxInstalled, startRegion, type Region } from '../helpers/region.js'
import { linkFlow, loginFlow, RegionJournal, supportUnlink } from '../helpers/region-flows.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
if (!nginxInstalled()) console.log(`[scale-out] ${NGINX} not found: the tests of several instances behind nginx are skipped (apt-get install nginx-light)`)

/** True when no two consecutive requests went to the same instance. */
const alternates = (trail: string[]) => trail.every((instance, i) => i === 0 || instance !== trail[i - 1])

/**
 * Three bridge processes on one database behind nginx, round-robin: consecutive requests of one
 * person go to different instances, so every step of a flow finds its state — flow state, link
 * intents, CSRF, console sessions, codes, keys — where another instance left it.
 */
describe.skipIf(!nginxInstalled())('three instances behind nginx on one database', () => {
  let region: Region
  const links = async (journalUserId: string) =>
    (await region.db.pool.query<{ upstream_subject: string }>('SELECT upstream_subject FROM links WHERE journal_user_id = $1', [journalUserId])).rows

  beforeAll(async () => {
    region = await startRegion({ instances: 3, env: { RATE_LIMIT_PER_MINUTE: '30' } })
  })
  afterAll(async () => {
    if (!region) return
    // The figures of the run: every flow above either succeeded or failed its test.
    const count = async (sql: string) => (await region.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n
    const requests = region.nginx.requests()
    const perInstance = region.instances.map((i) => requests.filter((q) => q.upstreams.at(-1) === i.address).length)
    console.log(
      `[scale-out] logins ${await count(`audit_events WHERE type = 'login.succeeded'`)}, links made ${await count(`audit_events WHERE type = 'link.created'`)}, ` +
        `links now ${await count('links')}; requests through nginx ${requests.length} (${perInstance.join('/')} per instance), 5xx ${requests.filter((q) => q.status >= 500).length}`,
    )
    await region.close()
  })

  it('links a card, every step on another instance than the one before', async () => {
    const trail: string[] = []
    const journal = new RegionJournal(region, trail)
    const person = new HttpBrowser('127.0.1.1', trail)

    const token = await linkFlow(journal, person, 'u1401', 'name-with-yo')

    expect(token).toMatchObject({ result: 'linked', sub: 'u1401', reasons: [] })
    expect(await links('u1401')).toHaveLength(1)
    expect(trail.length).toBeGreaterThanOrEqual(6)
    expect(new Set(trail)).toEqual(new Set(region.instances.map((i) => i.address)))
    expect(alternates(trail)).toBe(true)
  })

  it('logs the parent of children in two schools in through «Выберите организацию», across instances', async () => {
    const trail: string[] = []
    const journal = new RegionJournal(region, trail)
    const parent = new HttpBrowser('127.0.1.2', trail)

    // First login: both cards linked by strong evidence, then the chooser.
    const first = await loginFlow(journal, parent, 'parent-two-schools', { choose: 'u1002' })
    expect(first).toMatchObject({ sub: 'u1002', chooser: true })
    const again = await loginFlow(journal, parent, 'parent-two-schools', { choose: 'u1001' })
    expect(again).toMatchObject({ sub: 'u1001', chooser: true })

    expect((await links('u1001'))[0]!.upstream_subject).toBe((await links('u1002'))[0]!.upstream_subject)
    expect(new Set(trail).size).toBe(3)
    expect(alternates(trail)).toBe(true)
  })

  it('lets support unlink a card in the console, the session and the form working on every instance', async () => {
    const trail: string[] = []
    await linkFlow(new RegionJournal(region), new HttpBrowser('127.0.1.3'), 'u1501', 'double-surname')
    expect(await links('u1501')).toHaveLength(1)

    const page = await supportUnlink(region, new HttpBrowser('127.0.2.1', trail), 'u1501', 'Обращение родителя: привязан чужой аккаунт')

    expect(page.body).toContain('Связь с Госуслугами удалена')
    expect(await links('u1501')).toEqual([])
    const { rows } = await region.db.pool.query<{ actor_kind: string; reason: string }>(`SELECT actor_kind, reason FROM audit_events WHERE type = 'link.removed' AND journal_user_id = 'u1501'`)
    expect(rows).toEqual([{ actor_kind: 'support', reason: 'Обращение родителя: привязан чужой аккаунт' }])
    expect(new Set(trail).size).toBe(3)
    expect(alternates(trail)).toBe(true)
  })

  it('rotates the signing key with `npm run keys:rotate` while serving: every instance publishes it at once, none signs with it early, all switch', async () => {
    const journal = new RegionJournal(region)
    const people = ['127.0.1.11', '127.0.1.12', '127.0.1.13'].map((a) => new HttpBrowser(a))
    const persona = 'no-patronymic'
    let turn = 0
    const logIn = () => loginFlow(journal, people[turn++ % people.length]!, persona)
    const jwksOf = async (url: string) => (JSON.parse((await httpRequest(new URL('/oauth2/jwks', url))).body) as { keys: { kid: string }[] }).keys.map((k) => k.kid)

    const before = await logIn()
    const oldKid = before.kid

    // The operator's command, a process of its own, against the same database.
    const rotated = await new Promise<string>((resolve, reject) => {
      const env = { PATH: process.env.PATH ?? '', HOME: region.dir, NODE_ENV: 'development', DATA_DIR: region.dir, PUBLIC_URL: region.url, DATABASE_URL: region.db.url, SNILS_HMAC_KEY: TEST_SECRETS.snilsHmacKey, COOKIE_SECRET: TEST_SECRETS.cookieSecret, KEYS_ENCRYPTION_KEY: TEST_SECRETS.keysEncryptionKey }
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/keys-rotate.ts'], { cwd: ROOT, env })
      let out = ''
      child.stdout.on('data', (c: Buffer) => void (out += c.toString()))
      child.stderr.on('data', (c: Buffer) => void (out += c.toString()))
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`keys:rotate exited ${code}: ${out}`))))
    })
    const newKid = /New signing key (\S+) is published/.exec(rotated)![1]!
    expect(newKid).not.toBe(oldKid)

    // Within SIGNING_KEYS_REFRESH_SECONDS (1 s here) every instance publishes the new key…
    for (const instance of region.instances) {
      await expect.poll(() => jwksOf(instance.url), { timeout: 15_000, interval: 200 }).toEqual(expect.arrayContaining([oldKid, newKid]))
    }
    // …and none signs with it: journals may not have fetched it yet.
    const meanwhile = [await logIn(), await logIn(), await logIn()]
    expect(meanwhile.map((l) => l.kid)).toEqual([oldKid, oldKid, oldKid])

    // The activation delay passes (the keys' times moved back by it, as if it had).
    await region.db.pool.query(
      `UPDATE signing_keys SET created_at = created_at - make_interval(secs => $1), activates_at = activates_at - make_interval(secs => $1),
         retires_at = retires_at - make_interval(secs => $1), expires_at = expires_at - make_interval(secs => $1)`,
      [ACTIVATION_DELAY_S],
    )
    // Every instance switches within its refresh; from then on nothing is signed with the old key.
    const switched = new Set<string>()
    const deadline = Date.now() + 30_000
    while (switched.size < region.instances.length && Date.now() < deadline) {
      const login = await logIn()
      if (login.kid === newKid) switched.add(journal.signedBy.at(-1)!)
      else switched.clear()
    }
    expect(switched.size).toBe(region.instances.length)
    const after = [await logIn(), await logIn(), await logIn()]
    expect(after.map((l) => l.kid)).toEqual([newKid, newKid, newKid])

    // The old key stays published everywhere until its last tokens expired.
    for (const instance of region.instances) expect(await jwksOf(instance.url)).toEqual(expect.arrayContaining([oldKid, newKid]))
  })

  it('counts the rate limit for all instances together, by the client address nginx saw', async () => {
    // Counts start again with each clock minute: begin early in one.
    await untilEarlyInMinute()
    const client = new HttpBrowser('127.0.3.3')
    // Each request carries a forged X-Forwarded-For: only nginx's own entry is believed (TRUST_PROXY).
    const probe = async (n: number) => (await client.request('GET', new URL('/no/such/page', region.url), { headers: { 'x-forwarded-for': `198.51.100.${n % 250}` } })).status
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push(await probe(i))
    expect(statuses.every((s) => s === 404)).toBe(true)
    // Each instance has seen 10 of the 30 allowed a minute; once they have shared their counts
    // (each within a second of its last hit) all three refuse, and only a few more got through.
    let extra = 0
    let refusedInARow = 0
    const deadline = Date.now() + 20_000
    while (refusedInARow < 3 && Date.now() < deadline) {
      const status = await probe(extra + refusedInARow)
      if (status === 429) refusedInARow++
      else {
        expect(status).toBe(404)
        extra++
        refusedInARow = 0
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(refusedInARow).toBe(3)
    // Counted per instance, each of the three would have allowed 20 more: 60. Shared, an instance
    // lets a request or two through until its next flush tells it the total.
    console.log(`[scale-out] rate limit 30/min: 30 allowed, then ${extra} more before all three instances refused`)
    expect(extra).toBeLessThan(20)
  }, 90_000)

  it('throttles console logins for all instances together', async () => {
    await ensureDemoAdmin(region.db.pool, 'the-right-password-0123456789', 'duty-officer')
    const browser = new HttpBrowser('127.0.4.4')
    const attempt = async (password: string) => {
      const page = await browser.get('/admin/login', region.url)
      return (await browser.press(page, 'Войти', { login: 'duty-officer', password })).status
    }
    for (let i = 0; i < 5; i++) expect(await attempt(`wrong-${i}`)).toBe(401)
    // The five failures landed on all three instances; the sixth attempt is blocked wherever it lands.
    expect(await attempt('the-right-password-0123456789')).toBe(429)
    expect(await attempt('the-right-password-0123456789')).toBe(429)
  })
})
