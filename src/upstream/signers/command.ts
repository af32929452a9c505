import { spawn } from 'node:child_process'
import { UpstreamError } from '../types.js'
import { reverseBytes, type EsiaSigner } from './types.js'

export interface CommandSignerOptions {
  /** Run by `/bin/sh -c`: the message arrives on stdin, the raw signature is read from stdout. */
  command: string
  timeoutMs: number
  /** Reverse the signature bytes (CryptoPro emits little-endian, research/esia.md §4.1). */
  reverse: boolean
}

/** Output larger than this is not a signature: stop reading (a misconfigured command printing a file). */
const MAX_OUTPUT = 64 * 1024

/**
 * Signs by running an external program, e.g. OpenSSL with the GOST engine or CryptoPro's
 * `csptest` (README, «Production with real ЕСИА»). The command comes from the operator's
 * configuration, never from a request; the message is passed on stdin, not in argv, so it never
 * shows in the process list.
 */
export function createCommandSigner(opts: CommandSignerOptions): EsiaSigner {
  return {
    kind: 'command',
    sign: (message) => runSigner(opts, Buffer.from(message, 'utf8')),
  }
}

function runSigner(opts: CommandSignerOptions, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', opts.command], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let outLength = 0
    let err = ''
    let settled = false
    const fail = (code: string, message: string, cause?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new UpstreamError('configuration', code, message, { cause }))
    }
    const timer = setTimeout(() => fail('signer_timeout', `ESIA_SIGNER_COMMAND did not finish within ${opts.timeoutMs} ms`), opts.timeoutMs)
    child.on('error', (e) => fail('signer_failed', `ESIA_SIGNER_COMMAND could not be started: ${e.message}`, e))
    child.stdout.on('data', (chunk: Buffer) => {
      outLength += chunk.length
      if (outLength > MAX_OUTPUT) return fail('signer_failed', 'ESIA_SIGNER_COMMAND wrote more than 64 KiB: expected a raw signature')
      out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 2000) err += chunk.toString('utf8')
    })
    // A command that does not read stdin closes it early; that is its business, not an error.
    child.stdin.on('error', () => {})
    child.on('close', (code, signal) => {
      if (settled) return
      if (code !== 0) return fail('signer_failed', `ESIA_SIGNER_COMMAND exited with ${code ?? signal}: ${err.trim().slice(0, 500)}`)
      const signature = Buffer.concat(out)
      if (signature.length === 0) return fail('signer_failed', 'ESIA_SIGNER_COMMAND wrote no signature on stdout')
      settled = true
      clearTimeout(timer)
      resolve(opts.reverse ? reverseBytes(signature) : signature)
    })
    child.stdin.end(input)
  })
}
