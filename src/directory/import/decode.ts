import iconv from 'iconv-lite'
import { ImportFileError } from './errors.js'

/**
 * Bytes of an uploaded directory file → text, without holding the file in memory.
 *
 * Journal exports are made in Excel, which on a Russian Windows saves CSV in Windows-1251 unless
 * told «CSV UTF-8». So: a `charset` the sender declares is honoured; otherwise a BOM decides; otherwise
 * the first bytes do: Cyrillic in Windows-1251 is practically never valid UTF-8 (its letters are
 * 0xC0–0xFF, which in UTF-8 are lead bytes that need continuation bytes 0x80–0xBF after them), so a
 * sample that is valid UTF-8 is UTF-8 and one that is not is Windows-1251. chardet was tried for
 * this and guessed ISO-8859-8 (Hebrew) on a short 1251 header, hence the validity test.
 */
export type Charset = string

const SNIFF_BYTES = 64 * 1024
const UTF8_BOM = [0xef, 0xbb, 0xbf]

const ALIASES: Record<string, Charset> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'windows-1251': 'windows-1251',
  'cp-1251': 'windows-1251',
  cp1251: 'windows-1251',
  win1251: 'windows-1251',
  'x-cp1251': 'windows-1251',
}

/** The canonical name of a declared charset, or an `unsupported_charset` error. */
export function resolveCharset(declared: string): Charset {
  const name = declared.trim().toLowerCase().replace(/^"|"$/g, '')
  const known = ALIASES[name]
  if (known) return known
  if (iconv.encodingExists(name)) return name
  throw new ImportFileError('unsupported_charset', `charset ${JSON.stringify(declared.slice(0, 40))} is not supported; send UTF-8 or windows-1251`)
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b)
}

/** UTF-8 when the sample decodes strictly (a sequence cut at the sample's end is allowed). */
export function sniffCharset(sample: Uint8Array): Charset {
  if (startsWith(sample, UTF8_BOM)) return 'utf-8'
  if (startsWith(sample, [0xff, 0xfe])) return 'utf-16le'
  if (startsWith(sample, [0xfe, 0xff])) return 'utf-16be'
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true })
    return 'utf-8'
  } catch {
    return 'windows-1251'
  }
}

interface Decoder {
  write(bytes: Uint8Array): string
  end(): string
}

function utf8Decoder(): Decoder {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let offset = 0
  const fail = (): never => {
    throw new ImportFileError(
      'undecodable',
      `The file is not valid UTF-8 (bad bytes within the block at byte ${offset}). If it was saved as Windows-1251, send it with "Content-Type: text/csv; charset=windows-1251".`,
    )
  }
  return {
    write(bytes) {
      try {
        return decoder.decode(bytes, { stream: true })
      } catch {
        return fail()
      } finally {
        offset += bytes.length
      }
    },
    end() {
      try {
        return decoder.decode()
      } catch {
        return fail()
      }
    },
  }
}

function iconvDecoder(charset: Charset): Decoder {
  const decoder = iconv.getDecoder(charset)
  return { write: (bytes) => decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)), end: () => decoder.end() ?? '' }
}

export interface DecodedText {
  /** The charset in use: the declared one, or the one detected. */
  charset: Charset
  chunks: AsyncGenerator<string, void, undefined>
}

const asBytes = (chunk: unknown): Uint8Array => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Uint8Array))

/**
 * Decodes a byte stream chunk by chunk. Reads up to 64 KiB ahead to detect the charset when none is
 * declared; refuses files above `maxBytes` (counted as they arrive, since a streamed body has no
 * length to trust) and empty ones.
 */
export async function decodeText(source: AsyncIterable<unknown>, opts: { charset?: string | undefined; maxBytes?: number } = {}): Promise<DecodedText> {
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
  const iterator = source[Symbol.asyncIterator]()
  let received = 0
  const nextBytes = async (): Promise<Uint8Array | undefined> => {
    const { value, done } = await iterator.next()
    if (done) return undefined
    const bytes = asBytes(value)
    received += bytes.length
    if (received > maxBytes) throw new ImportFileError('too_large', `The file is larger than ${maxBytes} bytes; split it or raise the limit`)
    return bytes
  }

  const head: Uint8Array[] = []
  let headBytes = 0
  let ended = false
  while (headBytes < (opts.charset ? 1 : SNIFF_BYTES)) {
    const bytes = await nextBytes()
    if (!bytes) {
      ended = true
      break
    }
    if (bytes.length === 0) continue
    head.push(bytes)
    headBytes += bytes.length
  }
  if (headBytes === 0) throw new ImportFileError('empty_file', 'The file is empty')

  const charset = opts.charset ? resolveCharset(opts.charset) : sniffCharset(Buffer.concat(head))
  const decoder = charset === 'utf-8' ? utf8Decoder() : iconvDecoder(charset)

  async function* chunks(): AsyncGenerator<string, void, undefined> {
    for (const bytes of head) yield decoder.write(bytes)
    head.length = 0
    if (!ended) {
      for (let bytes = await nextBytes(); bytes; bytes = await nextBytes()) yield decoder.write(bytes)
    }
    const tail = decoder.end()
    if (tail) yield tail
  }
  return { charset, chunks: chunks() }
}
