import { readFile } from 'node:fs/promises'
import { ConfigError } from '../../config.js'
import { GostError, gostCertificateHash, gostEngineAvailable } from '../signers/openssl-gost.js'

/**
 * Start-up check of ESIA_CERT_HASH against the ИС's certificate (ESIA_CERT_FILE): a wrong hash
 * makes every login fail at ЕСИА with ESIA-007053, so it is better said once, at start, in one line.
 */
export async function checkCertHash(certFile: string, certHash: string): Promise<void> {
  let content: Buffer
  try {
    content = await readFile(certFile)
  } catch (err) {
    throw new ConfigError(`ESIA_CERT_FILE: cannot read ${certFile} (${(err as Error).message})`)
  }
  if (!(await gostEngineAvailable())) {
    throw new ConfigError('ESIA_CERT_FILE is set, but OpenSSL has no GOST engine here to hash it (install libengine-gost-openssl, or unset ESIA_CERT_FILE)')
  }
  let actual: string
  try {
    actual = await gostCertificateHash(content)
  } catch (err) {
    throw new ConfigError(`ESIA_CERT_FILE ${certFile}: ${err instanceof GostError ? err.message : String(err)}`)
  }
  if (actual !== certHash.toUpperCase()) {
    throw new ConfigError(`ESIA_CERT_HASH does not match ESIA_CERT_FILE: ЕСИА would refuse every login with ESIA-007053; the certificate's hash is ${actual} (npm run esia:cert-hash -- ${certFile})`)
  }
}
