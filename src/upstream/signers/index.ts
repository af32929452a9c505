import { availableParallelism } from 'node:os'
import type { KeyObject } from 'node:crypto'
import type { Config } from '../../config.js'
import { UpstreamError } from '../types.js'
import { createCommandSigner, type CommandSignerOptions } from './command.js'
import { createHttpSigner } from './http.js'
import { limitSigner } from './limit.js'
import { createTestKeySigner, defaultTestKeyFile, readTestKeyFile } from './test-key.js'
import type { EsiaSigner } from './types.js'

export type { EsiaSigner } from './types.js'
export { createCommandSigner } from './command.js'
export { createHttpSigner } from './http.js'
export { createTestKeySigner, defaultGostTestKeyFile, defaultTestKeyFile, generateTestKeyPair, loadOrCreateGostTestKeyFile, loadOrCreateTestKeyFile, readTestKeyFile, testKeyCertificateHash, type GostTestKey, type TestKeyPair } from './test-key.js'

export { limitSigner }

/** A command signer bounded to what the host can run: a process per signature, twice the cores at once. */
export const boundedCommandSigner = (opts: CommandSignerOptions): EsiaSigner =>
  limitSigner(createCommandSigner(opts), { concurrent: 2 * availableParallelism(), queued: 64 })

/** The signer chosen by ESIA_SIGNER. A test key given in-process wins over ESIA_TEST_KEY_FILE. */
export async function createSigner(config: Config, deps: { testSigningKey?: KeyObject; fetch?: typeof fetch } = {}): Promise<EsiaSigner> {
  const esia = config.idp.esia
  switch (esia.signer) {
    case 'command':
      if (!esia.signerCommand) throw new UpstreamError('configuration', 'signer_missing', 'ESIA_SIGNER_COMMAND is required when ESIA_SIGNER=command')
      return boundedCommandSigner({ command: esia.signerCommand, verifyCommand: esia.signerVerifyCommand, timeoutMs: esia.signerTimeoutMs, reverse: esia.signerReverse })
    case 'http':
      if (!esia.signerUrl) throw new UpstreamError('configuration', 'signer_missing', 'ESIA_SIGNER_URL is required when ESIA_SIGNER=http')
      return limitSigner(createHttpSigner({ url: esia.signerUrl, timeoutMs: esia.signerTimeoutMs, reverse: esia.signerReverse, ...(deps.fetch ? { fetch: deps.fetch } : {}) }), { concurrent: 64, queued: 256 })
    case 'test-key': {
      const key = deps.testSigningKey ?? (await readTestKey(esia.testKeyFile ?? defaultTestKeyFile(config.dataDir)))
      return createTestKeySigner(key, config.env)
    }
  }
}

async function readTestKey(file: string): Promise<KeyObject> {
  try {
    return (await readTestKeyFile(file)).privateKey
  } catch (err) {
    throw new UpstreamError('configuration', 'test_key_missing', `ESIA_SIGNER=test-key: cannot read the test key ${file} (${(err as Error).message})`, { cause: err })
  }
}
