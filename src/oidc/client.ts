/**
 * The OpenID Connect relying party, on openid-client: discovery (lazy, shared,
 * retried; a failure is never cached for long), the authorization URL with
 * PKCE/state/nonce, and the code exchange with ID-token validation. All IdP
 * traffic goes through one undici Agent with connect/header/body timeouts.
 */
import type { CryptoKey, ExportedJWKSCache, FetchImplementation, FlattenedJWSInput, JWSHeaderParameters } from 'jose'
import type * as client from 'openid-client'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Agent } from 'undici'
import type { OidcConfig } from '../config/load.js'
import { SidecarError } from '../outcomes.js'
import { Metrics } from '../ops/metrics.js'
import type { Claims } from '../identity/rule.js'

/** After a failed discovery, callers within this window get the same failure instead of a new attempt. */
export const DISCOVERY_RETRY_MS = 2000
/** The least time between two fetches of the IdP's key set (jose refetches on an unknown kid). */
const JWKS_COOLDOWN_MS = 1000
/**
 * Once the key set is older than OIDC_JWKS_REFRESH_SECONDS, a login whose kid
 * it knows is verified with it at once while the set is fetched again in the
 * background, at most this often (or once per refresh interval, if shorter).
 */
const JWKS_REFRESH_RETRY_MS = 30_000
/** Keys fetched longer ago than this are not used while the jwks_uri fails: a withdrawn key must stop working some time. */
const JWKS_STALE_MAX_MS = 24 * 3600_000
/** How far in the future an ID token's iat may be (the IdP's clock ahead of ours). */
const MAX_CLOCK_SKEW_S = 120

/**
 * openid-client, undici's fetch and Agent, and jose's remote key set: the only
 * place they are loaded, on the first discovery (which the sidecar starts in
 * the background once it is listening), so none of them is on the start-up path.
 */
async function importIdpModules() {
  const [openid, { default: Agent }, { default: { fetch } }, { compactVerify, createLocalJWKSet, createRemoteJWKSet, customFetch, jwksCache, errors }] = await Promise.all([
    import('openid-client'),
    // undici's Agent and fetch from their own files: its index loads much more (see forward.ts).
    // CommonJS, so taken from `default` (module.exports): in a bundle's lazy chunk that is all there is.
    import('undici/lib/dispatcher/agent.js'),
    import('undici/lib/web/fetch/index.js'),
    import('jose'),
  ])
  return { openid, Agent, fetch, compactVerify, createLocalJWKSet, createRemoteJWKSet, customFetch, jwksCache, JOSEError: errors.JOSEError }
}
type IdpModules = Awaited<ReturnType<typeof importIdpModules>>
type RemoteKeys = ReturnType<IdpModules['createRemoteJWKSet']>
interface Discovered {
  readonly configuration: client.Configuration
  readonly idp: IdpModules
}
/** Set once loaded: openid-client's errors, which toSidecarError tells apart, exist only from then on. */
let idpModules: IdpModules | undefined
let loadingIdpModules: Promise<IdpModules> | undefined
function loadIdpModules(): Promise<IdpModules> {
  loadingIdpModules ??= importIdpModules().then(
    (m) => (idpModules = m),
    (err: Error) => {
      // Not kept: the next discovery tries again, and the log says what failed.
      loadingIdpModules = undefined
      throw new SidecarError('INTERNAL', `the OIDC client modules did not load: ${err.message}`, { cause: err })
    },
  )
  return loadingIdpModules
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

export class OidcClient {
  readonly #cfg: OidcConfig
  readonly #metrics: Metrics | undefined
  readonly #onStaleKeys: ((reason: string) => void) | undefined
  /** Made on the first discovery, with the modules it needs. */
  #agent: Agent | undefined
  #fetch: client.CustomFetch | undefined
  #closed = false
  /** After a successful discovery: the IdP's configuration and the modules that use it. */
  #discovered: Discovered | undefined
  #pending: Promise<Discovered> | undefined
  #lastFailure: { at: number; error: SidecarError } | undefined
  #jwks: RemoteKeys | undefined
  /** Where jose records the last good fetch of the key set (its JSON and when it came). */
  #jwksFetched: ExportedJWKSCache | Record<string, never> = {}
  /** The key set of that fetch, for verifying while a refetch runs or fails. */
  #lastKeys: { readonly uat: number; readonly set: ReturnType<IdpModules['createLocalJWKSet']> } | undefined
  /** No background refetch before this time (Date.now()). */
  #nextRefetch = 0
  #idTokenAlgs: string[] = []
  /** From the discovered metadata: endpoints by name (metric labels); whether RP-initiated logout is offered. */
  #endpoints: Readonly<Record<string, string | undefined>> = {}
  #hasEndSession = false

  /** `onStaleKeys`: refetching the IdP's key set failed; logins are verified with the keys fetched before. */
  constructor(cfg: OidcConfig, metrics?: Metrics, onStaleKeys?: (reason: string) => void) {
    this.#cfg = cfg
    this.#metrics = metrics
    this.#onStaleKeys = onStaleKeys
  }

  /** The fetch for all IdP traffic: undici's, through one Agent with timeouts, timed for the metrics. */
  #makeFetch({ Agent, fetch }: IdpModules): client.CustomFetch {
    const t = this.#cfg.timeoutMs
    const agent = (this.#agent = new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 }))
    // undici's fetch and the global one differ only in their TypeScript types.
    return (async (url: string, options: client.CustomFetchOptions) => {
      const started = performance.now()
      let outcome = 'error'
      try {
        const res = await fetch(url, { ...(options as object), dispatcher: agent })
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
    if (this.#lastFailure && Date.now() - this.#lastFailure.at < DISCOVERY_RETRY_MS) throw this.#lastFailure.error
    this.#pending ??= this.#discover().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #discover(): Promise<Discovered> {
    const cfg = this.#cfg
    try {
      const modules = await loadIdpModules()
      const { openid, createRemoteJWKSet, customFetch, jwksCache } = modules
      if (this.#closed) throw new SidecarError('IDP_UNAVAILABLE', 'discovery: the client is closed')
      this.#fetch ??= this.#makeFetch(modules)
      const configuration = await openid.discovery(
        cfg.issuer,
        cfg.clientId,
        { client_secret: cfg.clientSecret },
        openid.ClientSecretPost(cfg.clientSecret),
        {
          [openid.customFetch]: this.#fetch,
          timeout: Math.ceil(cfg.timeoutMs / 1000),
          execute: cfg.allowHttp && cfg.issuer.protocol === 'http:' ? [openid.allowInsecureRequests] : [],
        },
      )
      const meta = configuration.serverMetadata()
      if (meta.jwks_uri === undefined) throw new SidecarError('IDP_UNAVAILABLE', 'discovery: the IdP publishes no jwks_uri, so ID token signatures cannot be checked')
      const jwksUri = new URL(meta.jwks_uri)
      if (jwksUri.protocol !== 'https:' && !(cfg.allowHttp && jwksUri.protocol === 'http:')) throw new SidecarError('IDP_UNAVAILABLE', `discovery: the jwks_uri is not https (${jwksUri.protocol}); OIDC_ALLOW_HTTP=1 allows http for development`)
      const algs = (meta.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => alg !== 'none' && !alg.startsWith('HS'))
      if (algs.length === 0) throw new SidecarError('IDP_UNAVAILABLE', `discovery: the IdP signs ID tokens only with ${(meta.id_token_signing_alg_values_supported ?? []).join(', ')}; configure the client for an asymmetric algorithm (RS256, ES256, ...)`)
      this.#jwks = createRemoteJWKSet(jwksUri, {
        timeoutDuration: cfg.timeoutMs,
        // After a signing-key rotation the first token with the new kid refetches within seconds.
        cooldownDuration: JWKS_COOLDOWN_MS,
        cacheMaxAge: cfg.jwksRefreshMs,
        [customFetch]: this.#fetch as unknown as FetchImplementation,
        [jwksCache]: this.#jwksFetched,
      })
      this.#idTokenAlgs = algs
      // Kept from the metadata once: serverMetadata() clones it on every call.
      this.#endpoints = meta as Readonly<Record<string, string | undefined>>
      this.#hasEndSession = meta.end_session_endpoint !== undefined && URL.canParse(meta.end_session_endpoint)
      this.#discovered = { configuration, idp: modules }
      this.#lastFailure = undefined
      return this.#discovered
    } catch (err) {
      const error = toSidecarError(err, 'discovery')
      this.#lastFailure = { at: Date.now(), error }
      throw error
    }
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
   * issue time, nonce). Returns the
   * claims (with userinfo when configured; its `sub` must match the ID
   * token's). Throws SidecarError.
   */
  async finishLogin(rawQuery: string, checks: LoginChecks): Promise<LoginResult> {
    const { configuration, idp } = await this.#discovery()
    const { openid } = idp
    // Built on PUBLIC_URL, never on the request's Host: openid-client derives redirect_uri from it.
    const currentUrl = new URL(`${this.#cfg.redirectUri}?${rawQuery}`)
    try {
      const tokens = await openid.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      })
      const claims = tokens.claims()
      if (!claims || tokens.id_token === undefined) throw new SidecarError('LOGIN_FAILED', 'the token response has no ID token')
      await this.#verifySignature(idp, tokens.id_token)
      // openid-client rejects old tokens but not ones from the future (OIDC Core 3.1.3.7 leaves it to us).
      if (claims.iat > Date.now() / 1000 + MAX_CLOCK_SKEW_S) throw new SidecarError('LOGIN_FAILED', `the ID token was issued ${Math.round(claims.iat - Date.now() / 1000)} s in the future: check the clocks of the IdP and this host`)
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
   * Done with jose's remote key set rather than openid-client's non-repudiation
   * mode, whose cache refuses a rotated IdP key for up to 60 s.
   */
  async #verifySignature(idp: IdpModules, idToken: string, retry = true): Promise<void> {
    const { compactVerify, JOSEError } = idp
    try {
      // The signature only: openid-client has checked the claims, with its clock tolerance.
      await compactVerify(idToken, (header, token) => this.#key(idp, header, token), { algorithms: this.#idTokenAlgs })
    } catch (err) {
      // A kid we have not seen: the IdP may have rotated since the last fetch (within the cooldown).
      if (retry && err instanceof JOSEError && err.code === 'ERR_JWKS_NO_MATCHING_KEY') {
        await sleep(JWKS_COOLDOWN_MS)
        return this.#verifySignature(idp, idToken, false)
      }
      if (!(err instanceof JOSEError)) throw toSidecarError(err, 'ID token keys')
      // Failures to fetch the key set are the IdP's; anything else is a bad token.
      if (err.code === 'ERR_JWKS_TIMEOUT') throw new SidecarError('IDP_TIMEOUT', 'ID token keys: the jwks_uri did not answer in time', { cause: err })
      if (err.code === 'ERR_JOSE_GENERIC' || err.code === 'ERR_JWKS_INVALID') throw new SidecarError('IDP_UNAVAILABLE', `ID token keys: ${err.message}`, { cause: err })
      throw new SidecarError('LOGIN_FAILED', `ID token rejected: ${err.message} (${err.code})`, { cause: err })
    }
  }

  /**
   * The key for an ID token, from jose's remote key set, which fetches the set
   * when it has none, when it is older than OIDC_JWKS_REFRESH_SECONDS, or when
   * it lacks the token's kid (an IdP key rotation). Once it is older, a token
   * whose kid it knows is verified with it at once and the set is refetched
   * in the background: so a jwks_uri that fails or hangs while the rest of the
   * IdP works neither stops logins nor makes each wait out the timeout (as
   * go-oidc in oauth2-proxy keeps its keys), for up to a day after the last
   * good fetch. A kid those keys lack still waits for the IdP, and fails with it.
   */
  async #key(idp: IdpModules, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const remote = this.#jwks!
    const fetched = this.#jwksFetched
    if (!remote.fresh && 'uat' in fetched && Date.now() - fetched.uat < JWKS_STALE_MAX_MS) {
      this.#refetchInBackground(idp, remote)
      if (this.#lastKeys?.uat !== fetched.uat) this.#lastKeys = { uat: fetched.uat, set: idp.createLocalJWKSet(fetched.jwks) }
      try {
        return await this.#lastKeys.set(header, token)
      } catch {
        // a kid they lack: ask the IdP now (below)
      }
    }
    return remote(header, token)
  }

  #refetchInBackground(idp: IdpModules, remote: RemoteKeys): void {
    const now = Date.now()
    if (now < this.#nextRefetch) return
    this.#nextRefetch = now + Math.min(JWKS_REFRESH_RETRY_MS, this.#cfg.jwksRefreshMs)
    remote.reload().catch((err: unknown) => {
      this.#onStaleKeys?.(err instanceof idp.JOSEError ? `${err.code}: ${err.message}` : toSidecarError(err, 'ID token keys').message)
    })
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
    if (!this.#hasEndSession) return undefined
    const params: Record<string, string> = { post_logout_redirect_uri: this.#cfg.postLogoutRedirectUri }
    if (idToken !== undefined) params.id_token_hint = idToken
    else params.client_id = this.#cfg.clientId
    return discovered.idp.openid.buildEndSessionUrl(discovered.configuration, params).href
  }


  async close(): Promise<void> {
    this.#closed = true
    await this.#agent?.close()
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'OAUTH_TIMEOUT', 'ETIMEDOUT'])

function causeCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E') || code === 'OAUTH_TIMEOUT')) return code
  }
  return undefined
}

/**
 * Translates openid-client and undici failures into our codes. The detail is
 * for the operator's log and never includes codes, tokens or secrets (only
 * error names, OAuth error codes and openid-client's fixed messages).
 */
export function toSidecarError(err: unknown, step: string): SidecarError {
  if (err instanceof SidecarError) return err
  // Errors of openid-client's classes exist only once it is loaded.
  const openid = idpModules?.openid
  if (openid && err instanceof openid.AuthorizationResponseError) {
    const refused = err.error === 'access_denied' || err.error === 'login_required' || err.error === 'consent_required'
    return new SidecarError(refused ? 'IDP_REFUSED' : 'LOGIN_FAILED', `identity provider answered error=${safe(err.error)}`, { cause: err })
  }
  if (openid && err instanceof openid.ResponseBodyError) {
    if (err.status >= 500) return new SidecarError('IDP_UNAVAILABLE', `${step}: identity provider answered HTTP ${err.status}`, { cause: err })
    return new SidecarError('LOGIN_FAILED', `${step}: identity provider answered ${safe(err.error)} (HTTP ${err.status})`, { cause: err })
  }
  const code = causeCode(err)
  if (code && TIMEOUT_CODES.has(code)) {
    return new SidecarError('IDP_TIMEOUT', `${step}: identity provider did not answer in time (${code})`, { cause: err })
  }
  if (err instanceof TypeError) {
    return new SidecarError('IDP_UNAVAILABLE', `${step}: identity provider unreachable (${code ?? err.message})`, { cause: err })
  }
  if (openid && err instanceof openid.ClientError) {
    // Answers that are not OIDC (HTML error pages, bad JSON, a 5xx) mean the IdP is broken, not the login.
    const broken = ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'].includes(err.code ?? '')
    if (step === 'discovery' || broken) {
      return new SidecarError('IDP_UNAVAILABLE', `${step}: ${err.message} (${err.code ?? 'no code'})`, { cause: err })
    }
    return new SidecarError('LOGIN_FAILED', `${step}: ${err.message} (${err.code ?? 'no code'})`, { cause: err })
  }
  return new SidecarError('INTERNAL', `${step}: ${err instanceof Error ? err.name : typeof err}`, { cause: err })
}

/** An OAuth error code from the IdP, limited to its grammar so nothing else reaches a log. */
function safe(value: string): string {
  return /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(value) ? value : '(unprintable)'
}

