import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { saveVerdicts } from '../../src/guardians/checks.js'
import { saveLink } from '../../src/linking/links.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { textOf } from '../flows/browser.js'
import { ConsoleClient } from './console-client.js'
import { auditRows, seedGuardianStates, supportAccount } from './fixtures.js'

/**
 * Parents and children in the console: which children Госуслуги confirmed, on the parent's card
 * and the child's; «Родители с неподтверждёнными детьми» per school, inside the caller's
 * organisations; the relations as CSV.
 */
describe('parents and children in the console', () => {
  let t: TestApp
  let school12: ConsoleClient
  let everywhere: ConsoleClient

  beforeAll(async () => {
    t = await buildTestApp()
    await seedGuardianStates(t)
    const a = await supportAccount(t, 'school12', 'support', ['school-12'])
    const b = await supportAccount(t, 'region', 'admin')
    school12 = new ConsoleClient(t.app)
    await school12.login('school12', a.password)
    everywhere = new ConsoleClient(t.app)
    await everywhere.login('region', b.password)
  })
  afterAll(async () => t.close())

  it('the parent\'s card lists each child with what Госуслуги said', async () => {
    const card = textOf((await school12.get('/admin/users/u3301')).body)
    expect(card).toContain('Дети Никитин Глеб Сергеевич подтверждён Госуслугами')
    expect(card).toContain('Орлов Денис Игоревич нет среди детей родителя на Госуслугах')
    const typo = textOf((await everywhere.get('/admin/users/u3101')).body)
    expect(typo).toContain('Егоров Тимафей Романович данные не совпадают Не совпадает: имя и дата рождения')
    expect(typo).toContain('Дата рождения на Госуслугах: 06.03.2014')
  })

  it('the child\'s card says which parents are confirmed', async () => {
    const card = textOf((await school12.get('/admin/users/u3311')).body)
    expect(card).toContain('Родители Никитина Ирина Олеговна подтверждён Госуслугами')
    expect(textOf((await school12.get('/admin/users/u3312')).body)).toContain('Никитина Ирина Олеговна не подтверждён: ребёнка нет среди его детей на Госуслугах')
  })

  it('«Родители с неподтверждёнными детьми»: only parents with a child not confirmed, only in the caller\'s schools', async () => {
    const mine = textOf((await school12.get('/admin/guardians')).body)
    expect(mine).toContain('Никитина Ирина Олеговна')
    expect(mine).not.toContain('Волкова Анна') // both children confirmed
    expect(mine).not.toContain('Егорова') // gymnasium-3: not this caller's
    const all = textOf((await everywhere.get('/admin/guardians?organization_id=gymnasium-3')).body)
    expect(all).toContain('Егорова Наталья Павловна')
    expect(all).not.toContain('Никитина')
    expect((await school12.get('/admin/guardians?organization_id=gymnasium-3')).statusCode).toBe(403)
    expect(await auditRows(t.db.pool, `type = 'support.guardians_viewed'`)).not.toHaveLength(0)
  })

  it('exports the unconfirmed children of a school, or every relation, as CSV', async () => {
    const unconfirmed = await school12.get('/admin/guardians.csv?organization_id=school-12')
    expect(unconfirmed.headers['content-type']).toMatch(/^text\/csv/)
    const lines = unconfirmed.body.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines[0]).toBe('Организация;Родитель;Фамилия родителя;Имя родителя;Отчество родителя;Родитель связан с Госуслугами;Ребёнок;Фамилия ребёнка;Имя ребёнка;Отчество ребёнка;Состояние;Подробно;Проверено')
    expect(lines.slice(1).map((l) => l.split(';').slice(0, 2).concat(l.split(';')[6]!, l.split(';')[10]!))).toEqual([['school-12', 'u3301', 'u3312', 'not_in_esia']])
    const all = (await everywhere.get('/admin/guardians.csv?all=1')).body
    expect(all).toContain('u3101;Егорова;Наталья;Павловна;да;u3111;Егоров;Тимафей;Романович;mismatch:first_name,birth_date;данные не совпадают: не совпадает: имя и дата рождения;')
    expect(all).toContain(';u1001;Смирнова;Ольга;Викторовна;нет;u2001;Смирнов;Артём;Дмитриевич;unchecked;не проверено;')
    expect(await auditRows(t.db.pool, `type = 'support.export' AND details->>'export' = 'guardians'`)).toHaveLength(2)
  })

  it('names the cards carrying Госуслуги\'s SNILS of a child only inside the caller\'s schools', async () => {
    // u1001 (school-12) and u1002 (gymnasium-3) carry one SNILS; Госуслуги gives it for u1102's child.
    const { rows } = await t.db.pool.query<{ hex: string }>(`SELECT encode(snils_hmac, 'hex') AS hex FROM journal_users WHERE id = 'u1002'`)
    await withTransaction(t.db.pool, async (tx) => {
      await saveLink(tx, { journalUserId: 'u1102', upstreamSubject: '1000300099', method: 'link', evidence: [], trusted: true, level: 'PR', actor: { kind: 'person', id: '1000300099' } })
      await saveVerdicts(tx, '1000300099', [{ parentId: 'u1102', childId: 'u2102', state: 'mismatch', reasons: ['mismatch:snils'], esiaBirthDate: null, esiaSnilsHmac: Buffer.from(rows[0]!.hex, 'hex') }])
    })
    const cardsNamed = (body: string) => /СНИЛС с Госуслуг записан в журнале у карточки ([^\n]*?)Сверено/.exec(textOf(body))?.[1]?.trim()
    expect(cardsNamed((await everywhere.get('/admin/users/u1102')).body)).toBe('u1001 u1002')
    expect(cardsNamed((await school12.get('/admin/users/u1102')).body)).toBe('u1001')
  })
})
