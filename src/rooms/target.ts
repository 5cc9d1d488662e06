/**
 * Where a person returns after signing in, and the room URLs we redirect to:
 * always on PUBLIC_URL's origin, the `jwt` parameter last.
 */
import { percentEncodeUnsafe, roomPath } from './classify.js'

/** A room page to return to, with what to restore there. */
export interface ReturnTarget {
  /** Path segments, as in the URL (see RequestClass). */
  readonly room: string
  readonly tenant?: string | undefined
  /** Raw query to keep, without `jwt`. */
  readonly query: string
  /** Jitsi config overrides for the URL hash, already encoded (`config.x=true&…`), or ''. */
  readonly hash: string
  /** Return through the desktop app's `jitsi-meet://` link. */
  readonly electron: boolean
  /** Jitsi's inline sign-in (a popup): end on the page that posts the token to the opener. */
  readonly inline?: true | undefined
}

/** A room to return to after signing in or out: the target without what only the first visit carried. */
export interface ReturnRoom {
  readonly room: string
  readonly tenant?: string | undefined
}

/** The target for a new visit to `r`: no query, overrides or desktop app. */
export function roomTarget(r: ReturnRoom): ReturnTarget {
  return { room: r.room, tenant: r.tenant, query: '', hash: '', electron: false }
}

/**
 * Removes every `jwt` parameter from a raw query string (without `?`),
 * keeping the other parameters as they were (bytes outside printable ASCII
 * percent-encoded, so the result is always a valid header value).
 */
export function stripJwtParam(query: string): string {
  if (query === '') return ''
  const kept = query.split('&').filter((part) => part !== '' && part !== 'jwt' && !part.startsWith('jwt='))
  return percentEncodeUnsafe(kept.join('&'))
}

/**
 * The `jwt` parameter of a raw query string, decoded; undefined when there is
 * none, or more than one (which the web app might read differently from us).
 */
export function jwtParam(query: string): string | undefined {
  let found: string | undefined
  for (const part of query.split('&')) {
    if (part !== 'jwt' && !part.startsWith('jwt=')) continue
    if (found !== undefined) return undefined
    found = part.slice(4)
  }
  if (found === undefined) return undefined
  try {
    return decodeURIComponent(found.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/**
 * Absolute URL of a room page on `origin` (PUBLIC_URL's origin). `query` is
 * the kept query (no `jwt`), `jwt` is appended last. Only segments checked by
 * isRoomSegment (no `/`, `\\`, `?` or control characters once decoded, nothing
 * outside printable ASCII raw) reach here, so the result can never leave the
 * origin.
 */
export function roomUrl(origin: string, room: string, tenant: string | undefined, query: string, jwt?: string): string {
  let url = origin + roomPath(room, tenant)
  const params = jwt === undefined ? query : query === '' ? `jwt=${jwt}` : `${query}&jwt=${jwt}`
  if (params !== '') url += `?${params}`
  return url
}

/**
 * The target's URL on `origin`, with `jwt` when given and the overrides in the hash. In the
 * fragment, Jitsi parses every value as JSON: the token goes as a quoted string, last.
 */
export function targetUrl(origin: string, target: ReturnTarget, jwt?: string, delivery: 'query' | 'fragment' = 'query'): string {
  if (jwt === undefined || delivery === 'query') {
    const url = roomUrl(origin, target.room, target.tenant, target.query, jwt)
    return target.hash === '' ? url : `${url}#${target.hash}`
  }
  const hash = `jwt=${encodeURIComponent(JSON.stringify(jwt))}`
  return `${roomUrl(origin, target.room, target.tenant, target.query)}#${target.hash === '' ? hash : `${target.hash}&${hash}`}`
}
