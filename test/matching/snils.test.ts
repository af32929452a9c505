import { describe, expect, it } from 'vitest'
import { parseSnils, snilsChecksumValid, snilsDigits, snilsHmac } from '../../src/matching/snils.js'

// Test vectors: numbers built by the published check-number rule (docs/matching.md, «Normalisation»).
describe('SNILS checksum', () => {
  it.each([
    ['11223344595', true],
    ['11223344594', false],
    ['08765430300', true],
    ['08765430301', false],
    ['08765430200', true],
    ['08675430300', true],
    ['15657325992', true],
    ['90114404441', true],
    ['12345678964', true],
    ['64071744282', true],
  ])('%s → %s', (digits, valid) => {
    expect(snilsChecksumValid(digits)).toBe(valid)
  })

  it('does not check numbers up to 001-001-998, so the ЕСИА test range passes', () => {
    expect(snilsChecksumValid('00100199864')).toBe(true)
    expect(snilsChecksumValid('00100199800')).toBe(true)
    expect(snilsChecksumValid('00000060006')).toBe(true)
    // The first checked number: 001-001-999, weighted sum 1·7+1·4+9·3+9·2+9·1 = 65.
    expect(snilsChecksumValid('00100199965')).toBe(true)
    expect(snilsChecksumValid('00100199964')).toBe(false)
  })
})

describe('SNILS digits', () => {
  it.each([
    ['112-233-445 95', '11223344595'],
    ['11223344595', '11223344595'],
    ['112 233 445 95', '11223344595'],
    ['112.233.445.95', '11223344595'],
    ['112–233–445\u00A095', '11223344595'],
    [' 000-000-600 06 ', '00000060006'],
  ])('%j → %s', (raw, digits) => {
    expect(snilsDigits(raw)).toBe(digits)
  })

  it.each(['1122334459', '112233445951', '112-233-445 9X', 'СНИЛС 11223344595', ''])('rejects %j', (raw) => {
    expect(snilsDigits(raw)).toBeNull()
  })

  it('tells absent, malformed and checksum-invalid apart', () => {
    expect(parseSnils('  ')).toEqual({ kind: 'absent' })
    expect(parseSnils('12-34')).toEqual({ kind: 'malformed' })
    expect(parseSnils('112-233-445 94')).toEqual({ kind: 'ok', digits: '11223344594', checksumValid: false })
  })

  it('hashes the digits, not the spelling', () => {
    const key = 'k'.repeat(32)
    expect(snilsHmac(key, snilsDigits('112-233-445 95')!)).toEqual(snilsHmac(key, snilsDigits('11223344595')!))
    expect(snilsHmac(key, '11223344595')).toHaveLength(32)
  })
})
