/**
 * The OpenID Connect relying party, on openid-client: discovery (lazy, shared,
 * retried; a failure is never cached for long), the authorization URL with
 * PKCE/state/nonce, and the code exchange with ID-token validation. All IdP
 * traffic goes through one undici dispatcher with connect/header/body
 * timeouts. Time comes from one clock (`now`, Date.now unless given): the
 * discovery retry pause, the key set's ages and pauses, and openid-client's
 * checks of the ID token's times.
 */
import type { FetchImplementation } from 'jose'
import type * as client from 'openid-client'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { OidcConfig } from '../config/load.js'
import { SidecarError } from '../outcomes.js'
import { Metrics } from '../ops/metrics.js'
import type { Claims } from '../identity/rule.js'
import { signatureError, toSidecarError } from './errors.js'
import { KeySet } from './key-set.js'
import { loadIdpModules, type IdpModules } from './modules.js'

export { toSidecarError } from './errors.js'

/** After a failed discovery, callers within this window get the same failure instead of a new attempt. */
export const DISCOVERY_RETRY_MS = 2000
/** How far in the future an ID token's iat may be (the IdP's clock ahead of ours). */
const MAX_CLOCK_SKEW_S = 120

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
  /** ID-token claims, merged with the userinfo response when OIDC_USERINFO=1 (ID-token claims win). */
  readonly claims: Claims
  readonly idToken: string
}

export interface LoginChecks {
  readonly state: string
  readonly nonce: string
  readonly verifier: string
}

interface Discovered {
  readonly idp: IdpModules
  /** openid-client freezes its clock skew into a configuration: this one is for `skew` seconds. */
  readonly configuration: client.Configuration
  readonly skew: number
  readonly keys: KeySet
  readonly idTokenAlgs: string[]
  /** Whether RP-initiated logout is offered. */
  readonly hasEndSession: boolean
}

export class OidcClient {
  readonly #cfg: OidcConfig
  readonly #metrics: Metrics | undefined
  readonly #opts: OidcClientOptions
  readonly #now: () => number
  /** Made on the first discovery, with the modules it needs; closed by close() when it is ours. */
  #dispatcher: Dispatcher | undefined
  #fetch: client.CustomFetch | undefined
  #closed = false
  #discovered: Discovered | undefined
  #pending: Promise<Discovered> | undefined
  #lastFailure: { at: number; error: SidecarError } | undefined
  /** From the discovered metadata: endpoints by name (metric labels). */
  #endpoints: Readonly<Record<string, string | undefined>> = {}

  /** `options` as a function: `onStaleKeys` alone (the former signature). */
  constructor(cfg: OidcConfig, metrics?: Metrics, options: OidcClientOptions | ((reason: string) => void) = {}) {
    this.#cfg = cfg
    this.#metrics = metrics
    this.#opts = typeof options === 'function' ? { onStaleKeys: options } : options
    this.#now = this.#opts.now ?? Date.now
  }

  /** The fetch for all IdP traffic: through the dispatcher, timed for the metrics. */
  #makeFetch({ Agent, fetch }: IdpModules): client.CustomFetch {
    const t = this.#cfg.timeoutMs
    const dispatcher = (this.#dispatcher = this.#opts.dispatcher ?? new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 }))
    // undici's fetch and the global one differ only in their TypeScript types.
    const send = this.#opts.fetch ?? (fetch as unknown as IdpFetch)
    return (async (url: string, options: client.CustomFetchOptions) => {
      const started = performance.now()
      let outcome = 'error'
      try {
        const res = await send(url, { ...(options as Omit<RequestInit, 'dispatcher'>), dispatcher })
        outcome = res.ok ? 'ok' : 'http_error'
        return res
      } finally {
        this.#metrics?.idpLatency.observe({ operation: Metrics.operationOf(url, this.#endpoints), outcome }, (performance.now() - started) / 1000)
      }
    }) as unknown as client.CustomFetch
  }

  /** True once discovery has succeeded. */
  get ready(): boolean {
    return this.#discovered !== undefined
  }

  /** The discovered configuration; discovers on first use and after failures. Throws SidecarError. */
  async configuration(): Promise<client.Configuration> {
    return (await this.#discovery()).configuration
  }

  async #discovery(): Promise<Discovered> {
    if (this.#discovered) return this.#discovered
    if (this.#lastFailure && this.#now() - this.#lastFailure.at < DISCOVERY_RETRY_MS) throw this.#lastFailure.error
    this.#pending ??= this.#discover().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #discover(): Promise<Discovered> {
    const cfg = this.#cfg
    try {
      const idp = await loadIdpModules()
      const { openid } = idp
      if (this.#closed) throw new SidecarError('IDP_UNAVAILABLE', 'discovery: the client is closed')
      this.#fetch ??= this.#makeFetch(idp)
      const skew = this.#skew()
      const configuration = await openid.discovery(cfg.issuer, cfg.clientId, this.#clientMetadata(idp, skew), openid.ClientSecretPost(cfg.clientSecret), this.#configurationOptions(idp))
      const meta = configuration.serverMetadata()
      if (meta.jwks_uri === undefined) throw new SidecarError('IDP_UNAVAILABLE', 'discovery: the IdP publishes no jwks_uri, so ID token signatures cannot be checked')
      const jwksUri = new URL(meta.jwks_uri)
      if (jwksUri.protocol !== 'https:' && !(cfg.allowHttp && jwksUri.protocol === 'http:')) throw new SidecarError('IDP_UNAVAILABLE', `discovery: the jwks_uri is not https (${jwksUri.protocol}); OIDC_ALLOW_HTTP=1 allows http for development`)
      const algs = (meta.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => alg !== 'none' && !alg.startsWith('HS'))
      if (algs.length === 0) throw new SidecarError('IDP_UNAVAILABLE', `discovery: the IdP signs ID tokens only with ${(meta.id_token_signing_alg_values_supported ?? []).join(', ')}; configure the client for an asymmetric algorithm (RS256, ES256, ...)`)
      const keys = new KeySet(idp, {
        url: jwksUri,
        refreshMs: cfg.jwksRefreshMs,
        timeoutMs: cfg.timeoutMs,
        fetch: this.#fetch as unknown as FetchImplementation,
        now: this.#now,
        onStale: this.#opts.onStaleKeys,
        onFetched: this.#opts.onKeysFetched,
      })
      // Kept from the metadata once: serverMetadata() clones it on every call.
      this.#endpoints = meta as Readonly<Record<string, string | undefined>>
      const hasEndSession = meta.end_session_endpoint !== undefined && URL.canParse(meta.end_session_endpoint)
      this.#discovered = { idp, configuration, skew, keys, idTokenAlgs: algs, hasEndSession }
      this.#lastFailure = undefined
      return this.#discovered
    } catch (err) {
      const error = toSidecarError(err, 'discovery')
      this.#lastFailure = { at: this.#now(), error }
      throw error
    }
  }

  /** How far the clock is from the system's, in whole seconds: openid-client's clock skew. */
  #skew(): number {
    return Math.round((this.#now() - Date.now()) / 1000)
  }

  #clientMetadata({ openid }: IdpModules, skew: number): Partial<client.ClientMetadata> {
    return { client_secret: this.#cfg.clientSecret, [openid.clockSkew]: skew }
  }

  #configurationOptions({ openid }: IdpModules): client.DiscoveryRequestOptions {
    const cfg = this.#cfg
    return {
      [openid.customFetch]: this.#fetch,
      timeout: Math.ceil(cfg.timeoutMs / 1000),
      execute: cfg.allowHttp && cfg.issuer.protocol === 'http:' ? [openid.allowInsecureRequests] : [],
    }
  }

  /** The configuration for the clock as it is now: a new one (kept for the next login) when the skew changed. */
  #configurationNow(d: Discovered): client.Configuration {
    const skew = this.#skew()
    if (skew === d.skew) return d.configuration
    const { openid } = d.idp
    const configuration = new openid.Configuration(d.configuration.serverMetadata(), this.#cfg.clientId, this.#clientMetadata(d.idp, skew), openid.ClientSecretPost(this.#cfg.clientSecret))
    const opts = this.#configurationOptions(d.idp)
    configuration[openid.customFetch] = opts[openid.customFetch]!
    configuration.timeout = opts.timeout
    for (const extension of opts.execute ?? []) extension(configuration)
    this.#discovered = { ...d, configuration, skew }
    return configuration
  }

  /** A fresh authorization request. Throws SidecarError when the IdP cannot be reached. */
  async startLogin(): Promise<LoginStart> {
    const { configuration, idp: { openid } } = await this.#discovery()
    const verifier = openid.randomPKCECodeVerifier()
    const state = openid.randomState()
    const nonce = openid.randomNonce()
    const url = openid.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#cfg.redirectUri,
      scope: this.#cfg.scopes,
      code_challenge: await openid.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url: url.href, state, nonce, verifier }
  }

  /**
   * Completes a login from the callback's raw query string: checks state and
   * `iss` (RFC 9207), exchanges the code with the PKCE verifier and validates
   * the ID token (signature against the IdP's JWKS, issuer, audience, expiry,
   * issue time, nonce) on the client's clock. Returns the claims (with
   * userinfo when configured; its `sub` must match the ID token's). Throws SidecarError.
   */
  async finishLogin(rawQuery: string, checks: LoginChecks): Promise<LoginResult> {
    const discovered = await this.#discovery()
    const { openid } = discovered.idp
    // Built on PUBLIC_URL, never on the request's Host: openid-client derives redirect_uri from it.
    const currentUrl = new URL(`${this.#cfg.redirectUri}?${rawQuery}`)
    try {
      const configuration = this.#configurationNow(discovered)
      const tokens = await openid.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      })
      const claims = tokens.claims()
      if (!claims || tokens.id_token === undefined) throw new SidecarError('LOGIN_FAILED', 'the token response has no ID token')
      await this.#verifySignature(discovered, tokens.id_token)
      // openid-client rejects old tokens but not ones from the future (OIDC Core 3.1.3.7 leaves it to us).
      const now = this.#now() / 1000
      if (claims.iat > now + MAX_CLOCK_SKEW_S) throw new SidecarError('LOGIN_FAILED', `the ID token was issued ${Math.round(claims.iat - now)} s in the future: check the clocks of the IdP and this host`)
      if (!this.#cfg.userinfo) return { claims, idToken: tokens.id_token }
      const userinfo = await openid.fetchUserInfo(configuration, tokens.access_token, claims.sub)
      return { claims: { ...userinfo, ...claims }, idToken: tokens.id_token }
    } catch (err) {
      throw toSidecarError(err, this.#cfg.userinfo ? 'code exchange or userinfo' : 'code exchange')
    }
  }

  /**
   * openid-client validates the ID token's claims but, trusting TLS to the
   * token endpoint, not its signature; we check it too, so a token altered on
   * the way (a compromised proxy, plain HTTP inside a cluster) is refused.
   * Done with our key set (jose underneath) rather than openid-client's
   * non-repudiation mode, whose cache refuses a rotated IdP key for up to 60 s.
   */
  async #verifySignature({ idp, keys, idTokenAlgs }: Discovered, idToken: string): Promise<void> {
    try {
      // The signature only: openid-client has checked the claims, with its clock tolerance.
      await idp.compactVerify(idToken, (header, token) => keys.key(header, token), { algorithms: idTokenAlgs })
    } catch (err) {
      throw signatureError(err)
    }
  }

  /**
   * The IdP's RP-initiated logout URL (OpenID Connect RP-Initiated Logout),
   * or undefined when the IdP publishes no end_session_endpoint or cannot be
   * reached. Without an ID token the client_id identifies us.
   */
  async endSessionUrl(idToken: string | undefined): Promise<string | undefined> {
    let discovered: Discovered
    try {
      discovered = await this.#discovery()
    } catch {
      return undefined
    }
    if (!discovered.hasEndSession) return undefined
    const params: Record<string, string> = { post_logout_redirect_uri: this.#cfg.postLogoutRedirectUri }
    if (idToken !== undefined) params.id_token_hint = idToken
    else params.client_id = this.#cfg.clientId
    return discovered.idp.openid.buildEndSessionUrl(discovered.configuration, params).href
  }

  async close(): Promise<void> {
    this.#closed = true
    // A dispatcher given in the options is its owner's to close.
    if (this.#dispatcher !== this.#opts.dispatcher) await this.#dispatcher?.close()
  }
}
