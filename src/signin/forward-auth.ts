/**
 * `PATH_PREFIX` + `auth` (MODE=forward-auth): an ingress or jitsi-web's nginx
 * asks whether a request it is about to serve may go on. Yes (2xx) for
 * anything that is not a room page, and for a room page that carries a
 * usable token or may be entered as a guest. Otherwise the person needs a
 * token: a caller that relays our answer (Traefik, Envoy) gets the redirect
 * itself, to the room with a fresh token or to the IdP; nginx and
 * ingress-nginx get a 401 and send the person to `login?rd=<the room>`
 * (X-Signin-Url says where, for our nginx snippet).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BlockList } from 'node:net'
import { firstHeader, isTrustedPeer } from '../http/headers.js'
import { originalRequest, relaysAnswers } from '../http/original-request.js'
import { classify } from '../rooms/classify.js'
import { targetUrl } from '../rooms/target.js'
import { sendToRoom, type SignInDeps } from './deps.js'
import { gateRoom } from './gate.js'
import { startLogin } from './login.js'

const ANSWER_HEADERS = { 'cache-control': 'no-store', 'content-length': '0' } as const

export async function forwardAuthEndpoint(d: SignInDeps, trusted: BlockList | undefined, req: IncomingMessage, res: ServerResponse, query: string, rest: string): Promise<void> {
  // The headers describe a request only a trusted proxy has seen; from anyone else they mean nothing.
  if (!isTrustedPeer(req.socket.remoteAddress ?? '', trusted)) {
    return d.responder.respond(req, res, { code: 'FORBIDDEN', detail: `forward-auth question from ${req.socket.remoteAddress ?? 'an unknown peer'}, not in TRUSTED_PROXIES` })
  }
  const o = originalRequest(req.method ?? 'GET', rest, query, req.headers)
  if (typeof o === 'string') return d.responder.respond(req, res, { code: 'BAD_REQUEST', detail: `forward-auth: ${o}` })
  const prefix = d.auth.pathPrefix
  const c = classify({ method: o.method, path: o.path, secFetchMode: firstHeader(req, 'sec-fetch-mode'), accept: firstHeader(req, 'accept') }, prefix)
  if (c.kind !== 'room') return allow(res)
  const { decision, target, cookies } = await gateRoom(d, req, c.room, c.tenant, o.query)
  if (decision.kind === 'pass') return allow(res)
  if (relaysAnswers(o.caller)) {
    return decision.kind === 'mint' ? sendToRoom(d, req, res, decision.session, target) : startLogin(d, req, res, target, cookies)
  }
  // nginx's own snippet follows X-Signin-Url; ingress-nginx goes to its auth-signin URL, our login.
  let next: string | undefined
  if (o.caller === 'nginx') {
    next = decision.kind === 'mint'
      ? targetUrl(d.config.publicOrigin, target, await d.signer.mint(decision.session.identity, target.room, target.tenant))
      : `${d.config.publicOrigin}${prefix}login?rd=${encodeURIComponent(targetUrl('', target))}`
  }
  res.writeHead(401, { ...ANSWER_HEADERS, ...(next === undefined ? {} : { 'x-signin-url': next }) })
  res.end()
}

function allow(res: ServerResponse): void {
  res.writeHead(200, ANSWER_HEADERS)
  res.end()
}
