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
 * never shows in the process list.
 *
 * A program that hangs (CryptoPro waiting for a PIN, a token that does not answer) is killed at
 * `timeoutMs` with everything it started: it runs in a process group of its own, and the whole group
 * gets SIGKILL — a shell running a script does not exec its last command, so killing the shell alone
 * would leave the signing program running, an orphan. The promise settles only once the program has
 * exited and its output is closed, so whoever bounds how many run at once (limit.ts) keeps the slot
 * until the processes are really gone.
 */
export function runProcess(file: string, args: readonly string[], opts: { input: Buffer | string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...(opts.env ? { env: opts.env } : {}) })
    const out: Buffer[] = []
    let outLength = 0
    let err = ''
    let failure: Error | undefined
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // The group is gone already.
      }
    }
    const fail = (error: Error) => {
      if (failure) return
      failure = error
      clearTimeout(timer)
      killGroup()
      // Never started: there is no exit to wait for.
      if (child.pid === undefined) reject(error)
    }
    const timer = setTimeout(() => fail(new ProcessTimeout(`did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs)
    child.on('error', fail)
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return
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
      clearTimeout(timer)
      if (failure) {
        if (child.pid !== undefined) reject(failure)
        return
      }
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
