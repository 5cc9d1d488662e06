/**
 * What a request is (a room page, one of our endpoints, or anything else),
 * and Jitsi's forms of a room name (path segment, room claim).
 * Pure functions only: no I/O, no logging.
 */

/**
 * Room and tenant are path segments as they stand in the URL (percent-encoded,
 * the form the web app reads from `location`), so the person is sent back to
 * exactly the address they asked for and the room claim is computed from the
 * same text the web app uses.
 */
export type RequestClass =
  | { readonly kind: 'endpoint'; readonly name: string }
  | { readonly kind: 'room'; readonly room: string; readonly tenant: string | undefined }
  | { readonly kind: 'pass' }

/** Longest room or tenant name we accept, in characters of the decoded name. */
export const MAX_NAME_LENGTH = 200

/**
 * First path segments that jitsi-web's nginx (docker-jitsi-meet `meet.conf`)
 * serves itself, so `/static/x` is never the tenant `static` with room `x`.
 */
const RESERVED_SEGMENTS = new Set([
  'libs', 'css', 'static', 'images', 'fonts', 'lang', 'sounds', 'connection_optimization',
  '.well-known', 'transcripts', 'etherpad', 'socket.io', 'rtcstats-ws', 'colibri-ws',
  '_api', '_unlock', 'http-bind', 'xmpp-websocket', 'external_api.js', 'config.js',
  'interface_config.js',
])

/**
 * Real files at the root (and tenant-prefixed `config.js` & co.) have an
 * extension from this list; a room named `notes.txt` is not worth the
 * ambiguity, since jitsi-web serves files before rooms.
 */
const FILE_NAME = /\.(?:js|mjs|map|json|html?|css|ico|png|svg|jpe?g|gif|webp|txt|xml|webmanifest|wasm|woff2?|ttf)$/i

/** jitsi-web's room pattern, `^/([^/?&:'"]+)$`, plus no control characters or backslashes. */
const ROOM_NAME = /^[^/?&:'"\\\u0000-\u001f\u007f]+$/

export interface RequestHead {
  readonly method: string
  /** The path as received, percent-encoded, without the query. */
  readonly path: string
  readonly secFetchMode: string | undefined
  readonly accept: string | undefined
}

/**
 * A browser navigation: `Sec-Fetch-Mode: navigate` where the browser sends
 * fetch metadata, otherwise an Accept that asks for HTML.
 */
export function isNavigation(secFetchMode: string | undefined, accept: string | undefined): boolean {
  if (secFetchMode !== undefined) return secFetchMode === 'navigate'
  return accept !== undefined && accept.includes('text/html')
}

/**
 * Whether a raw path segment names a room or tenant the way jitsi-web's nginx
 * matches it (on the decoded path), and the web app leaves a name after
 * removing the characters it drops.
 */
export function isRoomSegment(segment: string): boolean {
  if (segment === '' || segment.length > MAX_NAME_LENGTH * 12) return false
  let name: string
  try {
    name = decodeURIComponent(segment)
  } catch {
    return false
  }
  return isValidName(name) && webAppSegment(segment) !== ''
}

export function isValidName(name: string): boolean {
  // Lone surrogates cannot be URL-encoded (encodeURIComponent throws).
  return name.length > 0 && name.isWellFormed() && name.length <= MAX_NAME_LENGTH && ROOM_NAME.test(name) && name !== '.' && name !== '..'
}

/** A room or tenant name (decoded, e.g. from `login?room=`) as a path segment. */
export function nameToSegment(name: string): string {
  return encodeURIComponent(name)
}

/**
 * Characters the web app removes from each raw path segment before using it
 * as a room or tenant (`_ROOM_EXCLUDE_PATTERN` in jitsi-meet's uri.js), after
 * stripping whitespace.
 */
const WEB_APP_EXCLUDED = /[\s:?#[\]@!$&'()*+,;=></"]/g

function webAppSegment(segment: string): string {
  return segment.replace(WEB_APP_EXCLUDED, '')
}

/**
 * Bytes that may not stand in a Location header as they are (Node hands raw
 * bytes over as latin1), and `#`, which browsers never send but raw clients
 * can: left raw, it would turn the rest of a redirect (the token) into a fragment.
 */
const UNSAFE_URL_CHAR = /[^\x21\x22\x24-\x7e]/g

export function percentEncodeUnsafe(s: string): string {
  return s.replace(UNSAFE_URL_CHAR, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)
}

/**
 * Classifies a request. `prefix` is PATH_PREFIX (starts and ends with `/`).
 * Room pages are GET/HEAD navigations to `/<room>` or `/<tenant>/<room>`
 * that jitsi-web would answer with its app page.
 */
export function classify(head: RequestHead, prefix: string): RequestClass {
  const { path } = head
  if (path.startsWith(prefix)) return { kind: 'endpoint', name: path.slice(prefix.length) }
  if (head.method !== 'GET' && head.method !== 'HEAD') return PASS
  if (!isNavigation(head.secFetchMode, head.accept)) return PASS
  if (path.length < 2 || path.charCodeAt(0) !== 47 /* / */) return PASS
  const second = path.indexOf('/', 1)
  if (second === -1) {
    const room = path.slice(1)
    return isRoom(room) ? { kind: 'room', room: percentEncodeUnsafe(room), tenant: undefined } : PASS
  }
  if (path.indexOf('/', second + 1) !== -1) return PASS
  const tenant = path.slice(1, second)
  const room = path.slice(second + 1)
  if (isReserved(tenant) || !isRoomSegment(tenant) || !isRoom(room)) return PASS
  return { kind: 'room', room: percentEncodeUnsafe(room), tenant: percentEncodeUnsafe(tenant) }
}

const PASS: RequestClass = Object.freeze({ kind: 'pass' })

function isRoom(segment: string): boolean {
  return !isReserved(segment) && !FILE_NAME.test(segment) && isRoomSegment(segment)
}

/** jitsi-web's own paths, also when percent-encoded (nginx decodes `/%73tatic/x` to `/static/x`). */
function isReserved(segment: string): boolean {
  if (RESERVED_SEGMENTS.has(segment)) return true
  if (!segment.includes('%')) return false
  try {
    const decoded = decodeURIComponent(segment)
    return RESERVED_SEGMENTS.has(decoded) || FILE_NAME.test(decoded)
  } catch {
    return false
  }
}

/**
 * The room claim for a room path segment: what Jitsi's web app sends to
 * Prosody for that URL. It drops whitespace and the characters of
 * WEB_APP_EXCLUDED from the raw segment (`parseURIString`), then decodes,
 * NFKC-normalises, lowercases, encodes and lowercases again
 * (`getBackendSafeRoomName`). `T%C3%A4st` becomes `t%c3%a4st`; `Room(1)` is
 * the room `room1`.
 */
export function roomClaim(segment: string): string {
  let name = webAppSegment(segment)
  try {
    name = decodeURIComponent(name)
  } catch {
    // The web app goes on with the name as it is.
  }
  return encodeURIComponent(name.normalize('NFKC').toLowerCase()).toLowerCase()
}

/**
 * Whether `/<tenant>/<room>` (segments) is a room page the way classify sees
 * it, so a login never sends a token to a path jitsi-web serves as something
 * else (`/static/x`, `/etherpad/x`, our own endpoints).
 */
export function isRoomTarget(room: string, tenant: string | undefined, prefix: string): boolean {
  return classify({ method: 'GET', path: roomPath(room, tenant), secFetchMode: 'navigate', accept: undefined }, prefix).kind === 'room'
}

/** The path of a room page from its segments. */
export function roomPath(room: string, tenant: string | undefined): string {
  return tenant === undefined ? `/${room}` : `/${tenant}/${room}`
}

/** A name as Jitsi hands it over (maybe still percent-encoded) → the canonical path segment, or undefined. */
export function segmentOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  let name = value
  try {
    name = decodeURIComponent(value)
  } catch {
    // Not encoded: use as it is.
  }
  if (!isValidName(name)) return undefined
  const segment = nameToSegment(name)
  return webAppSegment(segment) === '' ? undefined : segment
}
