/**
 * The gate in front of room pages: gathers what a room request carries (a
 * token in its URL, a session cookie) and asks decideRoom what to do.
 */
import type { IncomingMessage } from 'node:http'
import { jwtParam, stripJwtParam, type ReturnTarget } from '../rooms/target.js'
import { parseCookies } from './cookies.js'
import { decideRoom, type RoomDecision } from './decide.js'
import { currentSession, passFor, type SignInDeps } from './deps.js'

export interface RoomRequest {
  readonly decision: RoomDecision
  /** The load passed on the pass cookie of a fragment redirect (JWT_DELIVERY=fragment): clear it, it is spent. */
  readonly passSpent: boolean
  /** Where a token or a login leads: the room, its query without `jwt`. */
  readonly target: ReturnTarget
  readonly cookies: ReadonlyMap<string, string>
}

export async function gateRoom(d: SignInDeps, req: IncomingMessage, room: string, tenant: string | undefined, query: string): Promise<RoomRequest> {
  const jwt = query === '' ? undefined : jwtParam(query)
  const tokenUsable = jwt !== undefined && (await d.signer.isUsableFor(jwt, room, tenant))
  const cookies = parseCookies(req.headers.cookie)
  // A usable token passes whatever the cookies say: no need to open them.
  const passOnce = !tokenUsable && (await passFor(d, cookies, room, tenant))
  const session = tokenUsable || passOnce ? undefined : await currentSession(d, cookies)
  const target: ReturnTarget = { room, tenant, query: tokenUsable ? query : stripJwtParam(query), hash: '', electron: false }
  return { decision: decideRoom({ tokenUsable: tokenUsable || passOnce, session, guestsPass: d.auth.guestAccess }), passSpent: passOnce, target, cookies }
}
