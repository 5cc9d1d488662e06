/**
 * The OpenID Connect relying party, on openid-client: discovery (lazy, shared,
 * retried; a failure is never cached for long), the authorization URL with
 * PKCE/state/nonce, and the code exchange with ID-token validation. All IdP
 * traffic goes through one undici dispatcher with connect/header/body
 * timeouts. Time comes from one clock (`now`, Date.now unless given): the
 * discovery retry pause, the key set's ages and pauses, and openid-client's
 * checks of the ID token's times.
 */
import type { CryptoKey, FetchImplementation, FlattenedJWSInput, JWSHeaderParameters } from 'jose'
import type * as client from 'openid-client'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { OidcConfig } from '../config/load.js'
import { SidecarError } from '../outcomes.js'
import { Metrics } from '../ops/metrics.js'
import type { Claims } from '../identity/rule.js'
import { noteErrorBody, signatureError, toSidecarError } from './errors.js'
import { clientMetadata, configurationOptions, reconfigure, usableIdTokenAlgs } from './configuration.js'
import { KeySet } from './key-set.js'
import { verifyLogoutToken, type LogoutTokenClaims } from './logout-token.js'
import { idpDispatcher } from './transport.js'
import { loadIdpModules, type IdpModules } from './modules.js'
import type { IdpFetch, LoginChecks, LoginResult, LoginStart, OidcClientOptions } from './types.js'

export type { IdpFetch, LoginResult, OidcClientOptions } from './types.js'

/** After a failed discovery, callers within this window get the same failure instead of a new attempt. */
export const DISCOVERY_RETRY_MS = 2000
/** How far in the future an ID token's iat may be (the IdP's clock ahead of ours). */
const MAX_CLOCK_SKEW_S = 120

interface Discovered {
  readonly idp: IdpModules
  /** openid-client freezes its clock skew into a configuration: this one is for `skew` seconds. */
  readonly configuration: client.Configuration
  readonly skew: number
  readonly keys: KeySet
  readonly idTokenAlgs: string[]
  /** Whether RP-initiated logout is offered. */
  readonly hasEndSession: boolean
  readonly hasUserinfo: boolean
  /** As discovery wrote it: what the IdP's tokens carry in `iss`. */
  readonly issuer: string
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

  /** The HS* key: the client secret's bytes (OIDC Core 10.1). */
  readonly #secret: Uint8Array

  constructor(cfg: OidcConfig, metrics?: Metrics, options: OidcClientOptions = {}) {
    this.#cfg = cfg
    this.#secret = new TextEncoder().encode(cfg.clientSecret)
    this.#metrics = metrics
    this.#opts = options
    this.#now = this.#opts.now ?? Date.now
  }

  /** The fetch for all IdP traffic: through the dispatcher, timed for the metrics. */
  #makeFetch(idp: IdpModules): client.CustomFetch {
    const dispatcher = (this.#dispatcher = this.#opts.dispatcher ?? idpDispatcher(idp, this.#cfg))
    const { fetch } = idp
    // undici's fetch and the global one differ only in their TypeScript types.
    const send = this.#opts.fetch ?? (fetch as unknown as IdpFetch)
    return (async (url: string, options: client.CustomFetchOptions) => {
      const started = performance.now()
      let outcome = 'error'
      try {
        const res = await send(url, { ...(options as Omit<RequestInit, 'dispatcher'>), dispatcher })
        outcome = res.ok ? 'ok' : 'http_error'
        if (!res.ok) await noteErrorBody(res)
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
      const configuration = await openid.discovery(cfg.issuer, cfg.clientId, clientMetadata(idp, cfg, skew), openid.ClientSecretPost(cfg.clientSecret), configurationOptions(idp, cfg, this.#fetch))
      const meta = configuration.serverMetadata()
      if (meta.jwks_uri === undefined) throw new SidecarError('IDP_UNAVAILABLE', 'discovery: the IdP publishes no jwks_uri, so ID token signatures cannot be checked')
      const jwksUri = new URL(meta.jwks_uri)
      if (jwksUri.protocol !== 'https:' && !(cfg.allowHttp && jwksUri.protocol === 'http:')) throw new SidecarError('IDP_UNAVAILABLE', `discovery: the jwks_uri is not https (${jwksUri.protocol}); OIDC_ALLOW_HTTP=1 allows http for development`)
      // HS* are signed with our client secret (OIDC Core 10.1), as LemonLDAP::NG does by default; `none` never.
      const algs = usableIdTokenAlgs(meta.id_token_signing_alg_values_supported)
      if (algs.length === 0) throw new SidecarError('IDP_MISCONFIGURED', 'discovery: the IdP offers only unsigned ID tokens (alg none); configure the client for RS256')
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
      this.#discovered = { idp, configuration, skew, keys, issuer: meta.issuer, idTokenAlgs: algs, hasEndSession, hasUserinfo: meta.userinfo_endpoint !== undefined }
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

  /** The configuration for the clock as it is now: a new one (kept for the next login) when the skew changed. */
  #configurationNow(d: Discovered): client.Configuration {
    const skew = this.#skew()
    if (skew === d.skew) return d.configuration
    const configuration = reconfigure(d.idp, d.configuration, this.#cfg, this.#fetch!, skew)
    this.#discovered = { ...d, configuration, skew }
    return configuration
  }

  /** A fresh authorization request (with the caller's unguessable `state`, or a random one). Throws SidecarError when the IdP cannot be reached. */
  async startLogin(opts: { readonly prompt?: 'login'; readonly state?: string } = {}): Promise<LoginStart> {
    const { configuration, idp: { openid } } = await this.#discovery()
    const verifier = openid.randomPKCECodeVerifier()
    const state = opts.state ?? openid.randomState()
    const nonce = openid.randomNonce()
    const url = openid.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#cfg.redirectUri,
      scope: this.#cfg.scopes,
      code_challenge: await openid.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...(opts.prompt ? { prompt: opts.prompt } : {}),
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
    let step = 'code exchange'
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
      const { userinfo, neededClaims, expectedClaims } = this.#cfg
      const fetch = userinfo === 'always' || (userinfo === 'auto' && discovered.hasUserinfo && neededClaims.some((c) => claims[c] === undefined))
      step = 'userinfo'
      // fetchUserInfo checks the answer's sub against the ID token's.
      const merged: Claims = fetch ? { ...(await openid.fetchUserInfo(configuration, tokens.access_token, claims.sub)), ...claims } : claims
      return { claims: merged, idToken: tokens.id_token, userinfo: fetch, missingClaims: expectedClaims.filter((c) => merged[c] === undefined) }
    } catch (err) {
      throw toSidecarError(err, step)
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
      await idp.compactVerify(idToken, this.#keyFor(keys), { algorithms: idTokenAlgs })
    } catch (err) {
      throw signatureError(err)
    }
  }

  /**
   * The IdP's RP-initiated logout URL (OpenID Connect RP-Initiated Logout),
   * or undefined when the IdP publishes no end_session_endpoint or cannot be
   * reached. Without an ID token the client_id identifies us; `state` comes back
   * to the post-logout redirect URI.
   */
  async endSessionUrl(idToken: string | undefined, state?: string): Promise<string | undefined> {
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
    if (state !== undefined) params.state = state
    return discovered.idp.openid.buildEndSessionUrl(discovered.configuration, params).href
  }

  /** The key for a token's header: the client secret for HS* (OIDC Core 10.1), else the IdP's key set. */
  #keyFor(keys: KeySet): (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey> | Uint8Array {
    return (header, token) => (header.alg?.startsWith('HS') ? this.#secret : keys.key(header, token))
  }

  /** Whether `iss` is the IdP's issuer exactly as its discovery document says it (what its tokens carry). Throws SidecarError. */
  async isIssuer(iss: string): Promise<boolean> {
    return iss === (await this.#discovery()).issuer
  }

  /** Validates a back-channel logout token (see logout-token.ts). Throws SidecarError. */
  async verifyLogoutToken(token: string): Promise<LogoutTokenClaims> {
    const d = await this.#discovery()
    return verifyLogoutToken(d.idp, token, {
      issuer: d.issuer,
      clientId: this.#cfg.clientId,
      algorithms: d.idTokenAlgs,
      key: this.#keyFor(d.keys),
      now: this.#now() / 1000,
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    // A dispatcher given in the options is its owner's to close.
    if (this.#dispatcher !== this.#opts.dispatcher) await this.#dispatcher?.close()
  }
}
