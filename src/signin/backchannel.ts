/**
 * OpenID Connect Back-Channel Logout 1.0: `PATH_PREFIX` + `backchannel-logout`.
 * The IdP posts a logout token (form field `logout_token`) when a session
 * ends there; once it is validated (oidc/logout-token.ts) the IdP session
 * (`sid`), or every session of the subject that began before the token was
 * issued (`sub` alone), is revoked on every replica. 200 when done, 400 when
 * the token does not hold, as the spec asks; no cookies are involved.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readForm } from '../http/form.js'
import { failure } from '../http/respond.js'
import type { SignInDeps } from './deps.js'

export async function backchannelLogoutEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = (await readForm(req, 16_384))?.get('logout_token')
  if (!token) return d.responder.respond(req, res, { code: 'BAD_REQUEST', detail: 'back-channel logout without a logout_token form field' })
  let claims
  try {
    claims = await d.oidc.verifyLogoutToken(token)
  } catch (err) {
    return d.responder.respond(req, res, failure(err))
  }
  // With a sid, that IdP session alone; without, all of the subject's sessions from before the logout.
  // When we heard of it, not the token's iat: the IdP's clock may run ahead of ours, and a sign-in
  // after this moment is a new session the logout cannot have meant.
  const at = Date.now()
  d.revocations.revoke(claims.sid !== undefined ? { sid: claims.sid, at } : { sub: claims.sub, at })
  d.log.info({ event: 'idp_logout', channel: 'back', bySid: claims.sid !== undefined }, 'the identity provider ended a session (back-channel logout)')
  res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' })
  res.end()
}
