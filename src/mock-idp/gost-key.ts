import { createHash, X509Certificate } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateGostKeyPair, gostPublicKey, gostSign, gostVerify, type GostKeyPair } from '../upstream/signers/openssl-gost.js'

/**
 * The mock's GOST token key — its stand-in for the `ГОСТ_PROD_….cer` in ЕСИА's esia.zip — for the
 * ИС that chose GOST3410_2012_256 tokens. Made on first use (OpenSSL's GOST engine signs from a key
 * file, so the key lives in a private temporary directory, removed when the mock closes).
 */
export class MockGostKey {
  private constructor(
    private readonly dir: string,
    readonly keyFile: string,
    readonly certificatePem: string,
    readonly publicKeyPem: string,
    /** SHA-256 of the DER certificate, upper-case hex: the `x5t#St256` of the tokens it signs. */
    readonly thumbprint: string,
  ) {}

  static async create(pair?: GostKeyPair): Promise<MockGostKey> {
    const { privatePem, certificatePem } = pair ?? (await generateGostKeyPair('/CN=mock ESIA GOST token key'))
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mock-esia-gost-'))
    try {
      const keyFile = path.join(dir, 'token-key.pem')
      await writeFile(keyFile, privatePem, { mode: 0o600 })
      const thumbprint = createHash('sha256').update(new X509Certificate(certificatePem).raw).digest('hex').toUpperCase()
      return new MockGostKey(dir, keyFile, certificatePem, await gostPublicKey(certificatePem), thumbprint)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** The token's raw signature in ЕСИА's order (OpenSSL's: s‖r, big-endian). */
  sign(signingInput: string): Promise<Buffer> {
    return gostSign(this.keyFile, signingInput)
  }

  verify(signingInput: string, signature: Buffer): Promise<boolean> {
    return gostVerify(this.publicKeyPem, signingInput, signature)
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true })
  }
}
