/**
 * Property-based tests (fast-check) of the room, tenant and return-path code
 * in src/rooms/classify.ts: for any input, including hostile and arbitrary Unicode
 * strings, redirects stay on PUBLIC_URL's origin, the room claim is what
 * Jitsi's web app computes, the kept query never smuggles a `jwt`, and
 * Jitsi's `{state}` never crashes the parser nor carries unsafe overrides.
 * Pure functions only: no sockets.
 */
import t from 'tap'
import fc from 'fast-check'
import { classify, isRoomSegment, roomClaim, roomPath, segmentOf } from '../../src/rooms/classify.js'
import { parseJitsiState } from '../../src/rooms/jitsi-state.js'
import { roomUrl, stripJwtParam } from '../../src/rooms/target.js'
import type { Asserts } from '../fixtures/asserts.js'
import { jitsiRoomClaim } from '../fixtures/jitsi-web.js'

const RUNS = 4000
const PREFIX = '/jitsi/'

// ---------------------------------------------------------------- generators

/** Pieces attackers and odd clients use: separators, encodings, look-alikes, controls, surrogates. */
const PIECES = [
  '/', '\\', '//', '/\\', '%2F', '%2f', '%5C', '%5c', '%252F', '%25', '%', '%zz', '%2', '%E2%82%AC', '%C3%A4', '%C0%AF', '%ED%A0%80', '%0D%0A', '%00', '%09', '%20', '+',
  '.', '..', '%2E', '%2e%2e', '.%2E', '@', ':', '?', '#', '&', '=', ';', ',', '!', '$', "'", '"', '(', ')', '*', '[', ']', '<', '>', '{', '}', '|', '`', '^', '~',
  '\r', '\n', '\t', ' ', '\u0000', '\u001f', '\u007f', '\u0085', '\u00a0', '\u1680', '\u2028', '\u3000', '\ufeff', '\u200b',
  '\uff0f', '\uff3c', '\u3002', '\uff0e', '\uff61', '\ufe6b', '\uff20', '\uff1a', '\u2044', '\u2215', '\u29f8', '\ufe68',
  '\ud800', '\udfff', '\ud83d\ude00', '\ud835\udc1e', 'e\u0301', '\u00c4', '\u00df', '\u0130', '\ufb01', '\u212a', '\u2460', '\uff21',
  'evil.example', '//evil.example', 'http:', 'https://', 'javascript:', 'data:', 'jwt', 'jwt=', 'static', 'jitsi', 'config.js', 'Room', 'T%C3%A4st%20Raum',
]

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))

/** Arbitrary strings, biased towards hostile shapes. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ unit: 'grapheme-ascii', maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 2 })), { maxLength: 10 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom('a', '%', '2', 'F', '/'), loneSurrogate), maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.webSegment() },
)

/** What Node can hand over as a path segment: printable ASCII (llhttp refuses the rest), biased to hostile pieces. */
const asciiPiece = fc.oneof(fc.constantFrom(...PIECES.filter((p) => /^[\x21-\x7e]+$/.test(p))), fc.string({ unit: 'grapheme-ascii', maxLength: 4 }))
const asciiSegment = fc.array(asciiPiece, { minLength: 1, maxLength: 8 }).map((a) => a.join('').replace(/[/?\s]/g, ''))

const origin = fc.constantFrom('https://meet.example.com', 'http://127.0.0.1:8080', 'https://xn--mt-fka.example', 'https://[::1]:8443', 'https://meet.example.com:444')

/** A query: `&`-separated parts, some of them `jwt` in every spelling. */
const queryPart = fc.oneof(
  fc.constantFrom('jwt', 'jwt=', 'jwt=a.b.c', 'jwt==x', 'jwt=%zz', 'JWT=x', 'Jwt=x', 'jwtx=1', 'xjwt=1', ' jwt=1', 'jwt =1', '%6Awt=x', 'jw%74=x', 'jwt%3Dx', 'a=1', 'lang=de', '', '#', '#jwt=x', 'a#b'),
  fc.tuple(fc.constantFrom('jwt=', 'jwt', 'a=', ''), hostile).map(([k, v]) => k + v),
  hostile,
)
const query = fc.array(queryPart, { maxLength: 8 }).map((a) => a.join('&'))

// ---------------------------------------------------------------- references (independent of src/)


/** Either the value or the fact that it threw. */
function outcome(f: () => string): string {
  try {
    return `= ${f()}`
  } catch (err) {
    return `throws ${(err as Error).name}`
  }
}

/** The `jwt` the web app reads from a URL's query (parseURLParams: split on & and =, raw keys, last one wins). */
function webAppJwt(search: string): string | undefined {
  let jwt: string | undefined
  for (const part of search.replace(/^\?/, '').split('&')) {
    const [key, value] = part.split('=')
    if (key === 'jwt') jwt = value
  }
  return jwt
}

const DANGEROUS = /url|uri|host|bosh|websocket|domain|server|endpoint|token|jwt|proxy|analytics|callstats|script|iframe|api|__proto__|constructor|prototype/i

/** Why one `key=value` part of the overrides hash is not allowed, or undefined when it is. */
function badOverride(part: string): string | undefined {
  const m = /^((?:config|interfaceConfig)(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,4})=([^&=#]*)$/.exec(part)
  if (!m) return 'not key=value with an identifier key'
  if (m[1]!.split('.').slice(1).some((p) => DANGEROUS.test(p))) return 'dangerous key'
  let value: unknown
  try {
    value = JSON.parse(decodeURIComponent(m[2]!))
  } catch {
    return 'value is not encoded JSON'
  }
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return undefined
  if (typeof value !== 'string') return 'value is not a boolean, number or string'
  if (value.length > 200) return 'value too long'
  // The plain spellings (the browser's view of the value is urlLike below).
  if (/:\/\/|^\s*(?:javascript|data|vbscript|wss?|https?|ftp|file|blob|about):|^\s*[/\\]/i.test(value)) return 'value looks like a URL'
  return undefined
}

/**
 * Whether a browser would take an override value for a URL with a scheme or
 * a path: the URL parser strips leading C0 controls and spaces and removes
 * tabs and newlines anywhere before it reads the scheme.
 */
function urlLike(part: string): boolean {
  let value: unknown
  try {
    value = JSON.parse(decodeURIComponent(part.slice(part.indexOf('=') + 1)))
  } catch {
    return false
  }
  if (typeof value !== 'string') return false
  const seen = value.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '').toLowerCase()
  return value.includes('://') || /^(?:javascript|data|vbscript|wss?|https?|ftp|file|blob|about):/.test(seen) || /^[/\\]/.test(seen)
}

// ---------------------------------------------------------------- harness

/** Runs a property; the failure message carries fast-check's counterexample and seed. */
function holds<Ts>(t: Asserts, name: string, property: fc.IProperty<Ts>): void {
  const details = fc.check(property, { numRuns: RUNS })
  t.notOk(details.failed, details.failed ? `${name}\n${fc.defaultReportMessage(details) ?? ''}` : name)
}

// ---------------------------------------------------------------- properties

t.test('roomUrl(origin, segmentOf(x), segmentOf(y), query) never leaves the origin', async (t) => {
  let rooms = 0
  holds(t, 'origin and path are exactly ours', fc.property(origin, hostile, fc.option(hostile), query, fc.option(fc.constant('a.b.c')), (o, x, y, q, jwt) => {
    const room = segmentOf(x)
    const tenant = y === null ? undefined : segmentOf(y)
    if (room === undefined || (y !== null && tenant === undefined)) return true
    rooms++
    const href = roomUrl(o, room, tenant, q, jwt ?? undefined)
    const url = new URL(href)
    // The segments are fully encoded: the URL parser changes nothing in the path.
    return url.origin === o && href.startsWith(`${o}/`) && url.pathname === roomPath(room, tenant) && isRoomSegment(room) && (tenant === undefined || isRoomSegment(tenant))
  }))
  t.ok(rooms > RUNS / 5, `${rooms} of ${RUNS} generated names were rooms (the property is not vacuous)`)
})

t.test('classify never returns a room whose redirect leaves the origin', async (t) => {
  const paths = fc.oneof(
    hostile.map((a) => `/${a}`),
    fc.tuple(hostile, hostile).map(([a, b]) => `/${a}/${b}`),
    asciiSegment.map((a) => `/${a}`),
    fc.tuple(asciiSegment, asciiSegment).map(([a, b]) => `/${a}/${b}`),
    hostile,
  )
  let rooms = 0
  holds(t, 'origin kept, with and without a query and a token', fc.property(origin, paths, query, (o, path, q) => {
    const c = classify({ method: 'GET', path, secFetchMode: 'navigate', accept: undefined }, PREFIX)
    if (c.kind !== 'room') return true
    rooms++
    for (const href of [roomUrl(o, c.room, c.tenant, ''), roomUrl(o, c.room, c.tenant, stripJwtParam(q), 'a.b.c')]) {
      if (!href.startsWith(`${o}/`) || new URL(href).origin !== o) return false
    }
    return true
  }))
  t.ok(rooms > RUNS / 5, `${rooms} of ${RUNS} generated paths were rooms`)

  // The token must reach the room the person asked for, in the query: no fragment, no lost segment.
  holds(t, "the redirect is that room's page with the token in its query", fc.property(origin, fc.oneof(asciiSegment.map((a) => `/${a}`), fc.tuple(asciiSegment, asciiSegment).map(([a, b]) => `/${a}/${b}`)), (o, path) => {
    const c = classify({ method: 'GET', path, secFetchMode: 'navigate', accept: undefined }, PREFIX)
    if (c.kind !== 'room') return true
    const url = new URL(roomUrl(o, c.room, c.tenant, '', 'a.b.c'))
    return url.hash === '' && url.pathname.split('/').length === (c.tenant === undefined ? 2 : 3) && webAppJwt(url.search) === 'a.b.c'
  }))
})

t.test("roomClaim is Jitsi's web-app room name", async (t) => {
  holds(t, 'any string (both throw, or both give the same claim)', fc.property(hostile, (s) => outcome(() => roomClaim(s)) === outcome(() => jitsiRoomClaim(s))))
  holds(t, 'segments from the login endpoint (segmentOf)', fc.property(hostile, (s) => {
    const seg = segmentOf(s)
    return seg === undefined || roomClaim(seg) === jitsiRoomClaim(seg)
  }))
  let rooms = 0
  holds(t, 'segments classify accepts from a path', fc.property(fc.oneof(asciiSegment, hostile), (s) => {
    const c = classify({ method: 'GET', path: `/${s}`, secFetchMode: 'navigate', accept: undefined }, PREFIX)
    if (c.kind !== 'room') return true
    rooms++
    return roomClaim(c.room) === jitsiRoomClaim(c.room)
  }))
  t.ok(rooms > RUNS / 5, `${rooms} rooms classified`)
  // The reference is not vacuous: it tells these apart.
  t.equal(jitsiRoomClaim('%EF%BC%A1b(c)'), 'abc')
  t.equal(jitsiRoomClaim('T%C3%A4st%20Raum'), 't%c3%a4st%20raum')
  t.equal(jitsiRoomClaim('100%'), '100%25')
})

t.test('stripJwtParam', async (t) => {
  let withJwt = 0
  // Everything outside printable ASCII, and '#' (which would turn the appended token into a fragment), is percent-encoded.
  holds(t, 'keeps every other part, drops every jwt, printable ASCII only, no #', fc.property(query, (q) => {
    const out = stripJwtParam(q)
    if (q.split('&').some((p) => p.split('=')[0] === 'jwt')) withJwt++
    const expected = q.split('&').filter((p) => p !== '' && p.split('=')[0] !== 'jwt').join('&')
      .replace(/[^\x21-\x7e]|#/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
    return out === expected && /^[\x21-\x7e]*$/.test(out) && !out.includes('#') && !out.split('&').some((p) => p === 'jwt' || p.startsWith('jwt='))
  }))
  t.ok(withJwt > RUNS / 5, `${withJwt} queries carried a jwt`)
  holds(t, 'after a redirect the sidecar and the web app read exactly our token', fc.property(query, (q) => {
    const url = new URL(roomUrl('https://meet.example.com', 'room', undefined, stripJwtParam(q), 'our.token.x'))
    return webAppJwt(url.search) === 'our.token.x' && !url.hash.includes('jwt')
  }))
})

// Regression: values a browser reads as URLs once it strips leading controls and tabs/newlines
// ("java\tscript:", "\u0001//evil.example") were once kept in the hash.

t.test("parseJitsiState: never throws, and only what is safe comes back", async (t) => {
  const key = fc.oneof(
    fc.constantFrom('room', 'roomSafe', 'tenant', 'electron', 'refreshToken', '__proto__', 'constructor', 'config', 'config.', 'config.subject', 'config.startWithAudioMuted',
      'config.prejoinConfig.enabled', 'config.websocket', 'config.bosh', 'config.hosts.domain', 'config.brandingDataUrl', 'config.analytics.scriptURLs', 'config.__proto__.x',
      'config.constructor', 'interfaceConfig.APP_NAME', 'interfaceConfig.SHOW_JITSI_WATERMARK', 'config.a.b.c.d', 'config.a.b.c.d.e', 'config.a b', 'config.x\u0000', 'other.key',
      'config.\u212aey', `config.${'x'.repeat(64)}`, `config.${'x'.repeat(65)}`, 'config.jwt', 'config.iFrameApi', 'config.Url'),
    fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map((s) => `config.${s}`),
    hostile,
  )
  const value: fc.Arbitrary<unknown> = fc.oneof(
    hostile,
    hostile.map((s) => JSON.stringify(s)),
    fc.constantFrom(true, false, 0, -1, 1e308, 'true', 'false', '800', '"de"', 'null', '[1]', '{"a":1}', '"javascript:alert(1)"', '" //evil.example"', '"\\\\evil.example"',
      'java\tscript:alert(1)', '"java\\tscript:alert(1)"', '\u0001javascript:alert(1)', 'JAVASCRIPT:alert(1)', ' data:text/html,x', '\u00a0javascript:x', 'Meeting: weekly',
      '"wss://evil.example"', 'data:,x', '"https:evil.example"', '1e999', '"\\ud800"', 'x'.repeat(201), JSON.stringify('x'.repeat(200)), null),
    fc.jsonValue({ maxDepth: 2 }),
  )
  // Raw JSON text (so duplicate and __proto__ keys stay as they are written).
  const stateObject = fc.array(fc.tuple(key, value), { maxLength: 12 }).chain((entries) =>
    fc.tuple(fc.option(hostile), fc.option(hostile)).map(([room, tenant]) => {
      const all: [string, unknown][] = [...(room === null ? [] : [['room', room] as [string, unknown]]), ...(tenant === null ? [] : [['tenant', tenant] as [string, unknown]]), ...entries]
      return `{${all.map(([k, v]) => `${JSON.stringify(k)}:${v === undefined ? 'null' : JSON.stringify(v)}`).join(',')}}`
    }))
  const text = fc.oneof(
    { weight: 4, arbitrary: stateObject },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: stateObject.map((s) => s.slice(0, s.length >> 1)) },
  )
  let targets = 0
  let hashes = 0
  const problems: string[] = []
  holds(t, 'result is a room page on the origin with allowed overrides only', fc.property(text, origin, (s, o) => {
    let r: ReturnType<typeof parseJitsiState>
    try {
      r = parseJitsiState(s)
    } catch (err) {
      problems.push(`throws ${(err as Error).name} on ${JSON.stringify(s)}`)
      return false
    }
    if (r === undefined) return true
    targets++
    if (r.hash !== '') hashes++
    const parts = r.hash === '' ? [] : r.hash.split('&')
    const bad = parts.map((p) => [p, badOverride(p)] as const).find(([, why]) => why !== undefined)
    if (bad) problems.push(`${bad[1]}: ${bad[0]}`)
    const href = `${roomUrl(o, r.room, r.tenant, '', 'a.b.c')}${r.hash === '' ? '' : `#${r.hash}`}`
    const url = new URL(href)
    return bad === undefined && parts.length <= 32 && /^[\x21-\x7e]*$/.test(r.hash) && typeof r.electron === 'boolean' &&
      isRoomSegment(r.room) && (r.tenant === undefined || isRoomSegment(r.tenant)) &&
      url.origin === o && url.pathname === roomPath(r.room, r.tenant) && url.hash === (r.hash === '' ? '' : `#${r.hash}`) && webAppJwt(url.search) === 'a.b.c'
  }))
  t.same(problems.slice(0, 5), [], 'no crash, no unsafe override')
  t.ok(targets > RUNS / 10 && hashes > RUNS / 40, `${targets} states were usable, ${hashes} with overrides`)
  const urls: string[] = []
  holds(t, 'no override value is something a browser reads as a URL', fc.property(text, (s) => {
    const r = parseJitsiState(s)
    const found = r === undefined || r.hash === '' ? [] : r.hash.split('&').filter(urlLike)
    urls.push(...found)
    return found.length === 0
  }))
  t.same(urls.slice(0, 5), [], 'URL-like override values')
  // The reference checks are not vacuous.
  t.equal(badOverride('config.websocket=%22x%22'), 'dangerous key')
  t.equal(badOverride('config.x=%7B%7D'), 'value is not a boolean, number or string')
  t.equal(badOverride('config.subject=%22%20JavaScript%3Aalert(1)%22'), 'value looks like a URL')
  t.equal(badOverride('config.subject=%22hello%22'), undefined)
  t.ok(urlLike('config.subject=%22%20JavaScript%3Aalert(1)%22') && urlLike('config.subject=%22%5C%5Cevil.example%22') && !urlLike('config.subject=%22Meeting%3A%20weekly%22'))
})
