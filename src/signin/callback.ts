/**
 * `PATH_PREFIX` + `callback`: the IdP's answer. The transaction cookie named
 * by `state` is single-use; the code is exchanged and the ID token checked by
 * openid-client; USE_RULE decides; the session cookie is set and the person
 * sent to the room with a token. A login counts as succeeded only then. A
 * callback without its transaction recovers through the room the state
 * carries (return-state.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { failure } from '../http/respond.js'
import { admit, type Identity } from '../identity/claims.js'
import type { Claims } from '../identity/rule.js'
import { targetUrl, type ReturnTarget } from '../rooms/target.js'
import { MAX_SEALED_COOKIE, parseCookies, type Session } from './cookies.js'
import { decideCallback } from './decide.js'
import { currentSession, sendToRoom, type SignInDeps } from './deps.js'
import { startLogin } from './login.js'
import { openReturn } from './return-state.js'

/** Entra ID's group overage: too many groups for the token, only a pointer to Graph instead. */
function overage(claims: Claims): { groupsOverage?: true } {
  const names = claims._claim_names
  return typeof names === 'object' && names !== null && 'groups' in names ? { groupsOverage: true } : {}
}

/** `login`'s query for the same room with another account. */
function switchAccountQuery(target: ReturnTarget): string {
  const q = new URLSearchParams({ room: decodeURIComponent(target.room), prompt: 'login' })
  if (target.tenant !== undefined) q.set('tenant', decodeURIComponent(target.tenant))
  return q.toString()
}

/** Who the denied person is signed in as, in words they recognise: name and email, or either, or the id. */
function accountOf({ user }: Identity): string | undefined {
  const { name, email, id } = user
  if (name && email && name !== email) return `${name} (${email})`
  return name || email || id
}

/** The IdP's subject and session id, kept so its logouts can reach this session. */
function idpSessionOf(claims: Claims): Pick<Session, 'idp'> {
  const { sub, sid } = claims
  if (typeof sub !== 'string') return {}
  return { idp: { sub, ...(typeof sid === 'string' && sid.length <= 256 ? { sid } : {}) } }
}

export async function callbackEndpoint(d: SignInDeps, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const { cookies: c, auth, responder } = d
  const params = new URLSearchParams(query)
  const state = params.get('state')
  const cookies = parseCookies(req.headers.cookie)
  const txName = state === null ? undefined : c.txName(state)
  const hasTxCookie = txName !== undefined && cookies.has(txName)
  const tx = hasTxCookie ? await c.openTransaction(cookies.get(txName)) : undefined
  // The transaction is single-use: cleared whatever happens next.
  const clearTx = hasTxCookie ? [c.clearCookie(txName)] : []
  const decision = decideCallback(state, tx, hasTxCookie)
  if (decision.kind === 'invalid') return recover(d, req, res, params, cookies, clearTx, decision.detail)
  const target = decision.tx
  let login
  try {
    login = await d.oidc.finishLogin(query, decision.tx)
  } catch (err) {
    return responder.respond(req, res, failure(err, { nextUrl: targetUrl(d.config.publicOrigin, target), setCookies: clearTx, signIn: true }))
  }
  const { allowed, identity, ruleErrors } = admit(login.claims, auth)
  const requestId = randomUUID()
  const { missingClaims } = login
  if (missingClaims.length > 0) {
    d.log.warn({ event: 'claims_missing', requestId, claims: missingClaims, userinfo: login.userinfo, ...overage(login.claims) }, `the rules or the user mapping read claims the IdP did not send: ${missingClaims.join(', ')}`)
  }
  const outcome = {
    requestId, user: identity.user.id, rule: auth.useRule.source, ruleResult: allowed, userinfo: login.userinfo,
    moderator: identity.moderator, features: identity.features, ...(ruleErrors.length > 0 ? { ruleErrors } : {}),
    ...(missingClaims.length > 0 ? { missingClaims } : {}),
  }
  if (!allowed) {
    d.log.info({ event: 'login_denied', ...outcome }, 'login denied by USE_RULE')
    const clearSession = cookies.has(c.sessionName) ? [c.clearCookie(c.sessionName)] : []
    // The next step signs in again with another account (prompt=login), back to the same room.
    const again = `${d.config.publicOrigin}${auth.pathPrefix}login?${switchAccountQuery(target)}`
    return responder.respond(req, res, { code: 'ACCESS_DENIED', setCookies: [...clearTx, ...clearSession], requestId, signIn: true, nextUrl: again, account: accountOf(identity) })
  }
  const ttl = auth.cookie.sessionTtlSeconds
  const session: Session = {
    identity, sid: randomBytes(16).toString('base64url'), policy: auth.policy, createdAt: Date.now(),
    room: { room: target.room, ...(target.tenant !== undefined ? { tenant: target.tenant } : {}) },
    ...idpSessionOf(login.claims),
  }
  let sealed = await c.sealSession({ ...session, idToken: login.idToken }, ttl)
  // Large ID tokens (many groups) would push the cookie past what browsers keep.
  if (sealed.length > MAX_SEALED_COOKIE) sealed = await c.sealSession(session, ttl)
  if (sealed.length > MAX_SEALED_COOKIE) {
    const detail = `session of ${sealed.length} bytes does not fit in a cookie (too many features or long claims)`
    return responder.respond(req, res, { code: 'LOGIN_FAILED', detail, setCookies: clearTx, signIn: true })
  }
  await sendToRoom(d, req, res, session, target, [...clearTx, c.setCookie(c.sessionName, sealed, ttl)])
  d.metrics?.logins.inc({ outcome: 'succeeded', reason: '' })
  d.log.info({ event: 'login_succeeded', ...outcome }, 'login succeeded')
}

/**
 * A callback whose transaction is gone (opened again by Back or a reload, after the transaction
 * expired, or in a browser that dropped the cookie) is nothing the person can act on: with a
 * session they go on to the room the state names; without one, that room's sign-in starts again,
 * once. Only when the restarted sign-in loses its transaction too, the IdP answered with an error,
 * or the state names no room, a page says so, its button leading to the room.
 */
async function recover(d: SignInDeps, req: IncomingMessage, res: ServerResponse, params: URLSearchParams, cookies: ReadonlyMap<string, string>, clearTx: readonly string[], detail: string): Promise<void> {
  const back = await openReturn(d.cookies, params.get('state'), d.auth.pathPrefix)
  if (back && !params.has('error')) {
    const session = await currentSession(d, cookies)
    if (session) {
      d.log.info({ event: 'callback_repeated', room: back.target.room, tenant: back.target.tenant, detail }, 'a spent or expired sign-in callback: on to the room with the session')
      return sendToRoom(d, req, res, session, back.target, clearTx)
    }
    if (!back.again) return startLogin(d, req, res, back.target, cookies, { again: true, setCookies: clearTx })
  }
  const nextUrl = back ? targetUrl(d.config.publicOrigin, back.target) : undefined
  return d.responder.respond(req, res, { code: 'LOGIN_STATE_INVALID', detail: back?.again ? `${detail} (again after a restart: are cookies blocked?)` : detail, setCookies: clearTx, signIn: true, nextUrl })
}
