/**
 * The room a sign-in or sign-out returns to, sealed into the OAuth `state`
 * (and the logout's `state`), so it survives what the transaction cookie does
 * not: a callback opened again (Back, reload), after the transaction expired,
 * or in a browser that dropped the cookie. Sealed like the cookies: nobody can
 * forge one, and a room name never shows in the IdP's logs. Opened values are
 * checked like every return path (isRoomTarget).
 */
import { randomBytes } from 'node:crypto'
import { isRoomTarget } from '../rooms/classify.js'
import { roomTarget, type ReturnRoom, type ReturnTarget } from '../rooms/target.js'
import type { CookieCodec } from './cookies.js'

/** How long a sealed return room is honoured: a tab left on the IdP's page overnight still finds its room. */
export const RETURN_TTL_SECONDS = 86_400
/** Longest room path carried: the state travels in the IdP's URLs and some IdPs limit their length. */
const MAX_CARRIED_ROOM = 256

/**
 * A sealed return room for `target`; `again` marks a login the sidecar restarted itself, so a
 * browser that keeps losing its cookie gets a page instead of an endless round trip.
 * A random value when the room is too long to carry.
 */
export async function sealReturn(codec: CookieCodec, target: ReturnRoom, again = false): Promise<string> {
  if (target.room.length + (target.tenant?.length ?? 0) > MAX_CARRIED_ROOM) return randomBytes(32).toString('base64url')
  return codec.seal('return', { room: target.room, ...(target.tenant !== undefined ? { tenant: target.tenant } : {}), ...(again ? { again: true } : {}) }, RETURN_TTL_SECONDS)
}

/** The room sealed in `value` as a target for a new visit, and whether it was a restart; undefined for anything else. */
export async function openReturn(codec: CookieCodec, value: string | null | undefined, prefix: string): Promise<{ target: ReturnTarget; again: boolean } | undefined> {
  if (!value) return undefined
  const p = await codec.open('return', value)
  if (!p || typeof p.room !== 'string' || (p.tenant !== undefined && typeof p.tenant !== 'string')) return undefined
  if (!isRoomTarget(p.room, p.tenant, prefix)) return undefined
  return { target: roomTarget({ room: p.room, tenant: p.tenant }), again: p.again === true }
}
