import type { FastifyError, FastifyInstance } from 'fastify'
import { ApiError } from './errors.js'
import { RETRY_AFTER_S, retryLater, unavailablePart } from './unavailable.js'

const UNAVAILABLE_MESSAGE = `Temporarily unavailable; try again in ${RETRY_AFTER_S} seconds`

/**
 * JSON errors for the API. A 4xx says what was wrong; a part of ours that is down (the database)
 * is a 503 to retry; any other 5xx never leaks its message or stack (it could carry a value from
 * the request), it is logged with the request id instead.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) })
    }
    if (error.validation) {
      const where = error.validationContext ?? 'request'
      const first = error.validation[0]
      const field = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where
      return reply.code(400).send({ error: 'invalid_request', message: `${field} ${first?.message ?? 'is invalid'}` })
    }
    const unavailable = unavailablePart(error)
    if (unavailable === 'report') {
      return retryLater(request, reply, unavailable, error).send({ error: 'report_unavailable', message: 'The report is unavailable now (it ran past its time limit); try again later' })
    }
    if (unavailable) {
      return retryLater(request, reply, unavailable, error).send({ error: 'unavailable', message: UNAVAILABLE_MESSAGE })
    }
    const status = error.statusCode ?? 500
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ error: 'internal_error', message: `Internal error; quote request id ${request.id} to the operator` })
    }
    if (status === 429) return reply.code(429).send({ error: 'rate_limited', message: 'Too many requests; try again in a minute' })
    return reply.code(status).send({ error: error.code?.toLowerCase() ?? 'bad_request', message: error.message })
  })

  app.setNotFoundHandler({ preHandler: app.rateLimit ? app.rateLimit() : undefined }, (request, reply) => {
    reply.code(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url.split('?', 1)[0]}` })
  })
}
