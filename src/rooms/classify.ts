/**
 * What a request is (a room page, one of our endpoints, or anything else),
 * Jitsi's form of a room name, and redirect targets built on PUBLIC_URL.
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

function percentEncodeUnsafe(s: string): string {
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

/** Where Jitsi's login round trip returns to: a room page, with settings to restore. */
export interface LoginTarget {
  /** Path segments (see RequestClass). */
  readonly room: string
  readonly tenant: string | undefined
  /** Jitsi config overrides for the URL hash, already encoded (`config.x=true&…`), or ''. */
  readonly hash: string
  /** Return through the desktop app's `jitsi-meet://` link. */
  readonly electron: boolean
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

/** Override keys we carry back: `config.x` / `interfaceConfig.x.y`, identifiers only. */
const OVERRIDE_KEY = /^(?:config|interfaceConfig)(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,4}$/
/**
 * Settings that point the app at other servers or code, or touch tokens: a
 * login link could otherwise send a freshly signed-in person's token
 * elsewhere. Matched against each part of the key.
 */
const DANGEROUS_KEY_PART = /url|uri|host|bosh|websocket|domain|server|endpoint|token|jwt|proxy|analytics|callstats|script|iframe|api|__proto__|constructor|prototype/i
const MAX_OVERRIDES = 32
const MAX_OVERRIDE_VALUE = 200

/**
 * One override value as the web app reads it from the hash (JSON text), or
 * undefined when it is not a plain boolean, number or short harmless string.
 */
function overrideValue(value: unknown): string | undefined {
  let parsed: unknown = value
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value)
    } catch {
      // Jitsi puts some settings (config.subject) in the state as plain text.
      parsed = value
    }
  }
  if (typeof parsed === 'boolean' || (typeof parsed === 'number' && Number.isFinite(parsed))) return JSON.stringify(parsed)
  if (typeof parsed === 'string' && parsed.length <= MAX_OVERRIDE_VALUE && parsed.isWellFormed() && !URL_LIKE.test(asBrowserReadsIt(parsed))) return JSON.stringify(parsed)
  return undefined
}

/**
 * A value as a browser's URL parser sees it: leading control characters and
 * spaces stripped, tabs and newlines removed anywhere (`java\tscript:` is
 * `javascript:` to it).
 */
function asBrowserReadsIt(value: string): string {
  return value.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '')
}

/** Values that could point somewhere: a scheme of the web, `//`, or a leading slash or backslash. */
const URL_LIKE = /:\/\/|^\s*(?:wss?|https?|ftp|javascript|data|vbscript|file|blob|about):|^\s*[/\\]/i

/** The hash (without `#`) that restores the harmless config overrides among `entries`. */
export function overridesHash(entries: Iterable<[string, unknown]>): string {
  const parts: string[] = []
  for (const [key, value] of entries) {
    if (parts.length >= MAX_OVERRIDES) break
    if (!OVERRIDE_KEY.test(key) || key.split('.').slice(1).some((p) => DANGEROUS_KEY_PART.test(p))) continue
    const v = overrideValue(value)
    if (v !== undefined) parts.push(`${key}=${encodeURIComponent(v)}`)
  }
  return parts.join('&')
}

/** Longest `{state}` we read: Jitsi's is a few hundred bytes. */
const MAX_STATE_LENGTH = 4096

/**
 * Parses Jitsi's `{state}` (URL-decoded JSON: room, roomSafe, tenant,
 * `config.*` overrides, `electron`) into a login target; undefined when it is
 * not usable. Anything else in it (a refresh token, unknown keys) is ignored.
 */
export function parseJitsiState(text: string): LoginTarget | undefined {
  if (text.length > MAX_STATE_LENGTH) return undefined
  let state: unknown
  try {
    state = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return undefined
  const s = state as Record<string, unknown>
  const room = segmentOf(s.room)
  const tenant = s.tenant === undefined || s.tenant === null || s.tenant === '' ? undefined : segmentOf(s.tenant)
  if (room === undefined || (tenant === undefined && s.tenant !== undefined && s.tenant !== null && s.tenant !== '')) return undefined
  return { room, tenant, hash: overridesHash(Object.entries(s)), electron: s.electron === true }
}
