/**
 * What a request is (a room page, one of our endpoints, or anything else),
 * Jitsi's form of a room name, and redirect targets built on PUBLIC_URL.
 * Pure functions only: no I/O, no logging.
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

/** Decodes one path segment into a room/tenant name, or undefined when it is not one. */
export function decodeName(segment: string): string | undefined {
  if (segment === '' || segment.length > MAX_NAME_LENGTH * 12) return undefined
  let name: string
  try {
    name = decodeURIComponent(segment)
  } catch {
    return undefined
  }
  return isValidName(name) ? name : undefined
}

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && ROOM_NAME.test(name) && name !== '.' && name !== '..'
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
    const room = roomSegment(path.slice(1))
    return room === undefined ? PASS : { kind: 'room', room, tenant: undefined }
  }
  if (path.indexOf('/', second + 1) !== -1) return PASS
  const first = path.slice(1, second)
  if (RESERVED_SEGMENTS.has(first)) return PASS
  const tenant = decodeName(first)
  const room = roomSegment(path.slice(second + 1))
  return tenant === undefined || room === undefined ? PASS : { kind: 'room', room, tenant }
}

const PASS: RequestClass = Object.freeze({ kind: 'pass' })

function roomSegment(segment: string): string | undefined {
  if (RESERVED_SEGMENTS.has(segment) || FILE_NAME.test(segment)) return undefined
  return decodeName(segment)
}

/**
 * The room name as Jitsi's web app sends it to Prosody
 * (`getBackendSafeRoomName`): decoded, NFKC-normalised, lowercased,
 * URL-encoded and lowercased again. `Täst` becomes `t%c3%a4st`.
 */
export function roomClaim(room: string): string {
  let name = room
  try {
    // The web app decodes once more; mirror it so both sides agree.
    name = decodeURIComponent(name)
  } catch {
    // Not encoded: the web app goes on with the name as it is.
  }
  return encodeURIComponent(name.normalize('NFKC').toLowerCase()).toLowerCase()
}

/** The canonical path of a room page, each name percent-encoded. */
export function roomPath(room: string, tenant: string | undefined): string {
  const r = encodeURIComponent(room)
  return tenant === undefined ? `/${r}` : `/${encodeURIComponent(tenant)}/${r}`
}

/**
 * Removes every `jwt` parameter from a raw query string (without `?`),
 * keeping the other parameters as they were (bytes outside printable ASCII
 * percent-encoded, so the result is always a valid header value).
 */
export function stripJwtParam(query: string): string {
  if (query === '') return ''
  return query
    .split('&')
    .filter((part) => part !== '' && part !== 'jwt' && !part.startsWith('jwt='))
    .join('&')
    .replace(UNSAFE_QUERY_CHAR, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)
}

/** Bytes that may not stand in a Location header's query as they are (Node gives raw bytes as latin1). */
const UNSAFE_QUERY_CHAR = /[^\x21-\x7e]/g

/** The first `jwt` parameter of a raw query string, decoded. */
export function jwtParam(query: string): string | undefined {
  for (const part of query.split('&')) {
    if (part.startsWith('jwt=')) {
      try {
        return decodeURIComponent(part.slice(4).replace(/\+/g, ' '))
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/**
 * Absolute URL of a room page on `origin` (PUBLIC_URL's origin). `query` is
 * the kept query (no `jwt`), `jwt` is appended last. Only names validated by
 * isValidName reach here, and they are re-encoded, so the result can never
 * leave the origin.
 */
export function roomUrl(origin: string, room: string, tenant: string | undefined, query: string, jwt?: string): string {
  let url = origin + roomPath(room, tenant)
  const params = jwt === undefined ? query : query === '' ? `jwt=${jwt}` : `${query}&jwt=${jwt}`
  if (params !== '') url += `?${params}`
  return url
}
