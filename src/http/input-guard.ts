import type { FastifyInstance } from 'fastify'
import { ApiError } from './errors.js'

const NUL = '\u0000'

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes(NUL)
  if (depth > 4 || value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some((v) => hasNul(v, depth + 1))
  // The directory import's raw body is a stream, read (and checked) by the import itself.
  if (Buffer.isBuffer(value) || typeof (value as { pipe?: unknown }).pipe === 'function') return false
  return Object.entries(value).some(([k, v]) => k.includes(NUL) || hasNul(v, depth + 1))
}

/**
 * PostgreSQL cannot store a NUL character in text and answers such a parameter with an error,
 * which would surface as a 500 (and an error log line anyone could provoke). No field of ours has
 * a use for NUL, so a request carrying one in its path, query or parsed body is refused up front;
 * each route's error handler words the 400 for its audience (JSON, OAuth error, Russian page).
 */
export function rejectNulCharacters(app: FastifyInstance): void {
  // Callback-style: an async hook would cost every request a promise and a microtask turn.
  app.addHook('preValidation', (request, _reply, done) => {
    if (hasNul(request.params) || hasNul(request.query) || hasNul(request.body)) {
      done(new ApiError(400, 'invalid_characters', 'The request contains a NUL character'))
      return
    }
    done()
  })
}
