/**
 * The sign-in flow: the gate in front of room pages, and the login and
 * callback endpoints. Small async handlers that call the pure pieces (rooms,
 * token claims, rules) and do the I/O (cookies, IdP, redirects, pages).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthConfig, Config } from '../config/load.js'
import type { KeyStore } from '../token/keys.js'
import { servePublicKeys } from '../token/keyserver.js'
import type { Logger } from '../ops/log.js'
import type { Metrics } from '../ops/metrics.js'
import { Logout } from './logout.js'
import type { OidcClient } from '../oidc/client.js'
import { SidecarError, isSidecarError } from '../outcomes.js'
import { Replies, redirect } from '../http/reply.js'
import { isRoomTarget, jwtParam, parseJitsiState, roomUrl, segmentOf, stripJwtParam } from '../rooms/classify.js'
import { RuleEvaluationError } from '../identity/rule.js'
import { CookieCodec, MAX_SEALED_COOKIE, MAX_PARALLEL_LOGINS, TX_TTL_SECONDS, parseCookies, type LoginTransaction, type Session } from './cookies.js'
import { identityFromClaims, type TokenSigner } from '../token/sign.js'

/** Longest room URL (without token) we carry through a login; the transaction cookie must stay under 4 KB. */
export const MAX_RETURN_URL = 2048

/** Where a person goes after signing in. */
interface Target {
  /** Path segments, as in the URL (see RequestClass). */
  readonly room: string
  readonly tenant: string | undefined
  /** Raw query to keep, without `jwt`. */
  readonly query: string
  /** Jitsi config overrides to restore in the URL hash, or ''. */
  readonly hash: string
  /** Return through the desktop app's `jitsi-meet://` link. */
  readonly electron: boolean
}

export interface AuthDeps {
  readonly config: Config
  readonly auth: AuthConfig
  readonly oidc: OidcClient
  readonly signer: TokenSigner
  readonly keys: KeyStore
  readonly cookies: CookieCodec
  readonly replies: Replies
  readonly metrics?: Metrics | undefined
  readonly log: Logger
}

export class AuthFlow {
  readonly #d: AuthDeps
  readonly #logout: Logout

  constructor(deps: AuthDeps) {
    this.#d = deps
    this.#logout = new Logout(deps)
  }

  /**
   * A room page load. Returns false when the request should go to jitsi-web
   * as it is (it carries a usable token of ours, or it is a guest and guests
   * are allowed); otherwise answers it.
   */
  async room(req: IncomingMessage, res: ServerResponse, room: string, tenant: string | undefined, query: string): Promise<boolean> {
    const jwt = query === '' ? undefined : jwtParam(query)
    if (jwt !== undefined && (await this.#d.signer.isUsableFor(jwt, room, tenant))) return false
    return this.#enter(req, res, { room, tenant, query: stripJwtParam(query), hash: '', electron: false }, this.#d.auth.guestAccess)
  }

  /**
   * With a session: to the target with a fresh token. Without one: to the
   * IdP, or, when `guestsPass`, nowhere (false: jitsi-web serves it as it is).
   */
  async #enter(req: IncomingMessage, res: ServerResponse, target: Target, guestsPass: boolean): Promise<boolean> {
    const cookies = parseCookies(req.headers.cookie)
    const session = await this.#session(cookies)
    if (session) await this.#mintAndGo(res, session, target, [])
    else if (guestsPass) return false
    else await this.#startLogin(req, res, target, cookies)
    return true
  }

  /** `PATH_PREFIX` + name. */
  async endpoint(req: IncomingMessage, res: ServerResponse, name: string, query: string): Promise<void> {
    switch (name) {
      case 'login':
        return this.#login(req, res, query)
      case 'callback':
        return this.#callback(req, res, query)
      case 'logout':
        return this.#logout.handle(req, res, query)
      default:
        if (name !== 'jwks.json' && !name.startsWith('asap/')) return this.#d.replies.page(req, res, 'NOT_FOUND')
        return servePublicKeys(req, res, name === 'jwks.json' ? undefined : name.slice(5), this.#d.auth.jwt, this.#d.keys, this.#d.replies)
    }
  }

  /**
   * Jitsi's TOKEN_AUTH_URL: `login?room=<room>[&tenant=<tenant>]`, or
   * `login?state=<Jitsi's state JSON>` which also carries the tenant, config
   * overrides and whether the desktop app asked.
   */
  async #login(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const r = this.#d.replies
    if (req.method !== 'GET' && req.method !== 'HEAD') return r.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET, HEAD' })
    const params = new URLSearchParams(query)
    let target: Target | undefined
    const state = params.get('state')
    if (state !== null) {
      const parsed = parseJitsiState(state)
      if (parsed) target = { ...parsed, query: '' }
    } else {
      const room = segmentOf(params.get('room'))
      const tenantParam = params.get('tenant') || undefined // absent or empty: no tenant
      const tenant = tenantParam === undefined ? undefined : segmentOf(tenantParam)
      if (room !== undefined && tenant === undefined && tenantParam !== undefined) target = undefined // a tenant that is no path segment
      else if (room !== undefined) target = { room, tenant, query: '', hash: '', electron: false }
    }
    if (!target || !isRoomTarget(target.room, target.tenant, this.#d.auth.pathPrefix)) {
      return r.page(req, res, 'BAD_REQUEST', { detail: state !== null ? 'login: unusable state' : 'login: missing or invalid room' })
    }
    await this.#enter(req, res, target, false)
  }

  /** The session, if there is one and it was made under the current rules. */
  async #session(cookies: Map<string, string>): Promise<Session | undefined> {
    const session = await this.#d.cookies.openSession(cookies.get(this.#d.cookies.sessionName))
    return session?.policy === this.#d.auth.policy ? session : undefined
  }

  /** A fresh token for the target, and there: a redirect, or the desktop app's page. */
  async #mintAndGo(res: ServerResponse, session: Session, target: Target, setCookies: string[]): Promise<void> {
    const token = await this.#d.signer.mint(session.identity, target.room, target.tenant)
    if (!target.electron) return redirect(res, this.#targetUrl(target, token), setCookies)
    // The desktop app registered jitsi-meet://; the host is PUBLIC_URL's, never the request's.
    const { publicOrigin, publicHost } = this.#d.config
    const appUrl = `jitsi-meet://${publicHost}${this.#targetUrl(target, token).slice(publicOrigin.length)}`
    this.#d.replies.page(res.req, res, 'OPEN_APP', { nextUrl: appUrl, setCookies })
  }

  async #startLogin(req: IncomingMessage, res: ServerResponse, target: Target, cookies: Map<string, string>): Promise<void> {
    const r = this.#d.replies
    const back = this.#targetUrl(target)
    if (back.length > MAX_RETURN_URL) return r.page(req, res, 'URL_TOO_LONG', { detail: `return URL of ${back.length} characters` })
    let start
    try {
      start = await this.#d.oidc.startLogin()
    } catch (err) {
      this.#failed(err)
      return r.fail(req, res, err, back)
    }
    const tx: LoginTransaction = {
      state: start.state, nonce: start.nonce, verifier: start.verifier,
      room: target.room, query: target.query, hash: target.hash, electron: target.electron,
      ...(target.tenant === undefined ? {} : { tenant: target.tenant }),
    }
    const c = this.#d.cookies
    const sealed = await c.sealTransaction(tx)
    // Browsers drop larger cookies, and the login could never finish.
    if (sealed.length > MAX_SEALED_COOKIE) return r.page(req, res, 'URL_TOO_LONG', { detail: `login transaction of ${sealed.length} bytes` })
    const setCookies = [c.setCookie(c.txName(start.state), sealed, TX_TTL_SECONDS)]
    setCookies.push(...(await this.#pruneTransactions(cookies)))
    // A session cookie that did not open is stale or forged: drop it.
    if (cookies.has(c.sessionName)) setCookies.push(c.clearCookie(c.sessionName))
    this.#d.log.info({ event: 'login_started', room: target.room, tenant: target.tenant }, 'login started')
    this.#d.metrics?.logins.inc({ outcome: 'started', reason: '' })
    return redirect(res, start.url, setCookies)
  }

  /**
   * Keeps at most MAX_PARALLEL_LOGINS transactions per browser (the one being
   * started included): clears cookies that do not open and the oldest ones.
   */
  async #pruneTransactions(cookies: Map<string, string>): Promise<string[]> {
    const c = this.#d.cookies
    const live: { name: string; iat: number }[] = []
    const clear: string[] = []
    for (const [name, value] of cookies) {
      if (!name.startsWith(c.txPrefix)) continue
      const tx = await c.openTransaction(value)
      if (tx) live.push({ name, iat: tx.iat })
      else clear.push(name)
    }
    live.sort((a, b) => b.iat - a.iat)
    for (const { name } of live.slice(MAX_PARALLEL_LOGINS - 1)) clear.push(name)
    return clear.map((name) => c.clearCookie(name))
  }

  async #callback(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const r = this.#d.replies
    if (req.method !== 'GET') return r.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET' })
    const c = this.#d.cookies
    const state = new URLSearchParams(query).get('state')
    if (state === null || state.length === 0 || state.length > 256) {
      return r.page(req, res, 'LOGIN_STATE_INVALID', { detail: 'callback without state' })
    }
    const txName = c.txName(state)
    const cookies = parseCookies(req.headers.cookie)
    const tx = await c.openTransaction(cookies.get(txName))
    // The transaction is single-use: cleared whatever happens next.
    const clearTx = cookies.has(txName) ? [c.clearCookie(txName)] : []
    if (!tx || tx.state !== state) {
      const detail = cookies.has(txName) ? 'transaction cookie invalid or expired' : 'no transaction cookie for this state'
      this.#d.metrics?.logins.inc({ outcome: 'failed', reason: 'LOGIN_STATE_INVALID' })
      return r.page(req, res, 'LOGIN_STATE_INVALID', { detail, setCookies: clearTx })
    }
    const target: Target = { room: tx.room, tenant: tx.tenant, query: tx.query, hash: tx.hash, electron: tx.electron }
    let login
    try {
      login = await this.#d.oidc.finishLogin(query, tx)
    } catch (err) {
      this.#failed(err)
      return r.fail(req, res, err, this.#targetUrl(target), clearTx)
    }
    const { claims, idToken } = login
    const auth = this.#d.auth
    const ruleErrors: string[] = []
    let allowed = false
    try {
      allowed = auth.useRule.evaluate(claims)
    } catch (err) {
      if (!(err instanceof RuleEvaluationError)) throw err
      ruleErrors.push(`USE_RULE: ${err.message}`)
    }
    const identity = identityFromClaims(claims, auth.jwt, auth.roles, (rule, err) => ruleErrors.push(`${rule.source}: ${err.message}`))
    const requestId = randomUUID()
    this.#d.metrics?.logins.inc({ outcome: allowed ? 'succeeded' : 'denied', reason: '' })
    this.#d.log.info(
      {
        event: allowed ? 'login_succeeded' : 'login_denied', requestId, user: identity.user.id, rule: auth.useRule.source, ruleResult: allowed,
        moderator: identity.moderator, features: identity.features, ...(ruleErrors.length > 0 ? { ruleErrors } : {}),
      },
      allowed ? 'login succeeded' : 'login denied by USE_RULE',
    )
    if (!allowed) {
      const clearSession = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
      return r.page(req, res, 'ACCESS_DENIED', { setCookies: [...clearTx, ...clearSession], requestId })
    }
    const ttl = auth.cookie.sessionTtlSeconds
    const session: Session = { identity, sid: randomBytes(16).toString('base64url'), policy: auth.policy }
    let sealed = await c.sealSession({ ...session, idToken }, ttl)
    // Large ID tokens (many groups) would push the cookie past what browsers keep.
    if (sealed.length > MAX_SEALED_COOKIE) sealed = await c.sealSession(session, ttl)
    if (sealed.length > MAX_SEALED_COOKIE) {
      return r.fail(req, res, new SidecarError('LOGIN_FAILED', `session of ${sealed.length} bytes does not fit in a cookie (too many features or long claims)`), undefined, clearTx)
    }
    return this.#mintAndGo(res, session, target, [...clearTx, c.setCookie(c.sessionName, sealed, ttl)])
  }

  #targetUrl(target: Target, jwt?: string): string {
    const url = roomUrl(this.#d.config.publicOrigin, target.room, target.tenant, target.query, jwt)
    return target.hash === '' ? url : `${url}#${target.hash}`
  }

  #failed(err: unknown): void {
    this.#d.metrics?.logins.inc({ outcome: 'failed', reason: isSidecarError(err) ? err.code : 'INTERNAL' })
  }
}
