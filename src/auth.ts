/**
 * The sign-in flow: the gate in front of room pages, and the login and
 * callback endpoints. Small async handlers that call the pure pieces (rooms,
 * token claims, rules) and do the I/O (cookies, IdP, redirects, pages).
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthConfig, Config } from './config.js'
import { ERRORS, SidecarError, isSidecarError, type ErrorCode } from './errors.js'
import { redactUrl, type Logger } from './log.js'
import type { OidcClient } from './oidc.js'
import { PAGE_HEADERS, pageStatus, renderPage, type PageName } from './pages.js'
import { isValidName, jwtParam, nameToSegment, roomClaim, roomUrl, stripJwtParam } from './rooms.js'
import { RuleEvaluationError } from './rule.js'
import { CookieCodec, MAX_COOKIE_VALUE, MAX_PARALLEL_LOGINS, TX_TTL_SECONDS, parseCookies, type LoginTransaction } from './session.js'
import type { TokenSigner } from './token.js'
import { isRsa, type KeyStore } from './keys.js'
import { userFromClaims } from './token.js'

/** Prosody's key file name: lowercase hex SHA-256 of the kid, `.pem`. */
const ASAP_FILE = /^([0-9a-f]{64})\.pem$/

/** Longest room URL (without token) we carry through a login; the transaction cookie must stay under 4 KB. */
export const MAX_RETURN_URL = 2048

/** Where a person goes after signing in. */
interface Target {
  /** Path segments, as in the URL (see RequestClass). */
  readonly room: string
  readonly tenant: string | undefined
  /** Raw query to keep, without `jwt`. */
  readonly query: string
}

export interface AuthDeps {
  readonly config: Config
  readonly auth: AuthConfig
  readonly oidc: OidcClient
  readonly signer: TokenSigner
  readonly keys: KeyStore
  readonly cookies: CookieCodec
  readonly log: Logger
}

export class AuthFlow {
  readonly #d: AuthDeps

  constructor(deps: AuthDeps) {
    this.#d = deps
  }

  /**
   * A room page load. Returns false when the request should go to jitsi-web
   * as it is (it carries a usable token of ours); otherwise answers it.
   */
  async room(req: IncomingMessage, res: ServerResponse, room: string, tenant: string | undefined, query: string): Promise<boolean> {
    const claimRoom = roomClaim(room)
    const jwt = query === '' ? undefined : jwtParam(query)
    if (jwt !== undefined && (await this.#d.signer.isUsableFor(jwt, claimRoom))) return false
    await this.#enter(req, res, { room, tenant, query: stripJwtParam(query) })
    return true
  }

  /** `PATH_PREFIX` + name. */
  async endpoint(req: IncomingMessage, res: ServerResponse, name: string, query: string): Promise<void> {
    switch (name) {
      case 'login':
        return this.#login(req, res, query)
      case 'callback':
        return this.#callback(req, res, query)
      case 'jwks.json':
        return this.#publicKeys(req, res, undefined)
      default:
        if (name.startsWith('asap/')) return this.#publicKeys(req, res, name.slice(5))
        return this.page(req, res, 'NOT_FOUND')
    }
  }

  /**
   * The ASAP key server (`asap/<hex sha256(kid)>.pem`, fetched by Prosody)
   * and the JWKS (`jwks.json`, `file` undefined). Public, unauthenticated,
   * and absent (404) with a shared secret: no key material is ever exposed.
   */
  #publicKeys(req: IncomingMessage, res: ServerResponse, file: string | undefined): void {
    if (!isRsa(this.#d.auth.jwt.alg)) return this.page(req, res, 'NOT_FOUND')
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET, HEAD' })
    let body: string
    let type: string
    if (file === undefined) {
      body = this.#d.keys.jwksJson
      type = 'application/jwk-set+json'
    } else {
      const m = ASAP_FILE.exec(file)
      const key = m ? this.#d.keys.byKidHash(m[1] as string) : undefined
      if (!key) return this.page(req, res, 'NOT_FOUND')
      body = key.pem
      type = 'application/x-pem-file'
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': String(Buffer.byteLength(body)),
      // A kid never changes its key, but the set of keys does: cache briefly.
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  /** Fresh token straight away with a session; otherwise off to the IdP. */
  async #enter(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
    const cookies = parseCookies(req.headers.cookie)
    const session = await this.#d.cookies.openSession(cookies.get(this.#d.cookies.sessionName))
    if (session) {
      const token = await this.#d.signer.mint(session.user, roomClaim(target.room))
      return redirect(res, this.#roomUrl(target, token), [])
    }
    return this.#startLogin(req, res, target, cookies)
  }

  async #login(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET, HEAD' })
    const params = new URLSearchParams(query)
    const room = params.get('room')
    const tenant = params.get('tenant') ?? undefined
    if (room === null || !isValidName(room) || (tenant !== undefined && !isValidName(tenant))) {
      return this.page(req, res, 'BAD_REQUEST', { detail: 'login: missing or invalid room' })
    }
    return this.#enter(req, res, { room: nameToSegment(room), tenant: tenant === undefined ? undefined : nameToSegment(tenant), query: '' })
  }

  async #startLogin(req: IncomingMessage, res: ServerResponse, target: Target, cookies: Map<string, string>): Promise<void> {
    const back = this.#roomUrl(target)
    if (back.length > MAX_RETURN_URL) return this.page(req, res, 'URL_TOO_LONG', { detail: `return URL of ${back.length} characters` })
    let start
    try {
      start = await this.#d.oidc.startLogin()
    } catch (err) {
      return this.fail(req, res, err, back)
    }
    const tx: LoginTransaction = { state: start.state, nonce: start.nonce, verifier: start.verifier, room: target.room, query: target.query, ...(target.tenant === undefined ? {} : { tenant: target.tenant }) }
    const c = this.#d.cookies
    const sealed = await c.sealTransaction(tx)
    // Browsers drop larger cookies, and the login could never finish.
    if (sealed.length > MAX_COOKIE_VALUE - 64) return this.page(req, res, 'URL_TOO_LONG', { detail: `login transaction of ${sealed.length} bytes` })
    const setCookies = [c.setCookie(c.txName(start.state), sealed, TX_TTL_SECONDS)]
    setCookies.push(...(await this.#pruneTransactions(cookies)))
    // A session cookie that did not open is stale or forged: drop it.
    if (cookies.has(c.sessionName)) setCookies.push(c.clearCookie(c.sessionName))
    this.#d.log.info({ event: 'login_started', room: target.room, tenant: target.tenant }, 'login started')
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
    if (req.method !== 'GET') return this.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET' })
    const c = this.#d.cookies
    const state = new URLSearchParams(query).get('state')
    if (state === null || state.length === 0 || state.length > 256) {
      return this.page(req, res, 'LOGIN_STATE_INVALID', { detail: 'callback without state' })
    }
    const txName = c.txName(state)
    const cookies = parseCookies(req.headers.cookie)
    const tx = await c.openTransaction(cookies.get(txName))
    // The transaction is single-use: cleared whatever happens next.
    const clearTx = cookies.has(txName) ? [c.clearCookie(txName)] : []
    if (!tx || tx.state !== state) {
      const detail = cookies.has(txName) ? 'transaction cookie invalid or expired' : 'no transaction cookie for this state'
      return this.page(req, res, 'LOGIN_STATE_INVALID', { detail, setCookies: clearTx })
    }
    const target: Target = { room: tx.room, tenant: tx.tenant, query: tx.query }
    let claims
    try {
      claims = await this.#d.oidc.finishLogin(query, tx)
    } catch (err) {
      return this.fail(req, res, err, this.#roomUrl(target), clearTx)
    }
    const user = userFromClaims(claims, this.#d.auth.jwt)
    let allowed = false
    let ruleError: string | undefined
    try {
      allowed = this.#d.auth.useRule.evaluate(claims)
    } catch (err) {
      if (!(err instanceof RuleEvaluationError)) throw err
      ruleError = err.message
    }
    const requestId = randomUUID()
    this.#d.log.info(
      { event: allowed ? 'login_succeeded' : 'login_denied', requestId, user: user.id, rule: this.#d.auth.useRule.source, ruleResult: allowed, ruleError },
      allowed ? 'login succeeded' : 'login denied by USE_RULE',
    )
    if (!allowed) {
      const clearSession = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
      return this.page(req, res, 'ACCESS_DENIED', { setCookies: [...clearTx, ...clearSession], requestId })
    }
    const ttl = this.#d.auth.cookie.sessionTtlSeconds
    const session = c.setCookie(c.sessionName, await c.sealSession({ user }, ttl), ttl)
    const token = await this.#d.signer.mint(user, roomClaim(target.room))
    return redirect(res, this.#roomUrl(target, token), [...clearTx, session])
  }

  #roomUrl(target: Target, jwt?: string): string {
    return roomUrl(this.#d.config.publicOrigin, target.room, target.tenant, target.query, jwt)
  }

  /** Answers with the page for an error, logging it with its code and a request id. */
  fail(req: IncomingMessage, res: ServerResponse, err: unknown, nextUrl?: string, setCookies?: string[]): void {
    const e = isSidecarError(err) ? err : new SidecarError('INTERNAL', err instanceof Error ? err.name : 'error', { cause: err })
    this.page(req, res, e.code, { nextUrl, detail: e.detail, setCookies })
  }

  /**
   * Sends the page `name` and logs one line with the request id shown on it,
   * unless the caller logged the outcome itself under `requestId`.
   */
  page(req: IncomingMessage, res: ServerResponse, name: PageName, opts: PageReply = {}): void {
    const requestId = opts.requestId ?? randomUUID()
    if (opts.requestId === undefined && name !== 'SIGNED_OUT') {
      const level = ERRORS[name as ErrorCode].level
      this.#d.log[level]({ event: 'request_failed', code: name, requestId, method: req.method, url: redactUrl(req.url ?? ''), detail: opts.detail }, opts.detail ?? name)
    }
    if (opts.allow !== undefined && !res.headersSent) res.setHeader('allow', opts.allow)
    sendPage(res, name, this.#d.config, requestId, opts.nextUrl ?? `${this.#d.config.publicOrigin}/`, opts.setCookies)
  }
}

export interface PageReply {
  /** Same-origin link for the page's next step. */
  readonly nextUrl?: string | undefined
  /** Operator detail for the log line; never shown. */
  readonly detail?: string | undefined
  readonly setCookies?: string[] | undefined
  /** Set when the caller already logged the outcome with this id. */
  readonly requestId?: string | undefined
  /** The Allow header of a 405. */
  readonly allow?: string | undefined
}

/** Writes one of our pages (when the response can still take one). */
export function sendPage(res: ServerResponse, name: PageName, config: Config, requestId: string, nextUrl: string | undefined, setCookies: string[] = []): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const html = renderPage(name, { site: config.publicHost, requestId, ...(nextUrl === undefined ? {} : { nextUrl }) })
  const headers: Record<string, string | string[]> = { ...PAGE_HEADERS, 'content-length': String(Buffer.byteLength(html)) }
  if (setCookies.length > 0) headers['set-cookie'] = setCookies
  res.writeHead(pageStatus(name), headers)
  res.end(res.req.method === 'HEAD' ? undefined : html)
}

function redirect(res: ServerResponse, location: string, setCookies: string[]): void {
  const headers: Record<string, string | string[]> = {
    location,
    'cache-control': 'no-store',
    // The location may carry a token: keep it out of Referer headers.
    'referrer-policy': 'no-referrer',
    'content-length': '0',
  }
  if (setCookies.length > 0) headers['set-cookie'] = setCookies
  res.writeHead(302, headers)
  res.end()
}
