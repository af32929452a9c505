import { describe, expect, it } from 'vitest'
import { matchUser } from '../../src/matching/match.js'
import { describeReason, describeReasons, upstreamErrorReason, type Flow, type MessageCode } from '../../src/matching/messages.js'
import { MATCH_FIELDS } from '../../src/matching/types.js'
import { card, hmacOf, personOf } from './fixtures.js'

/** What a parent reads on the result page, and what support reads next to it. */

const FLOWS: Flow[] = ['link', 'login']
const DESIGN_CODES: MessageCode[] = [
  ...MATCH_FIELDS.map((f) => `mismatch:${f}` as const),
  'untrusted_account',
  'child_consent_required',
  'not_found',
  'ambiguous',
  'already_linked_elsewhere',
  'idp_error:ESIA-007004',
  'idp_error:ESIA-007008',
  'idp_error:timeout',
  'idp_error:ESIA-007011',
  'cancelled',
  'flow_expired',
]
const russianOf = (m: { title: string; text: string; steps: string[] }) => [m.title, m.text, ...m.steps].join('\n')

describe('message catalogue', () => {
  it.each(DESIGN_CODES.flatMap((code) => FLOWS.map((flow) => ({ code, flow }))))('explains $code in the $flow flow, in Russian and for support in English', ({ code, flow }) => {
    const m = describeReason(code, flow)
    expect(m.codes).toEqual([code])
    expect(m.title).toMatch(/[а-яё]/i)
    expect(m.text).toMatch(/[а-яё]/i)
    expect(m.steps.length).toBeGreaterThan(0)
    // Russian for people: no Latin letters, no template leftovers.
    expect(russianOf(m)).not.toMatch(/[A-Za-z{}$]/)
    expect(m.operator).toMatch(/[a-z]{3,} [a-z]{3,}/)
  })

  it('ends with the button of the flow the person came from', () => {
    for (const code of ['mismatch:last_name', 'untrusted_account', 'child_consent_required', 'idp_error:ESIA-007004', 'idp_error:ESIA-007008', 'flow_expired'] as const) {
      expect(russianOf(describeReason(code, 'link'))).toContain('«Привязать пользователя портала гос. услуг»')
      expect(russianOf(describeReason(code, 'login'))).toContain('«Войти через Госуслуги»')
    }
  })

  it('names the differing field in Russian and never the stored value', () => {
    const maria = { id: 'm', organization_id: 'o', role: 'parent', last_name: 'Иванова', first_name: 'Мария', middle_name: 'Петровна', birth_date: '12.03.1985', snils: '112-233-445 95' }
    const outcome = matchUser(card({ ...maria, last_name: 'Иваонва', birth_date: '21.03.1985' }), personOf(maria), { snilsHmac: hmacOf(maria.snils) })
    const [message] = describeReasons(outcome.reasons, 'link')
    expect(message?.title).toBe('Данные не совпадают')
    expect(message?.text).toContain('фамилия и дата рождения')
    const everything = JSON.stringify(describeReasons(outcome.reasons, 'link'))
    for (const value of ['Иван', 'Иваон', 'Мария', 'Петровна', '1985', '03', '112-233', '445']) expect(everything).not.toContain(value)

    expect(describeReason('mismatch:snils', 'link').title).toBe('Не совпадает СНИЛС')
    expect(describeReason('mismatch:middle_name', 'link').title).toBe('Не совпадает отчество')
    expect(describeReason('mismatch:birth_date', 'login').text).toContain('Дата рождения в журнале отличается')
  })

  it('explains several differing fields in one block, after what the person fixes in their own account', () => {
    const messages = describeReasons(['mismatch:birth_date', 'untrusted_account', 'mismatch:last_name', 'mismatch:birth_date'], 'link')
    expect(messages.map((m) => m.codes)).toEqual([['untrusted_account'], ['mismatch:last_name', 'mismatch:birth_date']])
  })

  it('tells how to confirm an account, in the words of the Госуслуги instructions', () => {
    const steps = describeReason('untrusted_account', 'login').steps.join(' ')
    for (const way of ['«Подтверждено»', 'Центр обслуживания', 'МФЦ', 'паспортом', 'Почтой России', 'электронной подписью']) expect(steps).toContain(way)
  })

  it('walks a parent through the child’s consent in three steps, in a browser', () => {
    const steps = describeReason('child_consent_required', 'login').steps
    expect(steps.join(' ')).toMatch(/браузер.*Согласия и доверенности.*«Разрешить»/s)
    expect(steps.at(-1)).toContain('ребёнок')
  })

  it('sends a person the journal does not know to the school for their ФИО, date of birth and SNILS', () => {
    const m = describeReason('not_found', 'login')
    expect(m.steps.join(' ')).toMatch(/ФИО, дату рождения и СНИЛС/)
    expect(describeReason('not_found', 'link').title).not.toBe(m.title)
  })

  it('tells apart a refusal at Госуслуги, an outage and any other upstream error', () => {
    expect(describeReason('idp_error:ESIA-007004', 'login').title).toBe('Вы не разрешили передать данные')
    expect(describeReason('idp_error:access_denied', 'login').title).toBe('Вы не разрешили передать данные')
    for (const code of ['ESIA-007008', 'ESIA-007007', 'temporarily_unavailable', 'timeout', 'unavailable']) {
      expect(describeReason(`idp_error:${code}`, 'login').title).toBe('Госуслуги сейчас не отвечают')
    }
    expect(describeReason('idp_error:ESIA-007055', 'login').title).toBe(describeReason('untrusted_account', 'login').title)
    const other = describeReason('idp_error:ESIA-007011', 'link')
    expect(other.title).toBe('Не удалось войти через Госуслуги')
    expect(other.operator).toContain('ESIA-007011')
  })

  it('falls back to "start again" for a code it does not know', () => {
    expect(describeReason('something_new', 'login').title).toBe(describeReason('flow_expired', 'login').title)
  })

  it('maps upstream failures to reason codes the pages explain', () => {
    expect(upstreamErrorReason({ kind: 'denied', code: 'ESIA-007004' })).toBe('idp_error:ESIA-007004')
    expect(upstreamErrorReason({ kind: 'denied', code: 'user_cancelled_somewhere' })).toBe('idp_error:access_denied')
    expect(upstreamErrorReason({ kind: 'unavailable', code: 'ECONNRESET' })).toBe('idp_error:unavailable')
    expect(upstreamErrorReason({ kind: 'provider_error', code: 'ESIA-007011' })).toBe('idp_error:ESIA-007011')
    expect(upstreamErrorReason({ kind: 'invalid_response', code: 'state_mismatch' })).toBe('idp_error:state_mismatch')
    expect(upstreamErrorReason({ kind: 'unavailable', code: 'network_error' })).toBe('idp_error:network_error')
    expect(describeReason('idp_error:network_error', 'login').title).toBe('Госуслуги сейчас не отвечают')
    // Free text in an `error` parameter never becomes a reason code.
    expect(upstreamErrorReason({ kind: 'provider_error', code: 'Иванова Мария: <script>' })).toBe('idp_error:provider_error')
  })
})
