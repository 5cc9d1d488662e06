/**
 * `PATH_PREFIX` + `logout`: clears the session and, when the IdP publishes an
 * end_session_endpoint, continues with RP-initiated logout there. Only a
 * same-origin POST, or a request carrying the session's anti-forgery value,
 * signs anyone out: a third-party page cannot. A plain GET (a typed or
 * linked address) gets a confirmation page whose button makes that POST.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readForm } from '../http/form.js'
import { redirect } from '../http/respond.js'
import { parseCookies, type Session } from './cookies.js'
import { decideLogout } from './decide.js'
import type { SignInDeps } from './deps.js'

export async function logoutEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const { responder: r, cookies: c } = d
  const cookies = parseCookies(req.headers.cookie)
  const session = await c.openSession(cookies.get(c.sessionName))
  const clear = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
  const post = req.method === 'POST'
  const csrf = session === undefined ? null : post ? (await readForm(req))?.get('csrf') : new URLSearchParams(query).get('csrf')
  const decision = decideLogout({
    signedIn: session !== undefined,
    post,
    sameOrigin: post && sameOrigin(d, req),
    csrfValid: session !== undefined && c.checkLogoutToken(session.sid, csrf),
  })
  switch (decision) {
    case 'already-out':
      return r.respond(req, res, { code: 'SIGNED_OUT', setCookies: clear })
    case 'refuse':
      return r.respond(req, res, { code: 'LOGOUT_REFUSED', detail: `cross-site logout POST (Origin ${JSON.stringify(req.headers.origin ?? null)})` })
    case 'confirm':
      // The button's POST is answered with a redirect to the IdP's end_session_endpoint, and from
      // there perhaps on through other IdPs: the page's CSP must let the whole chain through.
      return r.respond(req, res, {
        code: 'LOGOUT_CONFIRM',
        nextUrl: `${d.config.publicOrigin}${d.auth.pathPrefix}logout`,
        postFields: { csrf: c.logoutToken((session as Session).sid) },
        formLeavesSite: true,
      })
    case 'sign-out': {
      const { identity, idToken } = session as Session
      d.log.info({ event: 'logout', user: identity.user.id }, 'signed out')
      const end = await d.oidc.endSessionUrl(idToken)
      if (end !== undefined) return redirect(res, end, clear)
      return r.respond(req, res, { code: 'SIGNED_OUT', setCookies: clear })
    }
  }
}

/** A POST from our own pages: Origin is PUBLIC_URL's (or, without Origin, fetch metadata says same-origin). */
function sameOrigin(d: SignInDeps, req: IncomingMessage): boolean {
  const origin = req.headers.origin
  if (origin !== undefined) return origin === d.config.publicOrigin
  return req.headers['sec-fetch-site'] === 'same-origin'
}
