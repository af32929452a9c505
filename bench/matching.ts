import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { findCandidates } from '../src/matching/candidates.js'
import { matchUser } from '../src/matching/match.js'
import { card, hmacOf, personOf } from '../test/matching/fixtures.js'
import type { BenchModule } from './lib/context.js'

/**
 * Per-call cost of matching: `matchUser` in-process, and `findCandidates` (the first-login lookup
 * by SNILS HMAC) against N cards, with the `SELECT 1` floor any statement pays on the same pool.
 */
function measureMatchUser(print: (line: string) => void): void {
  const data = { id: 'm', organization_id: 'o', role: 'parent', last_name: 'Петрова – Водкина', first_name: 'Алёна', middle_name: 'Семёновна', birth_date: '12.03.1985', snils: '112-233-445 95' }
  const journalCard = card(data)
  const person = personOf({ ...data, last_name: 'ПЕТРОВА-ВОДКИНА' })
  const opts = { snilsHmac: hmacOf(data.snils) }
  let sink = 0
  for (let i = 0; i < 50_000; i++) sink += matchUser(journalCard, person, opts).evidence.length // warm-up
  const n = 500_000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) sink += matchUser(journalCard, person, opts).evidence.length
  const ns = ((performance.now() - t0) * 1e6) / n
  print(`matchUser: ${ns.toFixed(0)} ns/call over ${n} calls (checksum ${sink})`)
}

const fakeHmac = (i: number) => createHash('sha256').update(`snils-${i}`).digest()


const bench: BenchModule = {
  description: 'matchUser per call, and findCandidates against N journal users — options: --cards=N (2000000; 0 skips the database)',
  async run({ pool, option, print }) {
    measureMatchUser(print)
    const cards = option('cards', 2_000_000)
    if (cards === 0) return
    const t0 = performance.now()
    await pool.query(`INSERT INTO organizations (id, name, kind) SELECT 'org-' || g, 'Школа № ' || g, 'school' FROM generate_series(0, 999) g`)
    // Card i carries the fake HMAC sha256('snils-' || i); every 1000th card has no SNILS. Names
    // are the same on every card: only the HMAC narrows the search, as at login.
    await pool.query(
      `INSERT INTO journal_users (id, organization_id, role, last_name, first_name, middle_name, birth_date,
         snils_hmac, snils_present, snils_valid, norm_last_name, norm_first_name, norm_middle_name)
       SELECT 'u' || g, 'org-' || (g % 1000), (ARRAY['parent','student','staff'])[1 + g % 3], 'Иванова', 'Мария', 'Петровна', '1985-03-12',
         CASE WHEN g % 1000 = 0 THEN NULL ELSE sha256(convert_to('snils-' || g, 'UTF8')) END,
         g % 1000 <> 0, g % 1000 <> 0, 'иванова', 'мария', 'петровна'
       FROM generate_series(1, $1) g`,
      [cards],
    )
    await pool.query('ANALYZE journal_users')
    print(`findCandidates: ${cards} cards loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

    const plan = await pool.query<{ 'QUERY PLAN': string }>(
      // The columns findCandidates reads, so the planner keeps every join it really does.
      `EXPLAIN SELECT j.*, o.name, l.upstream_subject FROM journal_users j JOIN organizations o ON o.id = j.organization_id LEFT JOIN links l ON l.journal_user_id = j.id
       WHERE j.snils_hmac = $1 AND j.snils_valid ORDER BY j.organization_id, j.role, j.id`,
      [fakeHmac(7)],
    )
    print(plan.rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n'))

    const baseline = async () => {
      for (let i = 0; i < 200; i++) await pool.query('SELECT 1')
      const n = 5000
      const cpu0 = process.cpuUsage()
      const t = performance.now()
      for (let i = 0; i < n; i++) await pool.query('SELECT 1')
      const cpu = process.cpuUsage(cpu0)
      print(`SELECT 1 floor: mean ${(((performance.now() - t) * 1000) / n).toFixed(0)} µs round trip; bridge CPU ${((cpu.user + cpu.system) / n).toFixed(0)} µs/call`)
    }
    await baseline()

    const person = personOf({ id: '', organization_id: '', role: '', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '1985-03-12', snils: null })
    for (const [label, pick] of [
      ['found (one candidate)', (i: number) => fakeHmac(1 + ((i * 7919) % (cards - 1)))],
      ['not found', (i: number) => fakeHmac(cards + 1 + i)],
    ] as const) {
      for (let i = 0; i < 200; i++) await findCandidates(pool, person, { snilsHmac: pick(i) }) // warm-up
      const n = 5000
      const times: number[] = []
      const cpu0 = process.cpuUsage()
      for (let i = 0; i < n; i++) {
        const s = performance.now()
        await findCandidates(pool, person, { snilsHmac: pick(i) })
        times.push(performance.now() - s)
      }
      const cpu = process.cpuUsage(cpu0)
      times.sort((a, b) => a - b)
      const mean = times.reduce((a, b) => a + b, 0) / n
      print(
        `findCandidates ${label}: mean ${(mean * 1000).toFixed(0)} µs, p50 ${(times[n / 2]! * 1000).toFixed(0)} µs, p99 ${(times[Math.floor(n * 0.99)]! * 1000).toFixed(0)} µs round trip; bridge CPU ${((cpu.user + cpu.system) / n).toFixed(0)} µs/call`,
      )
    }
  },
}
export default bench
