/**
 * What the sign-in handlers share: their dependencies, the session a request
 * carries, and the way into a room with a fresh token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthConfig, Config } from '../config/load.js'
import type { Logger } from '../ops/log.js'
import type { Metrics } from '../ops/metrics.js'
import type { OidcClient } from '../oidc/client.js'
import { redirect, type Responder } from '../http/respond.js'
import { TOKEN_PAGE_HEADERS, renderTokenPage } from '../pages/post-message.js'
import { targetUrl, type ReturnTarget } from '../rooms/target.js'
import type { TokenSigner } from '../token/sign.js'
import type { CookieCodec, Session } from './cookies.js'
import type { Revocations } from './revocations.js'

export interface SignInDeps {
  readonly config: Config
  readonly auth: AuthConfig
  readonly oidc: OidcClient
  readonly signer: TokenSigner
  readonly cookies: CookieCodec
  /** Sessions the IdP ended (front- and back-channel logout). */
  readonly revocations: Revocations
  readonly responder: Responder
  readonly metrics?: Metrics | undefined
  readonly log: Logger
}

/** The session in the request's cookies, if it opens, was made under the current rules and the IdP has not ended it. */
export async function currentSession(d: SignInDeps, cookies: ReadonlyMap<string, string>): Promise<Session | undefined> {
  const session = await d.cookies.openSession(cookies.get(d.cookies.sessionName))
  return session?.policy === d.auth.policy && !d.revocations.isRevoked(session) ? session : undefined
}

/** A fresh token for the target, and there: a redirect, the desktop app's page, or the inline sign-in's page. */
export async function sendToRoom(d: SignInDeps, req: IncomingMessage, res: ServerResponse, session: Session, target: ReturnTarget, setCookies: readonly string[] = []): Promise<void> {
  const token = await d.signer.mint(session.identity, target.room, target.tenant)
  const { publicOrigin, publicHost } = d.config
  const url = targetUrl(publicOrigin, target, token)
  if (target.inline) {
    res.writeHead(200, { ...TOKEN_PAGE_HEADERS, ...(setCookies.length > 0 ? { 'set-cookie': [...setCookies] } : {}) })
    res.end(req.method === 'HEAD' ? undefined : renderTokenPage(publicOrigin, token, url))
    return
  }
  if (target.electron) {
    // The desktop app registered jitsi-meet://; the host is PUBLIC_URL's, never the request's.
    return d.responder.respond(req, res, { code: 'OPEN_APP', nextUrl: `jitsi-meet://${publicHost}${url.slice(publicOrigin.length)}`, setCookies })
  }
  if (d.auth.jwt.delivery === 'query') return redirect(res, url, setCookies)
  // In the fragment the token never reaches a server, so the room load that follows carries none:
  // a sealed, room-bound cookie lets that one load through (see gate.ts), instead of a redirect loop.
  const pass = await d.cookies.seal('pass', { room: target.room, ...(target.tenant === undefined ? {} : { tenant: target.tenant }) }, PASS_TTL_SECONDS)
  return redirect(res, targetUrl(publicOrigin, target, token, 'fragment'), [...setCookies, d.cookies.setCookie(d.cookies.passName, pass, PASS_TTL_SECONDS)])
}

/** How long the one room load after a fragment redirect may take to arrive. */
export const PASS_TTL_SECONDS = 30

/** Whether the request's pass cookie lets this room load through once (JWT_DELIVERY=fragment). */
export async function passFor(d: SignInDeps, cookies: ReadonlyMap<string, string>, room: string, tenant: string | undefined): Promise<boolean> {
  const value = cookies.get(d.cookies.passName)
  if (value === undefined) return false
  const p = await d.cookies.open('pass', value)
  return p !== undefined && p.room === room && p.tenant === tenant
}

