/**
 * OpenID Connect Front-Channel Logout 1.0: `PATH_PREFIX` + `frontchannel-logout`,
 * loaded by the IdP in an iframe when a person signs out there. With `iss`
 * (ours) and `sid`, that IdP session is revoked on every replica, whether or
 * not the iframe carries our cookies (browsers often withhold them from
 * third-party frames); a session cookie that does come along is cleared too.
 * The answer is a page the IdP's origin may frame.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { failure } from '../http/respond.js'
import { parseCookies } from './cookies.js'
import type { SignInDeps } from './deps.js'

export async function frontchannelLogoutEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const params = new URLSearchParams(query)
  const iss = params.get('iss')
  const sid = params.get('sid')
  const frameAncestor = d.auth.oidc.issuer.origin
  let ours: boolean
  try {
    // Compared with the issuer of the discovery document, as the IdP writes it in its tokens.
    ours = iss !== null && (await d.oidc.isIssuer(iss))
  } catch (err) {
    return d.responder.respond(req, res, failure(err, { frameAncestor }))
  }
  if (!ours || sid === null || sid === '' || sid.length > 256) {
    return d.responder.respond(req, res, { code: 'BAD_REQUEST', detail: `front-channel logout without our iss and a sid (iss ${JSON.stringify(iss?.slice(0, 200) ?? null)})`, frameAncestor })
  }
  d.revocations.revoke({ sid, at: Date.now() })
  d.log.info({ event: 'idp_logout', channel: 'front' }, 'the identity provider ended a session (front-channel logout)')
  const cookies = parseCookies(req.headers.cookie)
  const c = d.cookies
  const setCookies = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
  d.responder.respond(req, res, { code: 'SIGNED_OUT', setCookies, frameAncestor, nextUrl: `${d.config.publicOrigin}/` })
}
