/**
 * The one error class of cambium. Every failure that is not a misuse of the API
 * (misuse throws TypeError/RangeError) is a CambiumError with a stable `code`.
 * Layer 0: imports nothing.
 */

export type ErrorCode =
  | 'ERR_NOT_A_DATABASE'
  | 'ERR_UNSUPPORTED_VERSION'
  | 'ERR_CORRUPT'
  | 'ERR_LOCKED'
  | 'ERR_CLOSED'
  | 'ERR_READ_ONLY'
  | 'ERR_INVALID_KEY'
  | 'ERR_INVALID_VALUE'
  | 'ERR_KEY_TOO_LARGE'
  | 'ERR_VALUE_TOO_LARGE'
  | 'ERR_VERSION_NOT_FOUND'
  | 'ERR_NOT_FOUND'
  | 'ERR_NO_SPACE'
  | 'ERR_IO'
  | 'ERR_TRANSACTION_CLOSED'
  | 'ERR_BUSY'

export interface CambiumErrorOptions {
  cause?: unknown
  path?: string
  offset?: number
}

export class CambiumError extends Error {
  override readonly name = 'CambiumError'
  readonly code: ErrorCode
  /** File the error is about, when there is one. */
  readonly path: string | undefined
  /** Byte offset in the file the error is about (ERR_CORRUPT), when there is one. */
  readonly offset: number | undefined

  constructor(code: ErrorCode, message: string, options: CambiumErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.path = options.path
    this.offset = options.offset
  }
}

/** Shorthand for the most common engine error: a record that fails its checks. */
export function corrupt(message: string, offset: number, path?: string, cause?: unknown): CambiumError {
  return new CambiumError('ERR_CORRUPT', `${path === undefined ? '' : path + ': '}${message} (at offset ${offset})`, {
    offset,
    path,
    cause,
  })
}

export function isCambiumError(e: unknown, code?: ErrorCode): e is CambiumError {
  return e instanceof CambiumError && (code === undefined || e.code === code)
}
