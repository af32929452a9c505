import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { UpstreamError } from '../types.js'
import { generateGostKeyPair, gostCertificateHash } from './openssl-gost.js'
import type { EsiaSigner } from './types.js'

/**
 * The software key that stands in for a GOST key when the bridge talks to the bundled mock ЕСИА.
 * Node has no GOST, so the stand-in is Ed25519: its raw signature is 64 bytes, the same length as
 * a GOST R 34.10-2012 (256) one, and `openssl pkeyutl -sign -rawin` makes the same bytes — so the
 * `command` signer can be tested with a real external program. The mock verifies it with the
 * client's registered public key, so a wrong concatenation order fails with ESIA-007053 exactly
 * as it would at ЕСИА.
 */
export function createTestKeySigner(privateKey: KeyObject, nodeEnv: string): EsiaSigner {
  if (nodeEnv === 'production') {
    throw new UpstreamError('configuration', 'test_key_in_production', 'ESIA_SIGNER=test-key is refused in production: use command or http')
  }
  if (privateKey.asymmetricKeyType !== 'ed25519' || privateKey.type !== 'private') {
    throw new UpstreamError('configuration', 'test_key_invalid', 'the test signing key must be an Ed25519 private key')
  }
  return {
    kind: 'test-key',
    async sign(message) {
      return sign(null, Buffer.from(message, 'utf8'), privateKey)
    },
  }
}

/**
 * `client_certificate_hash` for a test key. Real ЕСИА wants the GOST R 34.11-2012 (256) hash of
 * the DER certificate registered on the tech portal (docs/esia.md, «Authorization request (v2/ac)»); a test key has no
 * certificate, so we take the upper-case hex SHA-256 of its public key (SPKI DER): deterministic,
 * 64 hex characters like the real one.
 */
export function testKeyCertificateHash(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase()
}

export interface TestKeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
  /** PKCS#8 PEM of the private key (what `openssl pkeyutl -inkey` reads). */
  privatePem: string
  certHash: string
}

export function generateTestKeyPair(): TestKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519')
  return describeTestKey(privateKey)
}

function describeTestKey(privateKey: KeyObject): TestKeyPair {
  const publicKey = createPublicKey(privateKey)
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certHash: testKeyCertificateHash(publicKey),
  }
}

export async function readTestKeyFile(file: string): Promise<TestKeyPair> {
  return describeTestKey(createPrivateKey(await readFile(file, 'utf8')))
}

/**
 * The development test key kept under DATA_DIR: created on first use (mode 0600) and reused, so
 * the bridge and a separately started mock (`npm run mock-esia`) agree on it. Never committed.
 */
export async function loadOrCreateTestKeyFile(file: string): Promise<TestKeyPair> {
  try {
    return await readTestKeyFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const pair = generateTestKeyPair()
  await mkdir(path.dirname(file), { recursive: true })
  try {
    await writeFile(file, pair.privatePem, { mode: 0o600, flag: 'wx' })
    return pair
  } catch (err) {
    // Another process (the bridge or the mock) created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readTestKeyFile(file)
    throw err
  }
}

/** Where development keeps the test key when ESIA_TEST_KEY_FILE is not set. */
export const defaultTestKeyFile = (dataDir: string): string => path.join(dataDir, 'mock-esia', 'test-client-key.pem')

/**
 * The development ИС's real GOST key, where OpenSSL's GOST engine is present: one PEM file under
 * DATA_DIR holding the private key and its self-signed certificate (OpenSSL reads the key from it;
 * the mock registers the certificate), created on first start (mode 0600) and reused.
 */
export interface GostTestKey {
  keyFile: string
  certificatePem: string
  /** `client_certificate_hash`: GOST R 34.11-2012 (256) of the DER certificate. */
  certHash: string
}

export const defaultGostTestKeyFile = (dataDir: string): string => path.join(dataDir, 'mock-esia', 'test-client-gost.pem')

export async function loadOrCreateGostTestKeyFile(file: string): Promise<GostTestKey> {
  const read = async (): Promise<GostTestKey> => {
    const certificatePem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(await readFile(file, 'utf8'))?.[0]
    if (!certificatePem) throw new Error(`${file} holds no certificate`)
    return { keyFile: file, certificatePem, certHash: await gostCertificateHash(certificatePem) }
  }
  try {
    return await read()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const pair = await generateGostKeyPair('/CN=esia-bridge development system')
  await mkdir(path.dirname(file), { recursive: true })
  try {
    await writeFile(file, pair.privatePem + pair.certificatePem, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process (the bridge or the mock) created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return read()
}
