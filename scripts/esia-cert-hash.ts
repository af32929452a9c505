import { readFile } from 'node:fs/promises'
import { gostCertificateHash, gostEngineAvailable } from '../src/upstream/signers/openssl-gost.js'

/**
 * `npm run esia:cert-hash -- cert.pem` — prints the `client_certificate_hash` ЕСИА expects for the
 * ИС's certificate (PEM or DER, e.g. the `.cer` uploaded to the tech portal): GOST R 34.11-2012
 * (256) over the DER certificate, upper-case hex. Put it in ESIA_CERT_HASH. Needs OpenSSL's GOST
 * engine (Debian: libengine-gost-openssl).
 */
async function main(): Promise<void> {
  const file = process.argv[2]
  if (!file || process.argv.length > 3) {
    process.stderr.write('usage: npm run esia:cert-hash -- <certificate .pem or .cer>\n')
    process.exit(2)
  }
  if (!(await gostEngineAvailable())) {
    process.stderr.write('OpenSSL has no GOST engine here (Debian: apt-get install libengine-gost-openssl); with CryptoPro: cpverify -mk <cert.cer> -alg GR3411_2012_256\n')
    process.exit(1)
  }
  process.stdout.write(`${await gostCertificateHash(await readFile(file))}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`esia:cert-hash: ${(err as Error).message}\n`)
  process.exit(1)
})
