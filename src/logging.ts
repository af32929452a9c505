import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * Field names that can carry SNILS, names, birth dates or credentials, in every spelling the code
 * base meets: ours, ЕСИА's (/rs/prns), OIDC's, and the Russian CSV headers.
 */
const SENSITIVE_KEYS = [
  'snils', 'snils_digits', 'last_name', 'first_name', 'middle_name', 'birth_date', 'name', 'names',
  'lastName', 'firstName', 'middleName', 'birthDate', 'family_name', 'given_name', 'birthdate',
  'full_name', 'fullName', 'display_name', 'displayName', 'kids', 'person',
  'password', 'client_secret', 'code_verifier', 'refresh_token', 'access_token', 'id_token',
  'link_token', 'token', 'authorization', 'cookie', 'set-cookie',
  'Фамилия', 'Имя', 'Отчество', 'Дата рождения', 'СНИЛС',
]

const SENSITIVE = new Set(SENSITIVE_KEYS)
const REDACTED = '[redacted]'
/** Keys with a serializer of their own (below): those decide what of the object is logged. */
const SERIALIZED = new Set(['req', 'res', 'err'])
const MAX_DEPTH = 4

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)

function redact(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined
  for (const key of Object.keys(value)) {
    const v = value[key]
    let replaced: unknown = v
    if (SENSITIVE.has(key)) replaced = REDACTED
    else if (depth < MAX_DEPTH && isPlain(v) && !(depth === 0 && SERIALIZED.has(key))) replaced = redact(v, depth + 1)
    if (replaced !== v) {
      copy ??= Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...value }
      copy[key] = replaced
    }
  }
  return copy ?? value
}

/**
 * Redaction of sensitive field names at any depth of a logged object. Written here instead of
 * pino's `redact` option: its wildcard paths (needed because these fields sit at varying depths)
 * cost ≈ 200 µs per log line and 60 µs per request logger on this machine — more than the whole
 * login path may spend — while this walk over the few keys of a log object costs ≈ 1 µs.
 * The objects logged are small plain objects; class instances (requests, errors) go through the
 * serializers below instead.
 */
export function redactLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  return redact(obj, 0)
}

/**
 * Requests are logged by method, route and path only: query strings can carry a SNILS typed into a
 * support search, a `code`, a `state`; bodies and headers are never logged.
 */
const serializers = {
  req(req: FastifyRequest) {
    return { id: req.id, method: req.method, path: req.url.split('?', 1)[0], route: req.routeOptions?.url }
  },
  res(res: FastifyReply) {
    return { statusCode: res.statusCode }
  },
  err: pino.stdSerializers.err,
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    formatters: { log: redactLogObject },
    serializers,
    base: { service: 'esia-bridge' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
}

/**
 * Where the log lines go (stdout by default), written in blocks rather than line by line: at the
 * 8 a.m. wave a line per request is thousands of writes a second, and a write costs more here than
 * formatting the line. A block goes out when it holds 4 KiB, after a second at most, and at exit
 * (pino flushes its destinations then, even after an uncaught error); only a killed process
 * (SIGKILL, OOM) loses its last second.
 */
export function logDestination(dest: string | number = 1): ReturnType<typeof pino.destination> {
  return pino.destination({ dest, sync: false, minLength: 4096, periodicFlush: 1000 })
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const pretty = !destination && process.stdout.isTTY && level !== 'silent'
  if (pretty) {
    return pino({ ...loggerOptions(level), transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } })
  }
  return pino(loggerOptions(level), destination ?? logDestination())
}

/**
 * One line per request, written when it completes: method, path, route, status and time together.
 * Fastify's default writes a second line on arrival, doubling the logging cost of every login.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
