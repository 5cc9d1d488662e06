/**
 * Open redirect, under attack: every entry of the bypass corpus
 * (test/fixtures/open-redirect-corpus.txt) goes through every place that
 * carries a room, tenant, state or return path, against one real stack
 * (oidc-provider, upstream, sidecar on loopback):
 *
 * - the room path itself: `/<entry>`, `/acme/<entry>`, `/<entry>/room`, and a
 *   room with the entry as its query (`/ok?<entry>`), each sent raw (the bytes
 *   as they are, over a plain socket, since undici refuses most of them) and
 *   as a browser would encode it;
 * - `/jitsi/login?room=`, `?room=ok&tenant=`, `?state=` (room, tenant, config
 *   overrides, desktop app), the usual return-path parameter names, the
 *   callback's `state` and logout's return parameters; `/jitsi/login?rd=` (a forward-auth
 *   caller's return page) as it is, as a path and as a URL on PUBLIC_URL's origin;
 * - without a session (to the IdP), with a session (straight back), and the
 *   callback's stored return path: a real sign-in at the IdP for every entry
 *   the login endpoint accepts, then the redirect chain followed like a
 *   browser until jitsi-web gets the request.
 *
 * Every response: a redirect, 200 or a 4xx, never 5xx; a Location only on
 * PUBLIC_URL's origin or the IdP's authorization endpoint, printable ASCII
 * only; our HTML pages never echo the entry unescaped nor link off-site; and
 * no token or cookie value in the logs.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Browser } from '../fixtures/client.js'
import { rawRequest, header, headers, type RawReply, type RawResponse } from '../fixtures/raw.js'
import { signIn, verify } from '../fixtures/signin.js'
import { startStack, type Stack } from '../fixtures/stack.js'
import { jitsiRoomClaim } from '../fixtures/jitsi-web.js'

const CONCURRENCY = 8
// About 22,000 requests, CPU-bound: 40 s on an idle 2-core machine, 77-118 s on a loaded one, where
// .taprc's 120 s killed it after its last assertion. Hangs are caught per request (REQUEST_TIMEOUT_MS).
t.setTimeout(360_000)
/** Raw requests that take longer than this count as hanging. */
const REQUEST_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------- corpus

/** Decodes one corpus line (`\\`, `\xHH`, `\u{H…}`; any other backslash sequence is an error). */
function decodeEntry(line: string): string {
  let out = ''
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c !== '\\') {
      out += c
      continue
    }
    const rest = line.slice(i + 1)
    let m: RegExpExecArray | null
    if (rest.startsWith('\\')) {
      out += '\\'
      i += 1
    } else if ((m = /^x([0-9A-Fa-f]{2})/.exec(rest))) {
      out += String.fromCharCode(parseInt(m[1]!, 16))
      i += 3
    } else if ((m = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(rest))) {
      out += String.fromCodePoint(parseInt(m[1]!, 16))
      i += m[0].length
    } else {
      throw new Error(`bad escape at column ${i + 1} of corpus line ${JSON.stringify(line.slice(0, 80))}`)
    }
  }
  return out
}

const corpusText = readFileSync(new URL('../fixtures/open-redirect-corpus.txt', import.meta.url), 'utf8')
const corpusLines = corpusText.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
const corpus = corpusLines.map(decodeEntry)

// ---------------------------------------------------------------- raw HTTP

/**
 * `GET <target>` over a fresh socket, the target written as its UTF-8 bytes
 * exactly as given (control characters, spaces and all); every response until
 * the server closes (more than one would be response splitting).
 */
function rawGet(port: number, target: string, cookie?: string): Promise<RawReply> {
  const head = `HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/html,application/xhtml+xml\r\nSec-Fetch-Mode: navigate\r\n` +
    `${cookie === undefined ? '' : `Cookie: ${cookie}\r\n`}Connection: close\r\n\r\n`
  return rawRequest(port, Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'utf8'), Buffer.from(` ${head}`)]), { untilClose: true, timeoutMs: REQUEST_TIMEOUT_MS })
}

async function pool<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker))
}

// ---------------------------------------------------------------- entries → requests

/** As a browser puts it in a URL: everything outside printable ASCII percent-encoded as UTF-8. */
function browserEncode(s: string): string {
  return [...s].map((ch) => (/^[\x21-\x7e]$/.test(ch) ? ch : encodeURIComponent(ch.isWellFormed() ? ch : '\ufffd'))).join('')
}

function component(s: string): string {
  return encodeURIComponent(s.toWellFormed())
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

type Kind = 'path' | 'query' | 'login' | 'state' | 'other'

interface Case {
  readonly entry: string
  readonly target: string
  readonly kind: Kind
  /** A login endpoint case whose acceptance leads to a full sign-in. */
  readonly signIn: boolean
}

/** Jitsi's `{state}` with the entry as room, as tenant, in config overrides, and from the desktop app. */
function states(entry: string): Record<string, unknown>[] {
  return [
    { room: entry, roomSafe: entry },
    { room: 'ok', tenant: entry },
    {
      room: 'ok', tenant: 'acme', 'config.subject': entry, 'config.startWithAudioMuted': entry, 'config.defaultLanguage': entry,
      'interfaceConfig.APP_NAME': entry, [`config.${entry}`]: true, [entry]: entry,
    },
    { room: entry, tenant: 'acme', electron: true, 'config.subject': entry },
  ]
}

const stateTarget = (s: Record<string, unknown>) => `/jitsi/login?state=${component(JSON.stringify(s))}`

/** Which accepted login starts a full sign-in: the first that matches, in this order (the last is the desktop app). */
const SIGN_IN_ORDER: ((entry: string) => string)[] = [
  (e) => stateTarget(states(e)[0]!),
  (e) => `/jitsi/login?room=${component(e)}`,
  (e) => stateTarget(states(e)[1]!),
  (e) => `/jitsi/login?room=ok&tenant=${component(e)}`,
  (e) => stateTarget(states(e)[2]!),
  (e) => stateTarget(states(e)[3]!),
  (e) => `/jitsi/login?rd=${component(e)}`,
  (e) => `/jitsi/login?rd=${component(`/${e}`)}`,
  (e) => `/jitsi/login?rd=${component(`${stack.url}/${e}`)}`,
]

function casesFor(entry: string): Case[] {
  const raw = entry
  const enc = browserEncode(entry)
  const uri = component(entry)
  const out = new Map<string, Case>()
  const add = (target: string, kind: Kind, signIn = false) => {
    if (!out.has(target)) out.set(target, { entry, target, kind, signIn })
  }
  for (const v of [raw, enc]) {
    add(`/${v}`, 'path')
    add(`/acme/${v}`, 'path')
    add(`/${v}/room`, 'path')
    add(`/ok?${v}`, 'query')
  }
  add(`/jitsi/login?room=${uri}`, 'login', true)
  add(`/jitsi/login?room=${raw}`, 'login')
  add(`/jitsi/login?room=${enc}`, 'login')
  add(`/jitsi/login?room=ok&tenant=${uri}`, 'login', true)
  add(`/jitsi/login?room=ok&tenant=${raw}`, 'login')
  for (const s of states(entry)) add(stateTarget(s), 'state', true)
  // A forward-auth caller's return page (ingress-nginx's auth-signin, our nginx snippet): as it is, as a path, on our origin.
  add(`/jitsi/login?rd=${uri}`, 'login', true)
  add(`/jitsi/login?rd=${raw}`, 'login')
  add(`/jitsi/login?rd=${component(`/${entry}`)}`, 'login', true)
  add(`/jitsi/login?rd=${component(`${stack.url}/${entry}`)}`, 'login', true)
  add(`/jitsi/login?room=ok&${['rd', 'redirect', 'redirect_uri', 'next', 'url', 'return_to', 'returnTo', 'continue', 'dest'].map((p) => `${p}=${uri}`).join('&')}`, 'other')
  add(`/jitsi/callback?code=x&state=${uri}`, 'other')
  add(`/jitsi/logout?post_logout_redirect_uri=${uri}&redirect=${uri}`, 'other')
  return [...out.values()]
}

// ---------------------------------------------------------------- checks

/** Node's own answer to a request line or header it cannot parse: the app never saw the request. */
function nodeRejected(r: RawResponse): boolean {
  return (r.status === 400 || r.status === 431) && header(r, 'content-type') === undefined && r.body === ''
}

const MAX_LISTED = 15
const FRAGMENT_RULE = 'a token travels in the query, exactly once, never in the fragment'
const VERIFY_RULE = 'the token jitsi-web gets verifies (signature, issuer, audience, lifetime)'

/** Token and cookie parts every value shares (their protected headers): not secret. */
const COMMON_PARTS = new Set(['eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'])

/** Findings by rule; each is "<what>: <request>". */
class Findings {
  readonly byRule = new Map<string, string[]>()
  count = 0

  add(rule: string, what: string): void {
    let l = this.byRule.get(rule)
    if (!l) this.byRule.set(rule, (l = []))
    l.push(what)
  }

  list(rule: string): string[] {
    const l = this.byRule.get(rule) ?? []
    return l.length <= MAX_LISTED ? l : [...l.slice(0, MAX_LISTED), `… and ${l.length - MAX_LISTED} more`]
  }
}

const show = (s: string) => JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…(${s.length})` : s)

// ---------------------------------------------------------------- the run

let stack: Stack
let port: number
let authEndpoint: string
let sessionCookie: string
const baseline: string[] = []
t.before(async () => {
  stack = await startStack()
  port = Number(new URL(stack.url).port)
  const discovery = (await (await fetch(`${stack.idp.issuer}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string }
  authEndpoint = discovery.authorization_endpoint
  // One real sign-in; its session cookie serves every "with a session" case.
  const { done, cookies } = await signIn(stack, new Browser(), '/ok')
  const cookie = cookies.get('jos_session')
  if (done.status !== 302 || !cookie) throw new Error(`the initial sign-in failed: ${done.status}`)
  sessionCookie = `jos_session=${cookie}`
  // Our pages for harmless input: what a page holds anyway is no echo.
  const plain = ['/jitsi/login', '/jitsi/callback', '/jitsi/logout', '/jitsi/nothing', `/ok?${'a'.repeat(2100)}`]
  const withSession = ['/jitsi/logout', `/jitsi/login?state=${encodeURIComponent(JSON.stringify({ room: 'ok', electron: true }))}`]
  for (const [target, cookie] of [...plain.map((p) => [p, undefined] as const), ...withSession.map((p) => [p, sessionCookie] as const)]) {
    baseline.push(...(await rawGet(port, target, cookie)).responses.map((r) => r.body))
  }
})
t.teardown(() => stack?.close())

t.test('the corpus', async (t) => {
  t.ok(corpus.length >= 400, `${corpus.length} entries`)
  t.equal(new Set(corpus).size, corpus.length, 'no duplicates')
  t.ok(corpus.some((e) => /[\r\n]/.test(e)) && corpus.some((e) => /[\uff0f\u3002]/.test(e)) && corpus.some((e) => e.length > 16_384), 'raw CR/LF, look-alikes and over-long values are in it')
})

t.test('every corpus entry through every entry point', async (t) => {
  const started = Date.now()
  const f = new Findings()
  const secrets = new Set<string>([sessionCookie.slice('jos_session='.length)])
  const stats = { requests: 0, toIdp: 0, sameOrigin: 0, pages: 0, upstream: 0, signIns: 0, landed: 0, nodeRejected: 0 }
  const idpOrigin = new URL(stack.idp.issuer).origin
  const ownPrefix = `${stack.url}/`

  /** Applies the rules to one reply; returns its responses. */
  function check(label: string, entry: string, reply: RawReply): RawResponse[] {
    stats.requests++
    if (reply.error !== undefined) f.add('answers every request', `${reply.error}: ${label}`)
    if (reply.responses.length === 0 && reply.error === undefined) f.add('answers every request', `connection closed without a response: ${label}`)
    if (reply.responses.length > 1) f.add('one response per request (no response splitting)', `${reply.responses.length} responses: ${label}`)
    for (const r of reply.responses) {
      const s = r.status
      if (s >= 500) f.add('never 5xx', `${s}: ${label}`)
      else if (!(s === 200 || s === 302 || s === 303 || (s >= 400 && s < 500))) f.add('only 200, a redirect or a 4xx', `${s}: ${label}`)
      if (nodeRejected(r)) stats.nodeRejected++
      if (s >= 300 && s < 400 && headers(r, 'location').length !== 1) f.add('a redirect has exactly one Location', `${s} with ${headers(r, 'location').length}: ${label}`)
      for (const loc of headers(r, 'location')) {
        if (/[^\x21-\x7e]/.test(loc)) f.add('Location is printable ASCII (no CR, LF, whitespace)', `${show(loc)}: ${label}`)
        let url: URL | undefined
        try {
          url = new URL(loc)
        } catch {
          f.add('Location is an absolute URL', `${show(loc)}: ${label}`)
        }
        const toUs = loc.startsWith(ownPrefix) && url?.origin === stack.url
        const toIdp = loc.startsWith(`${authEndpoint}?`) && url?.origin === idpOrigin
        if (!toUs && !toIdp) f.add("Location is on PUBLIC_URL's origin or the IdP's authorization endpoint", `${show(loc)}: ${label}`)
        if (toIdp) {
          stats.toIdp++
          // The IdP bounces back only to our callback.
          if (url?.searchParams.get('redirect_uri') !== `${stack.url}/jitsi/callback`) f.add('the IdP is asked to return to our callback only', `${show(loc)}: ${label}`)
        }
        if (toUs) {
          stats.sameOrigin++
          if (url && loc.includes('jwt=')) {
            const inQuery = url.searchParams.getAll('jwt')
            if (inQuery.length !== 1 || url.hash.includes('jwt=')) f.add(FRAGMENT_RULE, `${show(loc)}: ${label}`)
            for (const token of inQuery) secrets.add(token)
          }
        }
      }
      for (const sc of headers(r, 'set-cookie')) {
        const value = sc.slice(sc.indexOf('=') + 1).split(';')[0] ?? ''
        if (value.length > 20) secrets.add(value)
      }
      const type = header(r, 'content-type') ?? ''
      if (header(r, 'x-upstream') === 'yes') {
        // jitsi-web's stand-in echoes the request; it is not ours to judge.
        stats.upstream++
        continue
      }
      if (!type.includes('text/html')) continue
      stats.pages++
      const body = r.body
      for (const probe of new Set([entry, safeDecode(entry)])) {
        if (probe.length >= 3 && /[<>"']/.test(probe) && !baseline.some((b) => b.includes(probe)) && body.includes(probe)) f.add('our pages never echo the entry unescaped', `${show(probe)}: ${label}`)
      }
      if (/<script|<img|<svg|<iframe|\son\w+\s*=|javascript:/i.test(body)) f.add('our pages carry no markup from the request', label)
      for (const m of body.matchAll(/(?:href|action)="([^"]*)"/g)) {
        const link = m[1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
        if (!link.startsWith(ownPrefix) && !link.startsWith(`jitsi-meet://${new URL(stack.url).host}/`)) f.add('links on our pages stay on PUBLIC_URL (or the desktop app with its host)', `${show(link)}: ${label}`)
      }
    }
    return reply.responses
  }

  const cases = corpus.flatMap(casesFor)
  t.comment(`${corpus.length} entries → ${cases.length} request targets, each sent without and with a session`)

  // 1. Without a session: the IdP's authorization endpoint, a page, or jitsi-web.
  const accepted = new Map<string, Case[]>()
  const unparsable = new Set<Case>()
  const phase = (name: string) => t.comment(`${name} done at ${((Date.now() - started) / 1000).toFixed(1)} s`)
  await pool(cases, CONCURRENCY, async (c) => {
    const [r] = check(`no session GET ${show(c.target)}`, c.entry, await rawGet(port, c.target))
    if (r && nodeRejected(r)) unparsable.add(c)
    const loc = r === undefined ? undefined : header(r, 'location')
    if (c.signIn && r?.status === 302 && loc?.startsWith(`${authEndpoint}?`)) {
      const l = accepted.get(c.entry) ?? []
      l.push(c)
      accepted.set(c.entry, l)
    }
  })

  phase('without a session')
  // 2. With a session: straight back to the room, or a page. (A request line Node's parser
  // refused never reaches the app, with or without a cookie.)
  await pool(cases.filter((c) => !unparsable.has(c)), CONCURRENCY, async (c) => {
    check(`session GET ${show(c.target)}`, c.entry, await rawGet(port, c.target, sessionCookie))
  })

  phase('with a session')
  // 3. The callback's stored return path: a real sign-in for what the login endpoint accepted,
  // one per entry (the entry as room, else as tenant, else in the overrides), and the desktop
  // app's way back for every fourth entry.
  const preference = (c: Case) => SIGN_IN_ORDER.findIndex((p) => c.target === p(c.entry))
  const signIns = [...accepted.entries()].flatMap(([entry, l], i) => {
    const sorted = [...l].sort((a, b) => preference(a) - preference(b))
    const electron = sorted.find((c) => preference(c) === SIGN_IN_ORDER.length - 1)
    const first = sorted.find((c) => c !== electron)
    return [first, i % 4 === 0 ? electron : undefined].filter((c): c is Case => c !== undefined && c.entry === entry)
  })
  await pool(signIns, CONCURRENCY, async (c) => {
    const label = `sign-in from ${show(c.target)}`
    const [start] = check(`${label} (start)`, c.entry, await rawGet(port, c.target))
    const idpUrl = start && header(start, 'location')
    if (!start || start.status !== 302 || !idpUrl?.startsWith(`${authEndpoint}?`)) return void f.add('an accepted login is accepted again', label)
    const b = new Browser()
    for (const sc of headers(start, 'set-cookie')) {
      const [pair] = sc.split(';')
      const eq = pair!.indexOf('=')
      b.cookies(stack.url).set(pair!.slice(0, eq), pair!.slice(eq + 1))
    }
    let callback: string
    try {
      callback = await b.signInAtIdp(idpUrl, 'alice')
    } catch (err) {
      return void f.add('the IdP round trip completes', `${(err as Error).message.slice(0, 160)}: ${label}`)
    }
    const cbTarget = callback.slice(stack.url.length)
    const [done] = check(`${label} (callback)`, c.entry, await rawGet(port, cbTarget, [...b.cookies(stack.url)].map(([k, v]) => `${k}=${v}`).join('; ')))
    stats.signIns++
    if (!done) return
    const session = done.headers.filter(([n, v]) => n === 'set-cookie' && v.startsWith('jos_session=')).map(([, v]) => v.split(';')[0]!)[0]
    if (done.status === 200 && /jitsi-meet:\/\//.test(done.body)) {
      // The desktop app's page: its link was checked by `check`.
      stats.landed++
      return
    }
    if (done.status !== 302 || !session) return void f.add('an accepted login ends in a redirect with a session', `${done.status}: ${label}`)
    // Follow like a browser (fragment dropped, URL normalised) until jitsi-web gets the request.
    let loc = header(done, 'location')!
    for (let hop = 0; ; hop++) {
      if (hop === 3) return void f.add('reaches the room within three redirects (no loop)', `${show(loc)}: ${label}`)
      let url: URL
      try {
        url = new URL(loc)
      } catch {
        return // already reported
      }
      if (url.origin !== stack.url) return // already reported
      const [r] = check(`${label} (hop ${hop + 1} to ${show(url.pathname + url.search)})`, c.entry, await rawGet(port, url.pathname + url.search, session))
      if (!r) return
      if (r.status === 302) {
        loc = header(r, 'location') ?? ''
        continue
      }
      if (r.status !== 200 || header(r, 'x-upstream') !== 'yes') return void f.add('a signed-in person reaches jitsi-web', `${r.status}: ${label}`)
      stats.landed++
      const jwt = url.searchParams.get('jwt')
      const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1)
      if (!jwt) return void f.add('jitsi-web only gets the room with a token', `${show(url.href)}: ${label}`)
      let claim: unknown
      try {
        claim = (await verify(jwt)).room
      } catch (err) {
        return void f.add(VERIFY_RULE, `${(err as Error).message}: ${label}`)
      }
      if (claim !== jitsiRoomClaim(segment)) f.add("the token's room is the one the web app computes for the address it shows", `${String(claim)} ≠ ${jitsiRoomClaim(segment)} for ${show(url.pathname)}: ${label}`)
      return
    }
  })

  phase('sign-ins')
  // The logs: no token, no cookie value, ever.
  const logs = stack.logs.join('\n')
  const leaked = [...new Set(logs.match(/eyJ[\w-]{8,}(?:\.[\w-]*)*/g) ?? [])]
  // Any base64url run of a token or cookie value (its payload, signature, ciphertext) found in the logs.
  const words = new Set(logs.match(/[\w-]{16,}/g) ?? [])
  const secretHits = [...secrets].filter((s) => s.split('.').some((part) => part.length >= 16 && !COMMON_PARTS.has(part) && words.has(part)))

  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  t.comment(`${stats.requests} requests checked in ${seconds} s: ${stats.toIdp} to the IdP, ${stats.sameOrigin} same-origin redirects, ${stats.pages} sidecar pages, ` +
    `${stats.upstream} passed to jitsi-web, ${stats.nodeRejected} refused by Node's HTTP parser; ${accepted.size} entries accepted by the login endpoint ` +
    `(${[...accepted.values()].filter((l) => l.some((c) => preference(c) < 4)).length} as a room or tenant), ` +
    `${stats.signIns} full sign-ins, ${stats.landed} landed in a room`)

  // The run really exercised every path (otherwise the rules below prove nothing).
  t.ok(stats.toIdp > 200 && stats.sameOrigin > 200 && stats.pages > 200 && stats.upstream > 200, 'every kind of answer was seen')
  t.ok(stats.signIns >= 100 && stats.landed >= 100, 'full sign-ins ran and landed in rooms')
  t.ok(secrets.size > 1000, `${secrets.size} tokens and cookie values collected for the log check`)

  const rules = [
    'answers every request',
    'one response per request (no response splitting)',
    'never 5xx',
    'only 200, a redirect or a 4xx',
    'a redirect has exactly one Location',
    'Location is printable ASCII (no CR, LF, whitespace)',
    'Location is an absolute URL',
    "Location is on PUBLIC_URL's origin or the IdP's authorization endpoint",
    'the IdP is asked to return to our callback only',
    'our pages never echo the entry unescaped',
    'our pages carry no markup from the request',
    'links on our pages stay on PUBLIC_URL (or the desktop app with its host)',
    'an accepted login is accepted again',
    'the IdP round trip completes',
    'an accepted login ends in a redirect with a session',
    'reaches the room within three redirects (no loop)',
    'a signed-in person reaches jitsi-web',
    'jitsi-web only gets the room with a token',
    "the token's room is the one the web app computes for the address it shows",
    VERIFY_RULE,
    FRAGMENT_RULE,
  ]
  for (const rule of rules) t.same(f.list(rule), [], rule)
  for (const rule of f.byRule.keys()) if (!rules.includes(rule)) t.fail(`unexpected rule ${rule}`)
  t.same(leaked.map((s) => s.slice(0, 24)), [], 'no JWT or JWE (token, cookie) in the logs')
  t.notOk(logs.includes('jwt=ey'), 'no jwt=ey in the logs')
  t.same(secretHits.map((s) => s.slice(0, 12)), [], 'no token or cookie value we received is in the logs')
})
