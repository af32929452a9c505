import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpBrowser } from '../helpers/http-browser.js'
import { nginxInstalled, startRegion, type Region } from '../helpers/region.js'
import { linkFlow, loginFlow, RegionJournal } from '../helpers/region-flows.js'

/** People of the demo directory who log in while the region restarts: their persona and cards. */
const PEOPLE = [
  { persona: 'name-with-yo', cards: ['u1401'] },
  { persona: 'double-surname', cards: ['u1501'] },
  { persona: 'no-patronymic', cards: ['u1601'] },
  { persona: 'shared-snils', cards: ['u1801'] },
  { persona: 'no-snils-in-journal', cards: ['u1901'] },
  { persona: 'esia-test-snils', cards: ['u2901'] },
  { persona: 'parent-two-schools', cards: ['u1001', 'u1002'] },
  { persona: 'teacher-parent', cards: ['u1101', 'u1102'] },
]

/** SHUTDOWN_DELAY_SECONDS of the instances: the health checker (every 200 ms) reacts well within it. */
const DELAY_MS = 1500

interface Tally {
  logins: number
  failedLogins: number
  linkFlows: number
  failedLinkFlows: number
  failures: string[]
}

/**
 * A release rolled over a region: logins and link flows run without pause through nginx while the
 * three instances are restarted one by one (SIGTERM, wait for the exit, start again, wait until
 * the balancer has it back). ЕСИА answers slowly — each back-channel call takes longer than the
 * drain delay — so callbacks that reached an instance just before it was taken out are still
 * running when its listener closes. Nobody may notice: no failed login, no lost link.
 */
describe.skipIf(!nginxInstalled())('a rolling restart of three instances under continuous logins', () => {
  let region: Region
  beforeAll(async () => {
    region = await startRegion({ instances: 3, mockLatencyMs: DELAY_MS + 500, env: { SHUTDOWN_DELAY_SECONDS: String(DELAY_MS / 1000), SHUTDOWN_GRACE_SECONDS: '20' } })
  })
  afterAll(async () => region?.close())

  it('loses no login and no link', async () => {
    const journal = new RegionJournal(region)
    const tally: Tally = { logins: 0, failedLogins: 0, linkFlows: 0, failedLinkFlows: 0, failures: [] }
    const linked = new Set<string>()
    let stopping = false

    // Each person links a card, then logs in again and again, every fourth time linking a card
    // again (their next one, or the same one again). Everyone has their own address and browser.
    const person = async ({ persona, cards }: (typeof PEOPLE)[number], n: number) => {
      const browser = new HttpBrowser(`127.0.5.${n + 1}`)
      const mine: string[] = []
      for (let round = 0; !stopping; round++) {
        if (round % 4 === 0) {
          const card = cards[(round / 4) % cards.length]!
          tally.linkFlows++
          try {
            const token = await linkFlow(journal, browser, card, persona)
            if (token.result !== 'linked') throw new Error(`link result ${token.result}: ${token.reasons.join(', ')}`)
            if (!mine.includes(card)) mine.push(card)
            linked.add(card)
          } catch (err) {
            tally.failedLinkFlows++
            tally.failures.push(`link ${persona}/${card}: ${(err as Error).message}`)
          }
        } else if (mine.length > 0) {
          // With two linked cards «Выберите организацию» appears; the person takes each in turn.
          const choice = mine[round % mine.length]!
          tally.logins++
          try {
            const login = await loginFlow(journal, browser, persona, { choose: choice })
            const expected = mine.length > 1 ? choice : mine[0]
            if (login.sub !== expected || login.chooser !== mine.length > 1) throw new Error(`logged in as ${login.sub} (chooser: ${login.chooser}), expected ${expected}`)
          } catch (err) {
            tally.failedLogins++
            tally.failures.push(`login ${persona}: ${(err as Error).message}`)
          }
        }
      }
    }
    const load = PEOPLE.map((p, n) => person(p, n))

    await sleep(4000)
    const restarts: { instance: string; sigtermAt: number; exit: { code: number | null; signal: string | null; ms: number }; backAfterMs: number }[] = []
    for (const instance of region.instances) {
      const pid = instance.process!.pid
      const sigtermAt = Date.now()
      const exit = await instance.stop('SIGTERM')
      await instance.start()
      await region.health.until(instance, true)
      expect(instance.process!.pid).not.toBe(pid)
      restarts.push({ instance: instance.address, sigtermAt, exit, backAfterMs: Date.now() - sigtermAt })
      await sleep(1500)
    }
    await sleep(3000)
    stopping = true
    await Promise.all(load)

    // Requests a stopping instance was still running when its listener closed (SIGTERM + the
    // delay), and requests nginx passed to another instance after a refused connection.
    const requests = region.nginx.requests()
    const inFlightAtClose = restarts.map((r) => {
      const closedAt = r.sigtermAt + DELAY_MS
      return requests.filter((q) => q.upstreams.at(-1) === r.instance && q.endedAt - q.seconds * 1000 < closedAt && q.endedAt > closedAt).length
    })
    const passedOn = requests.filter((q) => q.upstreams.length > 1).length
    const badGateway = requests.filter((q) => q.status >= 502).length

    const { rows } = await region.db.pool.query<{ journal_user_id: string }>('SELECT journal_user_id FROM links WHERE journal_user_id = ANY($1)', [[...linked]])
    const lost = [...linked].filter((card) => !rows.some((r) => r.journal_user_id === card))
    console.log(
      `[rolling restart] logins driven ${tally.logins}, failed ${tally.failedLogins}; link flows ${tally.linkFlows}, failed ${tally.failedLinkFlows}; ` +
        `links lost ${lost.length} of ${linked.size}; restarts: ${restarts.map((r) => `exit ${r.exit.code} after ${r.exit.ms} ms, back after ${r.backAfterMs} ms`).join('; ')}; ` +
        `requests in flight when a listener closed ${inFlightAtClose.join('/')}, passed on by nginx ${passedOn}, 5xx from nginx ${badGateway}`,
    )

    expect(tally.failures).toEqual([])
    expect(restarts.map((r) => r.exit)).toEqual(restarts.map(() => expect.objectContaining({ code: 0, signal: null })))
    expect(tally.logins).toBeGreaterThanOrEqual(30)
    expect(lost).toEqual([])
    expect(linked.size).toBe(PEOPLE.flatMap((p) => p.cards).length)
    expect((await region.db.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'link.removed'`)).rows[0]).toEqual({ n: 0 })
    expect(badGateway).toBe(0)
  }, 240_000)
})
