/**
 * Everything a request can end in that the sidecar answers itself, in one
 * table: the HTTP status, the level of its log line, whether the page offers
 * a next step, and how it counts as a sign-in. `respond` (http/respond.ts)
 * reads it to log, count and render; the page texts (pages/texts.ts) have
 * one entry per code, which the compiler checks.
 */

export type ErrorCode =
  | 'ACCESS_DENIED'
  | 'LOGIN_STATE_INVALID'
  | 'LOGIN_FAILED'
  | 'IDP_REFUSED'
  | 'IDP_ERROR'
  | 'IDP_MISCONFIGURED'
  | 'IDP_UNAVAILABLE'
  | 'IDP_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'LOGOUT_REFUSED'
  | 'BAD_REQUEST'
  | 'URL_TOO_LONG'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'INTERNAL'

/** Pages that are not errors. */
export type InfoCode = 'SIGNED_OUT' | 'LOGOUT_CONFIRM' | 'OPEN_APP'

export type OutcomeCode = ErrorCode | InfoCode

export interface OutcomeSpec {
  readonly status: number
  /** Level of the `request_failed` line; none for pages that are not errors. */
  readonly level: 'info' | 'warn' | 'error' | undefined
  /** Whether the page shows its next step (try again, sign out, open the app). */
  readonly next: boolean
  /** `jos_logins_total{outcome}` when this ends a sign-in. */
  readonly signIn: 'failed' | 'denied'
}

const row = (status: number, level: OutcomeSpec['level'], next: boolean, signIn: OutcomeSpec['signIn'] = 'failed'): OutcomeSpec => ({ status, level, next, signIn })

export const OUTCOMES: Readonly<Record<OutcomeCode, OutcomeSpec>> = Object.freeze({
  ACCESS_DENIED: row(403, 'info', true, 'denied'),
  LOGIN_STATE_INVALID: row(400, 'info', true),
  LOGIN_FAILED: row(400, 'warn', true),
  IDP_REFUSED: row(403, 'info', true),
  /** The IdP answered, with an error of its own (a 5xx, server_error): it is up, but failed. */
  IDP_ERROR: row(502, 'error', true),
  /** The IdP and our settings disagree (an ID-token algorithm we may not accept): only an operator can fix it. */
  IDP_MISCONFIGURED: row(502, 'error', false),
  IDP_UNAVAILABLE: row(503, 'error', true),
  IDP_TIMEOUT: row(504, 'error', true),
  UPSTREAM_UNAVAILABLE: row(502, 'error', true),
  LOGOUT_REFUSED: row(403, 'warn', false),
  BAD_REQUEST: row(400, 'info', false),
  URL_TOO_LONG: row(414, 'info', false),
  /** A forward-auth question from a peer not in TRUSTED_PROXIES. */
  FORBIDDEN: row(403, 'warn', false),
  NOT_FOUND: row(404, 'info', false),
  METHOD_NOT_ALLOWED: row(405, 'info', false),
  INTERNAL: row(500, 'error', true),
  SIGNED_OUT: row(200, undefined, true),
  LOGOUT_CONFIRM: row(200, undefined, true),
  OPEN_APP: row(200, undefined, true),
})


export class SidecarError extends Error {
  readonly code: ErrorCode
  /** Operator-facing detail: logged, never shown on a page. Must hold no secrets. */
  readonly detail: string | undefined
  /** A fact safe to show on the page as well, for the person to pass on (an algorithm name, a setting). */
  readonly note: string | undefined

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; note?: string }) {
    super(detail ? `${code}: ${detail}` : code, options)
    this.name = 'SidecarError'
    this.code = code
    this.detail = detail
    this.note = options?.note
  }
}

/** Any thrown value as a SidecarError: ours as they are, anything else INTERNAL (its name only: messages may hold secrets). */
export function asSidecarError(err: unknown): SidecarError {
  return err instanceof SidecarError ? err : new SidecarError('INTERNAL', err instanceof Error ? err.name : 'error', { cause: err })
}
