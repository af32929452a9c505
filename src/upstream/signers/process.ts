import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

export interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  /** The first 2000 characters: enough to quote, never a flood in a log. */
  stderr: string
}

export class ProcessTimeout extends Error {
  override name = 'ProcessTimeout'
}

/** Output larger than this is not a signature or a key: a misconfigured command printing a file. */
const MAX_OUTPUT = 64 * 1024

/**
 * Runs a program with `input` on stdin and collects stdout. Signing and GOST verification run
 * OpenSSL or CryptoPro this way (Node has no GOST): the message goes on stdin, never in argv, so it
 * never shows in the process list; a program that hangs is killed at `timeoutMs`.
 */
export function runProcess(file: string, args: readonly string[], opts: { input: Buffer | string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) })
    const out: Buffer[] = []
    let outLength = 0
    let err = ''
    let settled = false
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(() => fail(new ProcessTimeout(`did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs)
    child.on('error', fail)
    child.stdout.on('data', (chunk: Buffer) => {
      outLength += chunk.length
      if (outLength > MAX_OUTPUT) return fail(new Error('wrote more than 64 KiB on stdout'))
      out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 2000) err += chunk.toString('utf8')
    })
    // A program that does not read stdin closes it early; that is its business, not an error.
    child.stdin.on('error', () => {})
    child.on('close', (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err.slice(0, 2000) })
    })
    child.stdin.end(opts.input)
  })
}

/**
 * A private temporary directory (0700) for the files a program can only read from a path — a
 * signature, a public key — removed with everything in it once `use` settles, whatever happens.
 */
export async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'esia-bridge-'))
  try {
    return await use(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
