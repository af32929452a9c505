import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'

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

/** pino's redaction matches fixed depths; cover the depths our log calls use. */
function redactPaths(): string[] {
  const paths: string[] = []
  for (const key of SENSITIVE_KEYS) {
    const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`
    const dot = k.startsWith('[') ? '' : '.'
    paths.push(k, `*${dot}${k}`, `*.*${dot}${k}`, `*.*.*${dot}${k}`)
  }
  return paths
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
    redact: { paths: redactPaths(), censor: '[redacted]' },
    serializers,
    base: { service: 'esia-bridge' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const pretty = !destination && process.stdout.isTTY && level !== 'silent'
  if (pretty) {
    return pino({ ...loggerOptions(level), transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } })
  }
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level))
}
