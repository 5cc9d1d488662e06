/**
 * The OpenID Connect relying party, on openid-client: discovery (lazy, shared,
 * retried; a failure is never cached for long), the authorization URL with
 * PKCE/state/nonce, and the code exchange with ID-token validation. All IdP
 * traffic goes through one undici Agent with connect/header/body timeouts.
 */
import * as client from 'openid-client'
import { performance } from 'node:perf_hooks'
import { Agent, fetch as undiciFetch } from 'undici'
import type { OidcConfig } from './config.js'
import { SidecarError } from './errors.js'
import { Metrics } from './metrics.js'
import type { Claims } from './rule.js'

/** After a failed discovery, callers within this window get the same failure instead of a new attempt. */
export const DISCOVERY_RETRY_MS = 2000

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
  readonly #agent: Agent
  readonly #fetch: client.CustomFetch
  #configuration: client.Configuration | undefined
  #pending: Promise<client.Configuration> | undefined
  #lastFailure: { at: number; error: SidecarError } | undefined

  constructor(cfg: OidcConfig, metrics?: Metrics) {
    this.#cfg = cfg
    const t = cfg.timeoutMs
    this.#agent = new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 })
    // undici's fetch and the global one differ only in their TypeScript types.
    this.#fetch = (async (url: string, options: client.CustomFetchOptions) => {
      const started = performance.now()
      let outcome = 'error'
      try {
        const res = await undiciFetch(url, { ...(options as object), dispatcher: this.#agent })
        outcome = res.ok ? 'ok' : 'http_error'
        return res
      } finally {
        const endpoints = this.#configuration?.serverMetadata() as Record<string, string | undefined> | undefined
        metrics?.idpLatency.observe({ operation: Metrics.operationOf(url, endpoints ?? {}), outcome }, (performance.now() - started) / 1000)
      }
    }) as unknown as client.CustomFetch
  }

  /** True once discovery has succeeded. */
  get ready(): boolean {
    return this.#configuration !== undefined
  }

  /** The discovered configuration; discovers on first use and after failures. Throws SidecarError. */
  async configuration(): Promise<client.Configuration> {
    if (this.#configuration) return this.#configuration
    if (this.#lastFailure && Date.now() - this.#lastFailure.at < DISCOVERY_RETRY_MS) throw this.#lastFailure.error
    this.#pending ??= this.#discover().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #discover(): Promise<client.Configuration> {
    const cfg = this.#cfg
    try {
      const configuration = await client.discovery(
        cfg.issuer,
        cfg.clientId,
        { client_secret: cfg.clientSecret },
        client.ClientSecretPost(cfg.clientSecret),
        {
          [client.customFetch]: this.#fetch,
          timeout: Math.ceil(cfg.timeoutMs / 1000),
          execute: cfg.allowHttp && cfg.issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        },
      )
      this.#configuration = configuration
      this.#lastFailure = undefined
      return configuration
    } catch (err) {
      const error = toSidecarError(err, 'discovery')
      this.#lastFailure = { at: Date.now(), error }
      throw error
    }
  }

  /** A fresh authorization request. Throws SidecarError when the IdP cannot be reached. */
  async startLogin(): Promise<LoginStart> {
    const configuration = await this.configuration()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#cfg.redirectUri,
      scope: this.#cfg.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url: url.href, state, nonce, verifier }
  }

  /**
   * Completes a login from the callback's raw query string: checks state and
   * `iss` (RFC 9207), exchanges the code with the PKCE verifier and validates
   * the ID token (signature, issuer, audience, expiry, nonce). Returns the
   * claims (with userinfo when configured; its `sub` must match the ID
   * token's). Throws SidecarError.
   */
  async finishLogin(rawQuery: string, checks: LoginChecks): Promise<LoginResult> {
    const configuration = await this.configuration()
    // Built on PUBLIC_URL, never on the request's Host: openid-client derives redirect_uri from it.
    const currentUrl = new URL(`${this.#cfg.redirectUri}?${rawQuery}`)
    try {
      const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      })
      const claims = tokens.claims()
      if (!claims || tokens.id_token === undefined) throw new SidecarError('LOGIN_FAILED', 'the token response has no ID token')
      if (!this.#cfg.userinfo) return { claims, idToken: tokens.id_token }
      const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub)
      return { claims: { ...userinfo, ...claims }, idToken: tokens.id_token }
    } catch (err) {
      throw toSidecarError(err, this.#cfg.userinfo ? 'code exchange or userinfo' : 'code exchange')
    }
  }

  /**
   * The IdP's RP-initiated logout URL (OpenID Connect RP-Initiated Logout),
   * or undefined when the IdP publishes no end_session_endpoint or cannot be
   * reached. Without an ID token the client_id identifies us.
   */
  async endSessionUrl(idToken: string | undefined): Promise<string | undefined> {
    let configuration: client.Configuration
    try {
      configuration = await this.configuration()
    } catch {
      return undefined
    }
    if (!configuration.serverMetadata().end_session_endpoint) return undefined
    const params: Record<string, string> = { post_logout_redirect_uri: this.#cfg.postLogoutRedirectUri }
    if (idToken !== undefined) params.id_token_hint = idToken
    else params.client_id = this.#cfg.clientId
    return client.buildEndSessionUrl(configuration, params).href
  }

  async close(): Promise<void> {
    await this.#agent.close()
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
  if (err instanceof client.AuthorizationResponseError) {
    const refused = err.error === 'access_denied' || err.error === 'login_required' || err.error === 'consent_required'
    return new SidecarError(refused ? 'IDP_REFUSED' : 'LOGIN_FAILED', `identity provider answered error=${safe(err.error)}`, { cause: err })
  }
  if (err instanceof client.ResponseBodyError) {
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
  if (err instanceof client.ClientError) {
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
