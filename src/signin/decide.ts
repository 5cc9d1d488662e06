/**
 * The sign-in's decisions, as pure functions of what a request carries: the
 * handlers (gate, login, callback) gather the facts, call these, and carry
 * out the answer. Table-tested in test/decide.test.ts.
 */
import { classify, isRoomTarget, segmentOf } from '../rooms/classify.js'
import { parseJitsiState } from '../rooms/jitsi-state.js'
import { stripJwtParam, type ReturnTarget } from '../rooms/target.js'
import type { LoginTransaction, Session } from './cookies.js'

/** Longest room URL (without token) we carry through a login; the transaction cookie must stay under 4 KB. */
export const MAX_RETURN_URL = 2048

export type RoomDecision =
  /** To jitsi-web as it is: a usable token of ours, or a guest where guests may enter. */
  | { readonly kind: 'pass' }
  /** Back to the room with a fresh token from the session. */
  | { readonly kind: 'mint'; readonly session: Session }
  /** To the IdP. */
  | { readonly kind: 'login' }

export interface RoomFacts {
  /** The URL's `jwt` is ours, valid, for this room and not about to expire. */
  readonly tokenUsable: boolean
  /** The session cookie's session, when it opens and was made under the current rules. */
  readonly session: Session | undefined
  /** GUEST_ACCESS (for the room gate), false for Jitsi's login link, which asks for a sign-in. */
  readonly guestsPass: boolean
}

const PASS: RoomDecision = Object.freeze({ kind: 'pass' })
const LOGIN: RoomDecision = Object.freeze({ kind: 'login' })

export function decideRoom(f: RoomFacts): RoomDecision {
  if (f.tokenUsable) return PASS
  if (f.session) return { kind: 'mint', session: f.session }
  return f.guestsPass ? PASS : LOGIN
}

/**
 * The room that Jitsi's TOKEN_AUTH_URL asks to sign in for:
 * `login?room=<room>[&tenant=<tenant>]`, or `login?state=<Jitsi's state JSON>`
 * which also carries the tenant, config overrides and whether the desktop app
 * asked; or the room page a forward-auth caller sends back to, `login?rd=<URL>`
 * (a path, or a URL on PUBLIC_URL's host). A string says what is wrong (for the log).
 */
export function loginTarget(params: URLSearchParams, prefix: string, publicHost: string): ReturnTarget | string {
  const state = params.get('state')
  const rd = params.get('rd')
  let target: ReturnTarget | undefined
  if (state !== null) {
    target = parseJitsiState(state)
  } else if (rd !== null) {
    const t = returnPage(rd, prefix, publicHost)
    if (typeof t === 'string') return t
    target = t
  } else {
    const room = segmentOf(params.get('room'))
    const tenantParam = params.get('tenant') || undefined // absent or empty: no tenant
    const tenant = tenantParam === undefined ? undefined : segmentOf(tenantParam)
    // A tenant that is no path segment makes the whole link unusable.
    if (room !== undefined && (tenantParam === undefined || tenant !== undefined)) target = { room, tenant, query: '', hash: '', electron: false }
  }
  if (target && isRoomTarget(target.room, target.tenant, prefix)) return target
  return state !== null ? 'login: unusable state' : rd !== null ? 'login: rd is not a room page' : 'login: missing or invalid room'
}

/** Scheme, authority, and the rest of an absolute http(s) URL. */
const ABSOLUTE_URL = /^https?:\/\/([^/?#\\@]*)(\/[^#]*)?(?:#.*)?$/is

/**
 * `rd` as a room page to return to: the room segments and the query (no
 * `jwt`) of a path, or of a URL whose host is PUBLIC_URL's (ingress-nginx
 * builds it from the request's scheme and Host). Only the segments are kept:
 * the redirect is built on PUBLIC_URL's origin, so no `rd` can lead elsewhere.
 */
function returnPage(rd: string, prefix: string, publicHost: string): ReturnTarget | string {
  if (rd.length > MAX_RETURN_URL) return 'login: rd too long'
  let pathAndQuery: string
  if (rd.startsWith('/') && !rd.startsWith('//')) {
    pathAndQuery = rd
  } else {
    const m = ABSOLUTE_URL.exec(rd)
    if (!m || !sameHost(m[1]!, publicHost)) return 'login: rd is not on PUBLIC_URL\'s host'
    pathAndQuery = m[2] ?? '/'
  }
  const hash = pathAndQuery.indexOf('#')
  if (hash !== -1) pathAndQuery = pathAndQuery.slice(0, hash)
  const q = pathAndQuery.indexOf('?')
  const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q)
  const c = classify({ method: 'GET', path, secFetchMode: 'navigate', accept: undefined }, prefix)
  if (c.kind !== 'room') return 'login: rd is not a room page'
  return { room: c.room, tenant: c.tenant, query: q === -1 ? '' : stripJwtParam(pathAndQuery.slice(q + 1)), hash: '', electron: false }
}

/** `meet.example.com:443` is `meet.example.com` for https; host names compare without case. */
function sameHost(authority: string, publicHost: string): boolean {
  const a = authority.toLowerCase().replace(/:(?:80|443)$/, '')
  return a === publicHost.toLowerCase()
}

/** Longest state we make (a sealed return room: return-state.ts) with room to spare. */
export const MAX_STATE = 1024

export type CallbackDecision =
  | { readonly kind: 'finish'; readonly tx: LoginTransaction }
  | { readonly kind: 'invalid'; readonly detail: string }

/** Whether a callback may go on to the code exchange: its state names a login this browser started. */
export function decideCallback(state: string | null, tx: LoginTransaction | undefined, hasTxCookie: boolean): CallbackDecision {
  if (state === null || state.length === 0 || state.length > MAX_STATE) return { kind: 'invalid', detail: 'callback without state' }
  if (tx && tx.state === state) return { kind: 'finish', tx }
  return { kind: 'invalid', detail: hasTxCookie ? 'transaction cookie invalid or expired' : 'no transaction cookie for this state' }
}

export type LogoutDecision = 'already-out' | 'refuse' | 'confirm' | 'sign-out'

export interface LogoutFacts {
  readonly signedIn: boolean
  readonly post: boolean
  /**
   * The request came from our own pages (Origin, or fetch metadata `same-origin`) or from the person
   * (fetch metadata `none`: a typed address, a bookmark): no other site can send either.
   */
  readonly fromUs: boolean
  /** The request carries the session's anti-forgery value. */
  readonly csrfValid: boolean
}

/**
 * Whether a logout request came from our own pages or the person: a POST whose Origin is
 * PUBLIC_URL's; else (a GET, or a POST without Origin) fetch metadata `same-origin`, or `none`
 * for a GET (typed, bookmarked). Browsers set both headers; no page can.
 */
export function fromOurPagesOrThePerson(r: { post: boolean; origin: string | undefined; fetchSite: string | string[] | undefined; publicOrigin: string }): boolean {
  if (r.post && r.origin !== undefined) return r.origin === r.publicOrigin
  return r.fetchSite === 'same-origin' || (!r.post && r.fetchSite === 'none')
}

/**
 * Only a request from our own pages or the person, or one carrying the
 * session's anti-forgery value, signs anyone out: a third-party page cannot.
 * Anything else that is a GET (a link on another site, a browser without
 * fetch metadata) gets a confirmation page whose button makes a same-origin
 * POST; the IdP may ask once more, which that page says.
 */
export function decideLogout(f: LogoutFacts): LogoutDecision {
  if (!f.signedIn) return 'already-out'
  if (f.fromUs || f.csrfValid) return 'sign-out'
  return f.post ? 'refuse' : 'confirm'
}
