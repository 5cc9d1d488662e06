/**
 * Starting a login: the transaction cookie (state, nonce, PKCE verifier and
 * where to return) and the redirect to the IdP. Also Jitsi's TOKEN_AUTH_URL
 * (`login`), which leads into a room with a token, signing in first if needed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { failure, redirect } from '../http/respond.js'
import { targetUrl, type ReturnTarget } from '../rooms/target.js'
import { MAX_PARALLEL_LOGINS, MAX_SEALED_COOKIE, TX_TTL_SECONDS, parseCookies, type LoginTransaction } from './cookies.js'
import { MAX_RETURN_URL, decideRoom, loginTarget } from './decide.js'
import { currentSession, sendToRoom, type SignInDeps } from './deps.js'
import { sealReturn } from './return-state.js'

/** `PATH_PREFIX` + `login`. */
export async function loginEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const params = new URLSearchParams(query)
  const found = loginTarget(params, d.auth.pathPrefix, d.config.publicHost)
  if (typeof found === 'string') return d.responder.respond(req, res, { code: 'BAD_REQUEST', detail: found })
  // Jitsi's inline sign-in appends `&nonce=` to TOKEN_AUTH_URL in its popup (and only there).
  const target = params.has('nonce') ? { ...found, inline: true as const } : found
  const cookies = parseCookies(req.headers.cookie)
  // `prompt=login`: another account (after Access denied): whatever session there is does not count.
  const another = params.get('prompt') === 'login'
  const decision = decideRoom({ tokenUsable: false, session: another ? undefined : await currentSession(d, cookies), guestsPass: false })
  if (decision.kind === 'mint') return sendToRoom(d, req, res, decision.session, target)
  return startLogin(d, req, res, target, cookies, another ? { prompt: 'login' } : {})
}

export interface StartOptions {
  /** Ask the IdP for a new sign-in (another account). */
  readonly prompt?: 'login'
  /** The sidecar restarts a login whose callback lost its transaction (see callback.ts). */
  readonly again?: boolean
  /** Cookies to set with the redirect (the spent transaction's clearing). */
  readonly setCookies?: readonly string[]
}

export async function startLogin(d: SignInDeps, req: IncomingMessage, res: ServerResponse, target: ReturnTarget, cookies: ReadonlyMap<string, string>, opts: StartOptions = {}): Promise<void> {
  const back = targetUrl(d.config.publicOrigin, target)
  if (back.length > MAX_RETURN_URL) return d.responder.respond(req, res, { code: 'URL_TOO_LONG', detail: `return URL of ${back.length} characters` })
  let start
  try {
    start = await d.oidc.startLogin({ ...(opts.prompt ? { prompt: opts.prompt } : {}), state: await sealReturn(d.cookies, target, opts.again) })
  } catch (err) {
    return d.responder.respond(req, res, failure(err, { nextUrl: back, signIn: true }))
  }
  const tx: LoginTransaction = { state: start.state, nonce: start.nonce, verifier: start.verifier, ...target }
  const c = d.cookies
  const sealed = await c.sealTransaction(tx)
  // Browsers drop larger cookies, and the login could never finish.
  if (sealed.length > MAX_SEALED_COOKIE) return d.responder.respond(req, res, { code: 'URL_TOO_LONG', detail: `login transaction of ${sealed.length} bytes` })
  const setCookies = [...(opts.setCookies ?? []), c.setCookie(c.txName(start.state), sealed, TX_TTL_SECONDS), ...(await pruneTransactions(d, cookies))]
  // A session cookie that did not open is stale or forged: drop it.
  if (cookies.has(c.sessionName)) setCookies.push(c.clearCookie(c.sessionName))
  d.log.info({ event: 'login_started', room: target.room, tenant: target.tenant, ...(opts.again ? { restarted: true } : {}) }, opts.again ? 'login restarted' : 'login started')
  d.metrics?.logins.inc({ outcome: 'started', reason: '' })
  return redirect(res, start.url, setCookies)
}

/**
 * Keeps at most MAX_PARALLEL_LOGINS transactions per browser (the one being
 * started included): clears cookies that do not open and the oldest ones.
 */
async function pruneTransactions(d: SignInDeps, cookies: ReadonlyMap<string, string>): Promise<string[]> {
  const c = d.cookies
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
