/**
 * Errors a route throws on purpose. The API answers `{ error, message }`: `error` is a stable
 * snake_case code a client can switch on, `message` is English for the operator reading logs or
 * responses. People-facing pages never show these; they render the Russian message catalogue.
 */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => new ApiError(400, code, message, details)
export const unauthorized = (message = 'Authentication required') => new ApiError(401, 'unauthorized', message)
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message)
export const notFound = (code: string, message: string) => new ApiError(404, code, message)
export const conflict = (code: string, message: string, details?: Record<string, unknown>) => new ApiError(409, code, message, details)
