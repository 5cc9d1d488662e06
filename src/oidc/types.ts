/** What the OIDC client takes and gives. */
import type { Dispatcher } from 'undici'
import type { Claims } from '../identity/rule.js'

/** A fetch like undici's: it is handed the `dispatcher` for the request. */
export type IdpFetch = (url: string, init: Omit<RequestInit, 'dispatcher'> & { dispatcher: Dispatcher }) => Promise<Response>

export interface OidcClientOptions {
  /** The clock, in ms since the epoch (default Date.now). */
  readonly now?: () => number
  /** Where IdP requests go (default: an undici Agent of the client's own with OIDC_TIMEOUT_SECONDS timeouts). Its owner closes it. */
  readonly dispatcher?: Dispatcher
  /** What sends IdP requests (default: undici's fetch). Each call is timed for the metrics. */
  readonly fetch?: IdpFetch
  /** Refetching the IdP's key set failed; logins are verified with the keys fetched before. */
  readonly onStaleKeys?: (reason: string) => void
  /** The IdP's key set was fetched, with this many keys. */
  readonly onKeysFetched?: (keys: number) => void
}

export interface LoginStart {
  readonly url: string
  readonly state: string
  readonly nonce: string
  readonly verifier: string
}

export interface LoginResult {
  /** ID-token claims, merged with the userinfo response when it was fetched (ID-token claims win). */
  readonly claims: Claims
  readonly idToken: string
  /** Whether userinfo was fetched (OIDC_USERINFO=1, or `auto` with a needed claim missing from the ID token). */
  readonly userinfo: boolean
  /** Claims the rules or the user mapping read that neither the ID token nor userinfo had. */
  readonly missingClaims: readonly string[]
}

export interface LoginChecks {
  readonly state: string
  readonly nonce: string
  readonly verifier: string
}
