/**
 * `PATH_PREFIX` + `logout`: clears the session and, when the IdP publishes an
 * end_session_endpoint, continues with RP-initiated logout there. Only a
 * same-origin POST, or a request carrying the session's anti-forgery value,
 * signs anyone out: a third-party page cannot. A plain GET (a typed or
 * linked address) gets a confirmation page whose button makes that POST.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthDeps } from './flow.js'
import { readForm, redirect } from '../http/reply.js'
import { parseCookies } from './cookies.js'

export class Logout {
  readonly #d: AuthDeps

  constructor(deps: AuthDeps) {
    this.#d = deps
  }

  async handle(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    const r = this.#d.replies
    const c = this.#d.cookies
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return r.page(req, res, 'METHOD_NOT_ALLOWED', { allow: 'GET, HEAD, POST' })
    const cookies = parseCookies(req.headers.cookie)
    const session = await c.openSession(cookies.get(c.sessionName))
    const clear = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
    const action = `${this.#d.config.publicOrigin}${this.#d.auth.pathPrefix}logout`
    if (!session) return r.page(req, res, 'SIGNED_OUT', { setCookies: clear })

    let allowed: boolean
    if (method === 'POST') {
      const form = await readForm(req)
      allowed = this.#sameOrigin(req) || c.checkLogoutToken(session.sid, form?.get('csrf'))
      if (!allowed) return r.page(req, res, 'LOGOUT_REFUSED', { detail: `cross-site logout POST (Origin ${JSON.stringify(req.headers.origin ?? null)})` })
    } else {
      allowed = c.checkLogoutToken(session.sid, new URLSearchParams(query).get('csrf'))
      if (!allowed) {
        // The button's POST is answered with a redirect to the IdP's end_session_endpoint, and from
        // there perhaps on through other IdPs: the page's CSP must let the whole chain through.
        return r.page(req, res, 'LOGOUT_CONFIRM', { nextUrl: action, postFields: { csrf: c.logoutToken(session.sid) }, formLeavesSite: true })
      }
    }
    this.#d.log.info({ event: 'logout', user: session.identity.user.id }, 'signed out')
    const end = await this.#d.oidc.endSessionUrl(session.idToken)
    if (end !== undefined) return redirect(res, end, clear)
    return r.page(req, res, 'SIGNED_OUT', { setCookies: clear })
  }

  /** A POST from our own pages: Origin is PUBLIC_URL's (or, without Origin, fetch metadata says same-origin). */
  #sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    if (origin !== undefined) return origin === this.#d.config.publicOrigin
    return req.headers['sec-fetch-site'] === 'same-origin'
  }
}
