/**
 * One error type for everything a request can end in, with a stable `code`.
 * The code picks the HTTP status, the page people see and the log level from
 * one table, so the three never disagree.
 */

export type ErrorCode =
  | 'ACCESS_DENIED'
  | 'LOGIN_STATE_INVALID'
  | 'LOGIN_FAILED'
  | 'IDP_REFUSED'
  | 'IDP_UNAVAILABLE'
  | 'IDP_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'LOGOUT_REFUSED'
  | 'BAD_REQUEST'
  | 'URL_TOO_LONG'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'INTERNAL'

export interface ErrorSpec {
  readonly status: number
  /** Level of the log line the request produces. */
  readonly level: 'info' | 'warn' | 'error'
  /** Whether the page offers "try again" (back to the room, or the site root). */
  readonly retry: boolean
}

export const ERRORS: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze({
  ACCESS_DENIED: { status: 403, level: 'info', retry: false },
  LOGIN_STATE_INVALID: { status: 400, level: 'info', retry: true },
  LOGIN_FAILED: { status: 400, level: 'warn', retry: true },
  IDP_REFUSED: { status: 403, level: 'info', retry: true },
  IDP_UNAVAILABLE: { status: 503, level: 'error', retry: true },
  IDP_TIMEOUT: { status: 504, level: 'error', retry: true },
  UPSTREAM_UNAVAILABLE: { status: 502, level: 'error', retry: true },
  LOGOUT_REFUSED: { status: 403, level: 'warn', retry: false },
  BAD_REQUEST: { status: 400, level: 'info', retry: false },
  URL_TOO_LONG: { status: 414, level: 'info', retry: false },
  NOT_FOUND: { status: 404, level: 'info', retry: false },
  METHOD_NOT_ALLOWED: { status: 405, level: 'info', retry: false },
  INTERNAL: { status: 500, level: 'error', retry: true },
})

export class SidecarError extends Error {
  readonly code: ErrorCode
  /** Operator-facing detail: logged, never shown on a page. Must hold no secrets. */
  readonly detail: string | undefined

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${code}: ${detail}` : code, options)
    this.name = 'SidecarError'
    this.code = code
    this.detail = detail
  }
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError
}
