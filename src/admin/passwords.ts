import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Console passwords: scrypt from node:crypto (no native add-on to build). Parameters follow the
 * OWASP Password Storage Cheat Sheet's scrypt row «N=2^15 (32 MiB), r=8, p=3», chosen over its
 * equivalent N=2^17/p=1 because this service runs on small machines where four concurrent logins at
 * 128 MiB each would matter; ≈0.3 s of CPU per check here, which the login throttle bounds.
 *
 * A stored hash names its own parameters and salt, so the cost can be raised later and an old hash
 * upgraded at the next successful login (`needsRehash`).
 */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 3 } as const
const KEY_LENGTH = 32
const SALT_BYTES = 16
export const MIN_PASSWORD_LENGTH = 12

interface ParsedHash {
  N: number
  r: number
  p: number
  salt: Buffer
  key: Buffer
}

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }, keyLength: number): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 + 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return undefined
  return { N, r, p, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, SCRYPT_PARAMS, KEY_LENGTH)
  const { N, r, p } = SCRYPT_PARAMS
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

// A hash of a random password, checked when the login is unknown or has no password, so the answer
// takes as long as for a real account and does not tell which logins exist.
let decoy: Promise<string> | undefined

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parsed = stored ? parse(stored) : undefined
  if (!parsed) {
    decoy ??= hashPassword(randomBytes(16).toString('hex'))
    const d = parse(await decoy)!
    await derive(password, d.salt, d, d.key.length)
    return false
  }
  const key = await derive(password, parsed.salt, parsed, parsed.key.length)
  return timingSafeEqual(key, parsed.key)
}

/** True when the stored hash uses weaker parameters than today's: rehash after a successful login. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored)
  return !parsed || parsed.N < SCRYPT_PARAMS.N || parsed.r < SCRYPT_PARAMS.r || parsed.p < SCRYPT_PARAMS.p
}

/** A password for `admin:create` and the console's «создать учётную запись»: 18 random bytes, base64url. */
export const generatePassword = (): string => randomBytes(18).toString('base64url')
