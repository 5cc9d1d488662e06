/**
 * `PATH_PREFIX` + `logout`: clears the session and, when the IdP publishes an
 * end_session_endpoint, continues with RP-initiated logout there. Only a
 * request from our own pages or the person (see decideLogout), or one carrying
 * the session's anti-forgery value, signs anyone out: a third-party page
 * cannot; a link from elsewhere gets a confirmation page whose button makes a
 * same-origin POST. Every sign-out ends on our signed-out page, except Jitsi's
 * silent one (tokenLogoutUrl in a hidden iframe), which ends on the page that
 * tells the meeting page it is done.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readForm } from '../http/form.js'
import { LOGOUT_PAGE_HEADERS, renderLogoutPage } from '../pages/post-message.js'
import { redirect } from '../http/respond.js'
import { parseCookies, type Session } from './cookies.js'
import { roomTarget, targetUrl, type ReturnTarget } from '../rooms/target.js'
import { decideLogout, fromOurPagesOrThePerson } from './decide.js'
import type { SignInDeps } from './deps.js'
import { openReturn, sealReturn } from './return-state.js'

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
    fromUs: fromOurPagesOrThePerson({ post, origin: req.headers.origin, fetchSite: req.headers['sec-fetch-site'], publicOrigin: d.config.publicOrigin }),
    csrfValid: session !== undefined && c.checkLogoutToken(session.sid, csrf),
  })
  // Jitsi's tokenLogoutUrl in a hidden iframe of the meeting page: no IdP (it would refuse to be
  // framed), just our session and the message Jitsi waits for. Same-origin only, as decideLogout
  // and the page's frame-ancestors 'self' see to: a page of another site cannot sign anyone out.
  if (req.headers['sec-fetch-dest'] === 'iframe' && (decision === 'sign-out' || decision === 'already-out')) {
    if (decision === 'sign-out') d.log.info({ event: 'logout', user: (session as Session).identity.user.id, silent: true }, 'signed out (silently, for Jitsi)')
    res.writeHead(200, { ...LOGOUT_PAGE_HEADERS, ...(clear.length > 0 ? { 'set-cookie': clear } : {}) })
    res.end(req.method === 'HEAD' ? undefined : renderLogoutPage(d.config.publicOrigin))
    return
  }
  switch (decision) {
    case 'already-out':
      return r.respond(req, res, { code: 'SIGNED_OUT', setCookies: clear, nextUrl: `${d.config.publicOrigin}/` })
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
      const { identity, idToken, room } = session as Session
      d.log.info({ event: 'logout', user: identity.user.id }, 'signed out')
      // The IdP sends the person to our signed-out page with this state: "Sign in again" to the room.
      const end = await d.oidc.endSessionUrl(idToken, room ? await sealReturn(c, room) : undefined)
      if (end !== undefined) return redirect(res, end, clear)
      return r.respond(req, res, { code: 'SIGNED_OUT', setCookies: clear, nextUrl: signInAgain(d, room && roomTarget(room)) })
    }
  }
}

/**
 * `PATH_PREFIX` + `signed-out`: where the IdP's logout ends (the post_logout_redirect_uri), with
 * the state the logout gave it: our page, its "Sign in again" leading to the room.
 */
export async function signedOutEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const back = await openReturn(d.cookies, new URLSearchParams(query).get('state'), d.auth.pathPrefix)
  return d.responder.respond(req, res, { code: 'SIGNED_OUT', nextUrl: signInAgain(d, back?.target) })
}

/** The room to sign in again to; the site's start page when none is known. */
function signInAgain(d: SignInDeps, target: ReturnTarget | undefined): string {
  return target ? targetUrl(d.config.publicOrigin, target) : `${d.config.publicOrigin}/`
}
