/**
 * The sidecar against a real LemonLDAP::NG (issue 16, "Real providers in the test suite"): Debian's
 * LemonLDAP::NG 2.16 started by the fixture (test/idp/lemonldap.ts) on loopback over HTTPS with a
 * throw-away CA and the Demo users, and the sidecar run as users run it: the bundle (`npm run
 * bundle`'s own esbuild command, built by this suite into a temporary folder so that it is never
 * stale and dist/ is left alone), `node cli.mjs serve` as its own process, configured by environment
 * variables only, in front of a stand-in jitsi-web. The sidecars trust the CA the two documented ways:
 * OIDC_CA_FILE (IdP A's) and NODE_EXTRA_CA_CERTS (IdP B's).
 *
 * Two identity providers:
 * - A: LL::NG's defaults for a new relying party (HS512 ID tokens signed with the client secret,
 *   name/email/groups only at userinfo), groups exported as a list, front-channel logout to the first
 *   sidecar, consent bypassed (the recipe's setting: RP-initiated logout strands people otherwise);
 * - B: RS256 ID tokens carrying the claims, groups as one `; `-joined string.
 *
 * Cases: sign-in with the defaults (userinfo fetched because the name/email mapping needs it), RS256,
 * a group rule allowing one Demo user and denying another (and "Sign in with another account"), a
 * moderator rule, string-mode groups, sign-out through the sidecar ending the IdP session, logout at
 * the IdP's portal reaching the sidecar (front-channel, the iframe without cookies), and an untrusted
 * CA naming the TLS cause. Readiness is probed (the admin port's /readyz, log lines), never slept
 * for; every wait is bounded; every process is ended (at the latest when this one exits).
 */
import t from 'tap'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decodeProtectedHeader, type JWTPayload } from 'jose'
import { request } from 'undici'
import type { Asserts } from '../fixtures/asserts.js'
import { APP_ID, APP_SECRET, COOKIE_SECRET } from '../fixtures/secrets.js'
import { jwtOf, verify } from '../fixtures/signin.js'
import { startUpstream, type Upstream } from '../fixtures/upstream.js'
import { CaBrowser, DEMO_USERS, recipe, startLemonldap, type Lemonldap, type LemonldapOptions } from './lemonldap.js'

const ROOT = new URL('../../', import.meta.url).pathname
const CLIENT_ID = 'jitsi-meet'
const CLIENT_SECRET = 'interop-sidecar-client-secret-0123456789abcdef'
const PREFIX = '/jitsi/'
/** Bound of every wait for the sidecar (start, readiness, a log line): generous for a loaded 2-core machine. */
const WAIT_MS = 30_000

/** The TLS errors an unknown CA gives (Node's codes). */
const TLS_CAUSE = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|DEPTH_ZERO_SELF_SIGNED_CERT/

/** LL::NG's portalForceAuthnInterval (Common/Conf/DefaultValues.pm): prompt=login is ignored for a session younger than this. */
const FORCE_AUTHN_INTERVAL_S = 5

const started = Date.now()
t.teardown(() => t.comment(`sidecar interop suite took ${((Date.now() - started) / 1000).toFixed(1)} s`))

// --- the sidecar as users run it: the bundle, as its own process -------------------------------

const run = promisify(execFile)
let bundled: Promise<string> | undefined

/**
 * The bundle, made by package.json's own `bundle` script with the output folder swapped for a
 * temporary one (a `node_modules` link beside it resolves the bundle's external packages). Once per
 * suite; removed when this process exits (or dies).
 */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.bundle ?? ''
    const prefix = 'rm -rf dist/bundle && '
    if (!script.startsWith(prefix) || !script.includes(' --outdir=dist/bundle ')) throw new Error(`package.json's bundle script is not of the form this suite rewrites: ${script}`)
    const dir = mkdtempSync(join(tmpdir(), 'sidecar-bundle-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    // Removed also when this process dies without its exit handlers.
    const watchdog = spawn('sh', ['-c', 'while read -r _; do :; done; rm -rf "$1"', 'bundle-watchdog', dir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    watchdog.on('error', () => {})
    watchdog.unref()
    ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    const out = join(dir, 'bundle')
    const command = script.slice(prefix.length).replace(' --outdir=dist/bundle ', ` --outdir=${out} `)
    await run('sh', ['-c', command], { cwd: ROOT, timeout: 120_000, env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` } })
    return join(out, 'cli.mjs')
  })()
  return bundled
}

/** Ports handed out by freePort: never twice, though a sidecar binds its port only later. */
const handedOut = new Set<number>()

/** A loopback port free now (for PUBLIC_URL and the IdP's redirect URI, both needed before the sidecar starts). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const a = s.address()
        s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))))
      })
    })
    if (handedOut.has(port)) continue
    handedOut.add(port)
    return port
  }
}

type LogLine = Record<string, unknown> & { event?: string; level?: number; msg?: string }

interface Sidecar {
  /** PUBLIC_URL (no trailing slash). */
  readonly url: string
  readonly adminUrl: string
  readonly process: ChildProcess
  /** Every JSON line written to standard output so far. */
  readonly logs: LogLine[]
  /** The first log line (already written from index `from` on, or coming) for which `match` holds; fails after WAIT_MS with the lines so far. */
  waitForLog(match: (l: LogLine) => boolean, what: string, from?: number): Promise<LogLine>
  /** The index the next log line will have: for waitForLog's `from`. */
  mark(): number
  /** The log lines of one event. */
  events(event: string): LogLine[]
  stop(): Promise<void>
}

/** Sidecar processes not yet stopped: killed at exit at the latest. */
const liveSidecars = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of liveSidecars) p.kill('SIGKILL')
})

/**
 * Starts the bundle with `env` on `port` (PUBLIC_URL http://127.0.0.1:<port>), through `env -i` as
 * test/fixtures/built.ts does (nothing of tap's environment reaches it), and waits for its
 * `started` line; with `ready`, also for the admin port's /readyz (the IdP discovered, jitsi-web up).
 */
async function startSidecar(t: Asserts, port: number, env: Record<string, string>, opts: { ready: boolean }): Promise<Sidecar> {
  const cli = await bundle()
  const url = `http://127.0.0.1:${port}`
  const vars: Record<string, string> = {
    PATH: process.env.PATH ?? '', PUBLIC_URL: url, LISTEN_ADDRESS: `127.0.0.1:${port}`, ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
    SHUTDOWN_DELAY_SECONDS: '0', SHUTDOWN_TIMEOUT_SECONDS: '5', LOG_LEVEL: 'info', ...env,
  }
  const p = spawn('env', ['-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), process.execPath, cli, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] })
  liveSidecars.add(p)
  // If this process dies without its exit handlers (SIGKILL, tap's timeout), its end of the pipe
  // closes and the watchdog ends the sidecar, as the fixture's does for LL::NG.
  const watchdog = spawn('sh', ['-c', 'while read -r _; do :; done; kill -KILL "$1" 2>/dev/null', 'sidecar-watchdog', String(p.pid)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  watchdog.on('error', () => {})
  watchdog.unref()
  ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()))
  void exited.then(() => {
    liveSidecars.delete(p)
    watchdog.kill('SIGKILL')
  })
  const logs: LogLine[] = []
  let stderr = ''
  let waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = []
  let pending = ''
  p.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const text of lines.filter((l) => l.trim() !== '')) {
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        line = { msg: text }
      }
      logs.push(line)
      waiters = waiters.filter((w) => {
        if (!w.match(line)) return true
        w.resolve(line)
        return false
      })
    }
  })
  p.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const tail = () => `${logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')}${stderr === '' ? '' : `\nstderr: ${stderr.slice(-2000)}`}`
  const waitForLog = (match: (l: LogLine) => boolean, what: string, from = 0): Promise<LogLine> => {
    const seen = logs.slice(from).find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line ${what} from the sidecar in ${WAIT_MS} ms; last lines:\n${tail()}`)), WAIT_MS)
      const gone = () => reject(new Error(`the sidecar exited (${p.exitCode ?? p.signalCode}) before the log line ${what}:\n${tail()}`))
      void exited.then(gone)
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) })
    })
  }
  const stop = async () => {
    if (p.exitCode !== null || p.signalCode !== null) return
    p.kill('SIGTERM')
    const killer = setTimeout(() => p.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killer)
  }
  t.teardown(stop)
  const up = await waitForLog((l) => l.event === 'started', 'started')
  const adminUrl = `http://127.0.0.1:${String(up.adminPort)}`
  if (opts.ready) {
    // /readyz retries the discovery itself (rate-limited), so polling it is the probe.
    const deadline = Date.now() + WAIT_MS
    let last = ''
    for (;;) {
      const res = await request(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(WAIT_MS) })
      last = `${res.statusCode} ${await res.body.text()}`
      if (res.statusCode === 200) break
      if (Date.now() > deadline) throw new Error(`the sidecar at ${url} not ready in ${WAIT_MS} ms (/readyz: ${last}); last lines:\n${tail()}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return { url, adminUrl, process: p, logs, waitForLog, mark: () => logs.length, events: (event) => logs.filter((l) => l.event === event), stop }
}

// --- the pieces each case uses --------------------------------------------------------------------

/** How a sidecar trusts the IdP's CA: OIDC_CA_FILE (for the IdP only), NODE_EXTRA_CA_CERTS (the whole process), or not at all. */
type TrustCa = 'OIDC_CA_FILE' | 'NODE_EXTRA_CA_CERTS' | 'none'

/** The environment of a sidecar in front of `idp`. */
function sidecarEnv(idp: Lemonldap, upstream: Upstream, more: Record<string, string> = {}, trustCa: TrustCa = 'OIDC_CA_FILE'): Record<string, string> {
  return {
    UPSTREAM_URL: upstream.url,
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    JWT_APP_ID: APP_ID,
    JWT_APP_SECRET: APP_SECRET,
    COOKIE_SECRET,
    ...(trustCa === 'none' ? {} : { [trustCa]: idp.caFile }),
    ...more,
  }
}

const callbackOf = (port: number) => `http://127.0.0.1:${port}${PREFIX}callback`

/**
 * Starts LL::NG now, in the background (closed at the end of `t`, the root when it is started
 * ahead); `ready()` is for the case that uses it.
 */
function startIdp(t: { teardown(fn: () => unknown): void }, opts: Omit<LemonldapOptions, 'clientId' | 'clientSecret'>): { ready(t: Asserts): Promise<Lemonldap> } {
  const t0 = Date.now()
  const starting = startLemonldap({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...opts }).then((idp) => ({ idp, ms: Date.now() - t0 }))
  starting.catch(() => {}) // reported by ready()
  t.teardown(async () => (await starting.catch(() => undefined))?.idp.close())
  return {
    async ready(t) {
      const { idp, ms } = await starting
      t.comment(`LemonLDAP::NG ready at ${idp.issuer}, ${(ms / 1000).toFixed(1)} s after its start`)
      return idp
    },
  }
}

// IdP B starts in the background while IdP A's cases run: LL::NG's start is mostly Perl compiling
// its portal, and the cases mostly wait for the network.
const portB = await freePort()
const idpB = startIdp(t, { redirectUri: callbackOf(portB), idTokenAlg: 'RS256', claimsInIdToken: true, groupsMode: 'string', bypassConsent: true })

/** The relying party's options as LL::NG keeps them (oidcRPMetaDataOptions/<rp>). */
function rpOptions(idp: Lemonldap): Record<string, unknown> {
  return ((idp.config().oidcRPMetaDataOptions ?? {}) as Record<string, Record<string, unknown>>)[idp.rpKey] ?? {}
}

interface RoomSignIn {
  /** The sidecar's answer to the room load: a redirect to the IdP. */
  readonly authorizationUrl: URL
  /** Where LL::NG sent the browser back (the callback, unfetched). */
  readonly callback: string
  /** The callback's answer. */
  readonly done: { status: number; location: string | undefined; body: string; headers: Record<string, string | string[] | undefined> }
  /** Date.now() once LL::NG had signed the person in (its session's _utime is no later). */
  readonly signedInAt: number
}

/** Loads /<room> on the sidecar, which must send the browser to LL::NG; signs in there as `user`; fetches the callback. */
async function signInToRoom(t: Asserts, sidecar: Sidecar, idp: Lemonldap, browser: CaBrowser, room: string, user: string): Promise<RoomSignIn> {
  const start = await browser.fetch(`${sidecar.url}/${room}`)
  t.equal(start.status, 302, `/${room}: to the IdP`)
  t.match(start.location, `${idp.issuer}/oauth2/authorize?`, "LL::NG's authorization endpoint")
  const authorizationUrl = new URL(start.location!)
  const callback = await idp.login(browser, start.location!, user)
  const signedInAt = Date.now()
  t.match(callback, `${sidecar.url}${PREFIX}callback?`, `${user} signed in at LL::NG, back at the callback`)
  const done = await browser.fetch(callback)
  return { authorizationUrl, callback, done, signedInAt }
}

/** The Jitsi token in a redirect to `<sidecar>/<room>?jwt=…`, verified with JWT_APP_SECRET as Prosody does. */
async function tokenFor(t: Asserts, sidecar: Sidecar, reply: { status: number; location: string | undefined }, room: string): Promise<JWTPayload & { context?: { user?: Record<string, unknown> } }> {
  t.equal(reply.status, 302, `to /${room} with a token`)
  t.match(reply.location, new RegExp(`^${sidecar.url.replace(/[.:/]/g, '\\$&')}/${room}\\?jwt=`), `the room at PUBLIC_URL with ?jwt=`)
  const claims = await verify(jwtOf(reply.location))
  t.equal(claims.room, room.toLowerCase(), 'the token names the room (lowercase, as Jitsi compares it)')
  return claims as JWTPayload & { context?: { user?: Record<string, unknown> } }
}

/** The page's "next step" link (href), HTML entities decoded. */
function nextLink(body: string): string | undefined {
  const m = /<a class="button" href="([^"]+)"/.exec(body)
  return m?.[1]?.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(amp|quot|lt|gt));/gi, (_, dec?: string, hex?: string, name?: string) =>
    dec !== undefined ? String.fromCodePoint(Number(dec)) : hex !== undefined ? String.fromCodePoint(parseInt(hex, 16)) : ({ amp: '&', quot: '"', lt: '<', gt: '>' } as Record<string, string>)[name!.toLowerCase()]!)
}

const isLoginForm = (body: string) => /<input[^>]+name="user"/.test(body) && /<input[^>]+name="password"/.test(body)

// --- the cases --------------------------------------------------------------------------------------

t.test("IdP A, LL::NG's defaults: HS512 ID tokens, claims only at userinfo", async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  // The sidecars' ports first: the IdP's redirect URIs and front-channel URI name them.
  const [pDefaults, pGroups, pModerator, pUntrusted] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  const idp = await startIdp(t, {
    redirectUri: [pDefaults, pGroups, pModerator].map(callbackOf),
    groupsMode: 'array',
    bypassConsent: true,
    frontchannelLogoutUri: `http://127.0.0.1:${pDefaults}${PREFIX}frontchannel-logout`,
    postLogoutRedirectUris: [pDefaults, pGroups, pModerator].map((p) => `http://127.0.0.1:${p}${PREFIX}signed-out`),
  }).ready(t)
  t.comment(`LL::NG configured with:\n${recipe(idp)}`)
  const rp = rpOptions(idp)
  t.equal(rp.oidcRPMetaDataOptionsIDTokenSignAlg, 'HS512', "ID tokens signed HS512 with the client secret (the manager's preselection)")
  t.equal(String(rp.oidcRPMetaDataOptionsIDTokenForceClaims), '0', 'claims only at userinfo (LL::NG default)')

  // The sidecars start together; each is ready once it has discovered LL::NG.
  const [plain, groups, moderators] = await Promise.all([
    // Nothing but what every installation sets: no rule, the default attribute mapping (name, email).
    startSidecar(t, pDefaults, sidecarEnv(idp, upstream), { ready: true }),
    startSidecar(t, pGroups, sidecarEnv(idp, upstream, { USE_RULE: "inGroup('timelords')" }), { ready: true }),
    startSidecar(t, pModerator, sidecarEnv(idp, upstream, { USE_RULE: "inGroup('users')", MODERATOR_RULE: "inGroup('timelords')" }), { ready: true }),
  ])
  /** The denied browser and its "Sign in with another account" link, for the case after LL::NG's interval. */
  let switchAccount: { browser: CaBrowser; another: string; signedInAt: number } | undefined
  for (const s of [plain, groups, moderators]) {
    const found = await s.waitForLog((l) => l.event === 'oidc_discovered', 'oidc_discovered')
    t.equal(found.issuer, `${idp.issuer}/`, `${s.url}: discovered LL::NG over HTTPS from the throw-away CA`)
  }

  t.test('sign-in with the defaults: the token carries name and email, fetched from userinfo', async (t) => {
    const browser = new CaBrowser(idp.dispatcher)
    const { authorizationUrl, done } = await signInToRoom(t, plain, idp, browser, 'DefaultsRoom', 'dwho')
    const q = authorizationUrl.searchParams
    t.equal(q.get('client_id'), CLIENT_ID)
    t.equal(q.get('redirect_uri'), callbackOf(pDefaults))
    t.equal(q.get('response_type'), 'code')
    t.equal(q.get('scope'), 'openid profile email')
    t.equal(q.get('code_challenge_method'), 'S256')
    t.ok(q.get('state') && q.get('nonce'), 'state and nonce')
    const claims = await tokenFor(t, plain, done, 'DefaultsRoom')
    t.match(claims.context?.user, { id: 'dwho', name: DEMO_USERS.dwho.name, email: DEMO_USERS.dwho.email, affiliation: 'member' }, 'context.user from userinfo')
    t.equal(claims.context?.user?.moderator, undefined, 'no moderator claim (MODERATOR_RULE false)')
    const ok = await plain.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'dwho', 'login_succeeded of dwho')
    t.match(ok, { user: 'dwho', userinfo: true, ruleResult: true, rule: 'true' }, 'login_succeeded with "userinfo":true')
    t.equal(ok.missingClaims, undefined, 'no claim missing')
    t.strictSame(plain.events('claims_missing'), [], 'no claims_missing warning')
    t.strictSame(plain.events('request_failed'), [], 'no request failed')

    // The session mints the next token without the IdP.
    const again = await browser.fetch(`${plain.url}/OtherRoom`)
    const next = await tokenFor(t, plain, again, 'OtherRoom')
    t.equal(next.context?.user?.name, DEMO_USERS.dwho.name, 're-minted from the session')
  })

  t.test('a group rule: dwho (timelords) allowed, rtyler denied and offered another account', async (t) => {
    const allowed = await signInToRoom(t, groups, idp, new CaBrowser(idp.dispatcher), 'StaffRoom', 'dwho')
    t.equal((await tokenFor(t, groups, allowed.done, 'StaffRoom')).context?.user?.id, 'dwho')
    t.match(await groups.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'dwho', 'login_succeeded of dwho'), { rule: "inGroup('timelords')", ruleResult: true, userinfo: true })

    const browser = new CaBrowser(idp.dispatcher)
    const denied = await signInToRoom(t, groups, idp, browser, 'StaffRoom', 'rtyler')
    t.equal(denied.done.status, 403, 'rtyler: 403')
    t.match(denied.done.body, /Access denied/i, 'the Access denied page')
    t.match(denied.done.body, 'Sign in with another account', 'offers another account')
    const line = await groups.waitForLog((l) => l.event === 'login_denied', 'login_denied')
    t.match(line, { user: 'rtyler', ruleResult: false, userinfo: true, rule: "inGroup('timelords')" }, 'login_denied, groups read from userinfo')
    t.equal(line.missingClaims, undefined, 'not for a missing claim: rtyler has groups, not this one')
    t.equal((await browser.fetch(`${groups.url}/StaffRoom`)).status, 302, 'no session after the denial: the next room load goes to the IdP again')

    // "Sign in with another account": the login endpoint for the same room with prompt=login.
    const another = nextLink(denied.done.body)
    t.equal(another, `${groups.url}${PREFIX}login?room=StaffRoom&prompt=login`, 'the button: login for the same room, prompt=login')
    switchAccount = { browser, another: another!, signedInAt: denied.signedInAt }

    // A click at once: LL::NG honours prompt=login only when its session is older than
    // portalForceAuthnInterval (5 s by default); before that it sends the same account back.
    const quick = await browser.fetch(another!)
    t.equal(quick.status, 302)
    t.equal(new URL(quick.location!).searchParams.get('prompt'), 'login', 'the authorization request carries prompt=login')
    if (Date.now() - denied.signedInAt < (FORCE_AUTHN_INTERVAL_S - 1) * 1000) {
      const atIdp = await browser.fetch(quick.location!)
      t.match(atIdp.location, `${groups.url}${PREFIX}callback?`, 'within 5 s of the sign-in LL::NG ignores prompt=login: straight back, no form')
      const again = await browser.fetch(atIdp.location!)
      t.equal(again.status, 403, 'so rtyler is denied once more (the page offers the button again)')
      t.match(again.body, 'Sign in with another account')
    } else {
      t.pass('the quick-click case', { skip: 'the machine took more than 4 s from the sign-in to the click: not checked' })
    }
  })

  t.test('a moderator rule from a group: dwho moderator, rtyler not', async (t) => {
    const who = await signInToRoom(t, moderators, idp, new CaBrowser(idp.dispatcher), 'ModRoom', 'dwho')
    const whoClaims = await tokenFor(t, moderators, who.done, 'ModRoom')
    t.equal(whoClaims.context?.user?.moderator, 'true', 'dwho: moderator "true"')
    t.equal(whoClaims.context?.user?.affiliation, 'owner', 'dwho: affiliation owner')
    t.match(await moderators.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'dwho', 'login_succeeded of dwho'), { moderator: true, userinfo: true })

    const rose = await signInToRoom(t, moderators, idp, new CaBrowser(idp.dispatcher), 'ModRoom', 'rtyler')
    const roseClaims = await tokenFor(t, moderators, rose.done, 'ModRoom')
    t.equal(roseClaims.context?.user?.moderator, undefined, 'rtyler: no moderator claim')
    t.equal(roseClaims.context?.user?.affiliation, 'member', 'rtyler: affiliation member')
    t.match(await moderators.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'rtyler', 'login_succeeded of rtyler'), { moderator: false })
  })

  t.test('sign-out through the sidecar ends the IdP session; the next room load asks for a login', async (t) => {
    const browser = new CaBrowser(idp.dispatcher)
    const { done } = await signInToRoom(t, plain, idp, browser, 'ByeRoom', 'msmith')
    await tokenFor(t, plain, done, 'ByeRoom')
    t.ok(await idp.signedIn(browser), 'signed in at LL::NG')
    const portalSessions = idp.sessionCount()

    const out = await browser.fetch(`${plain.url}${PREFIX}logout`, { method: 'POST', headers: { origin: plain.url, 'content-type': 'application/x-www-form-urlencoded' }, body: '' })
    t.equal(out.status, 302, 'same-origin POST: redirected')
    t.match(out.location, `${idp.issuer}/oauth2/logout?`, "to LL::NG's end_session_endpoint")
    const end = new URL(out.location!)
    t.equal(end.searchParams.get('post_logout_redirect_uri'), `${plain.url}${PREFIX}signed-out`, 'back to our signed-out page')
    t.ok(end.searchParams.get('state'), 'with the room sealed in the state')
    const hint = end.searchParams.get('id_token_hint')
    t.ok(hint, 'with the ID token as hint')
    t.equal(decodeProtectedHeader(hint!).alg, 'HS512', 'the HS512 ID token LL::NG issued')
    t.equal(browser.cookies(plain.url).size, 0, "the sidecar's cookies are cleared")
    t.match(await plain.waitForLog((l) => l.event === 'logout' && l.user === 'msmith', 'logout of msmith'), { user: 'msmith' })

    // As a person clicking through: "Do you want to logout?" (LogoutBypassConfirm 0), the page with
    // the front-channel iframes (loaded as a browser would), back to the post_logout_redirect_uri.
    const beforeEnd = plain.mark()
    const ended = await idp.endSession(browser, out.location!)
    t.match(ended.location, new RegExp(`^${plain.url}${PREFIX}signed-out\\?state=`), 'LL::NG returns to the post_logout_redirect_uri with the state')
    const page = await browser.fetch(ended.location!)
    t.match(page.body, new RegExp(`<h1>Signed out</h1>[\\s\\S]*href="${plain.url}/[^"]+">Sign in again`), 'our page, Sign in again to the room')
    t.strictSame(ended.frontchannelUrls.map((u) => u.split('?')[0]), [`${plain.url}${PREFIX}frontchannel-logout`], 'with the front-channel iframe of the sidecar')
    for (const frame of ended.frontchannelUrls) t.equal((await browser.fetch(frame)).status, 200, 'the iframe loads')
    t.match(await plain.waitForLog((l) => l.event === 'idp_logout', 'idp_logout', beforeEnd), { channel: 'front' }, 'the sidecar takes it as a front-channel logout')
    t.notOk(await idp.signedIn(browser), 'the IdP session has ended')
    t.equal(idp.sessionCount(), portalSessions - 1, 'one portal session fewer')

    const back = await browser.fetch(ended.location!)
    t.equal(back.status, 200, 'PUBLIC_URL/ loads (jitsi-web)')
    const room = await browser.fetch(`${plain.url}/ByeRoom`)
    t.equal(room.status, 302)
    t.match(room.location, `${idp.issuer}/oauth2/authorize?`, 'the next room load goes to the IdP')
    const atIdp = await browser.fetch(room.location!)
    t.equal(atIdp.location, undefined, 'not silently back to the sidecar')
    t.ok(isLoginForm(atIdp.body), "LL::NG's login form")
  })

  t.test('logout at the portal reaches the sidecar (front-channel): the session mints no more tokens', async (t) => {
    const browser = new CaBrowser(idp.dispatcher)
    const { done } = await signInToRoom(t, plain, idp, browser, 'FrontRoom', 'rtyler')
    await tokenFor(t, plain, done, 'FrontRoom')
    await tokenFor(t, plain, await browser.fetch(`${plain.url}/FrontRoom`), 'FrontRoom')
    const sessionCookies = new Map(browser.cookies(plain.url))
    t.ok(sessionCookies.size > 0, 'a session cookie')

    const before = plain.mark()
    const out = await idp.logoutAtPortal(browser)
    t.equal(out.status, 200, "LL::NG's logout page")
    t.equal(out.frontchannelUrls.length, 1, 'with one front-channel iframe')
    const frame = new URL(out.frontchannelUrls[0]!)
    t.equal(`${frame.origin}${frame.pathname}`, `${plain.url}${PREFIX}frontchannel-logout`, "the sidecar's frontchannel_logout_uri")
    t.equal(frame.searchParams.get('iss'), idp.issuer)
    t.equal(frame.searchParams.get('sid'), 'rtyler', 'sid: the user id (LL::NG 2.16)')
    t.notOk(await idp.signedIn(browser), 'portal session ended')

    // The iframe as a third-party frame: the browser sends no cookies of ours with it.
    const framed = await new CaBrowser(idp.dispatcher).fetch(frame.href, { headers: { 'sec-fetch-dest': 'iframe', referer: idp.portal } })
    t.equal(framed.status, 200, 'the iframe loads without cookies')
    t.match(String(framed.headers['content-security-policy'] ?? ''), `frame-ancestors ${new URL(idp.issuer).origin}`, "only LL::NG's origin may frame it")
    t.match(await plain.waitForLog((l) => l.event === 'idp_logout', 'idp_logout', before), { channel: 'front' }, 'idp_logout, channel front')

    // The browser still holds the session cookie, and the sidecar no longer honours it.
    t.strictSame(new Map(browser.cookies(plain.url)), sessionCookies, 'the session cookie is still in the browser')
    const room = await browser.fetch(`${plain.url}/FrontRoom`)
    t.equal(room.status, 302)
    t.match(room.location, `${idp.issuer}/oauth2/authorize?`, 'the room load goes to the IdP, no token')
    t.ok(isLoginForm((await browser.fetch(room.location!)).body), 'and LL::NG asks for a login')

    // Signing in again works, and the new session should live (it began after the logout).
    const callback = await idp.login(browser, room.location!, 'rtyler')
    const beforeAgain = plain.mark()
    await tokenFor(t, plain, await browser.fetch(callback), 'FrontRoom')
    const later = await browser.fetch(`${plain.url}/FrontRoom`)
    t.equal(later.status, 302)
    if (!later.location?.startsWith(`${plain.url}/FrontRoom?jwt=`)) {
      await plain.waitForLog((l) => l.event === 'login_started', 'login_started', beforeAgain)
      t.comment(`the sidecar after the second sign-in:\n${plain.logs.slice(beforeAgain).filter((l) => l.event !== 'access').map((l) => JSON.stringify(l)).join('\n')}`)
    }
    // LL::NG's front-channel sid is the sub: it ends the sessions that began before the logout, not later ones.
    t.match(later.location, `${plain.url}/FrontRoom?jwt=`, 'the new session mints the next token without the IdP')
  })

  t.test('"Sign in with another account" once LL::NG honours prompt=login: rtyler switches to dwho', async (t) => {
    if (switchAccount === undefined) return t.fail('the group-rule case did not get as far as the denied page')
    const { browser, another, signedInAt } = switchAccount
    const before = groups.mark()
    // A person reading the page: LL::NG's session must be older than portalForceAuthnInterval (whole
    // seconds, compared with >), so up to FORCE_AUTHN_INTERVAL_S + 1 s after the sign-in. Not a
    // readiness wait: the IdP's rule is about time. The cases above ran in the meantime.
    const wait = signedInAt + (FORCE_AUTHN_INTERVAL_S + 1) * 1000 + 200 - Date.now()
    t.comment(`waiting ${Math.max(0, wait)} ms more for LL::NG's portalForceAuthnInterval`)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    t.ok(await idp.signedIn(browser), "rtyler's portal session is still there")
    const toIdp = await browser.fetch(another)
    t.equal(toIdp.status, 302)
    t.equal(new URL(toIdp.location!).searchParams.get('prompt'), 'login')
    const atIdp = await browser.fetch(toIdp.location!)
    t.equal(atIdp.location, undefined, 'LL::NG does not send rtyler silently back')
    t.match(atIdp.body, /action="\/renewsession"/, 'LL::NG asks to renew the session (then shows its login form)')
    const callback = await idp.login(browser, toIdp.location!, 'dwho')
    const switched = await browser.fetch(callback)
    t.equal((await tokenFor(t, groups, switched, 'StaffRoom')).context?.user?.id, 'dwho', 'signed in as dwho instead, back in the same room')
    t.match(await groups.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'dwho', 'login_succeeded of dwho', before), { ruleResult: true, userinfo: true })
  })

  t.test('an untrusted CA: discovery fails and the log names the TLS cause', async (t) => {
    const untrusted = await startSidecar(t, pUntrusted, sidecarEnv(idp, upstream, {}, 'none'), { ready: false })
    const failed = await untrusted.waitForLog((l) => l.event === 'oidc_discovery_failed', 'oidc_discovery_failed')
    t.comment(`oidc_discovery_failed: ${JSON.stringify(failed)}`)
    t.equal(failed.issuer, `${idp.issuer}/`, 'OIDC_ISSUER as the sidecar writes it (a URL: with /)')
    t.match(failed.error, /^IDP_UNAVAILABLE: discovery: /, 'the code and the failed step')
    t.match(failed.error, TLS_CAUSE, 'names the TLS error')
    t.match(failed.error, /OIDC_CA_FILE/, 'and the setting that cures it')

    const ready = await request(`${untrusted.adminUrl}/readyz`)
    t.equal(ready.statusCode, 503, 'not ready')
    t.match(await ready.body.text(), /identityProvider/, '/readyz names the IdP check')

    const room = await new CaBrowser(idp.dispatcher).fetch(`${untrusted.url}/SomeRoom`)
    t.equal(room.status, 503, 'a room load: 503')
    const line = await untrusted.waitForLog((l) => l.event === 'request_failed', 'request_failed')
    t.comment(`request_failed: ${JSON.stringify(line)}`)
    t.match(line, { code: 'IDP_UNAVAILABLE', detail: /^discovery: / })
    t.match(line.detail, TLS_CAUSE, 'names the TLS error')
  })
})

t.test('IdP B: RS256 ID tokens with the claims, groups as one string', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const port = portB
  const idp = await idpB.ready(t)
  const rp = rpOptions(idp)
  t.equal(rp.oidcRPMetaDataOptionsIDTokenSignAlg, 'RS256')
  t.equal(String(rp.oidcRPMetaDataOptionsIDTokenForceClaims), '1', 'name, email, groups in the ID token')
  t.equal(((idp.config().oidcRPMetaDataExportedVars ?? {}) as Record<string, Record<string, string>>)[idp.rpKey]?.groups, 'groups;string;never', 'groups never split: "users; timelords"')
  // Groups as LL::NG sends them ("timelords; users", either order): inGroup must see each of the two.
  // This one trusts the CA for the whole process, the way that needs no setting of the sidecar's.
  const sidecar = await startSidecar(t, port, sidecarEnv(idp, upstream, { USE_RULE: "inGroup('timelords')", MODERATOR_RULE: "inGroup('users')" }, 'NODE_EXTRA_CA_CERTS'), { ready: true })

  t.test('RS256: dwho signs in; the string groups match the rules (OIDC_GROUPS_SEPARATOR default)', async (t) => {
    const { done } = await signInToRoom(t, sidecar, idp, new CaBrowser(idp.dispatcher), 'RsaRoom', 'dwho')
    const claims = await tokenFor(t, sidecar, done, 'RsaRoom')
    t.match(claims.context?.user, { id: 'dwho', name: DEMO_USERS.dwho.name, email: DEMO_USERS.dwho.email, moderator: 'true' }, 'from the ID token; moderator by inGroup(users)')
    const ok = await sidecar.waitForLog((l) => l.event === 'login_succeeded' && l.user === 'dwho', 'login_succeeded of dwho')
    t.match(ok, { ruleResult: true, moderator: true }, 'both groups of the string matched')
    // OIDC_USERINFO=auto fetches userinfo when a claim the mapping reads is missing from the ID token:
    // the avatar's (JWT_AVATAR_ATTRIBUTE=picture) always is, LL::NG exports no picture by default.
    t.equal(ok.userinfo, true, 'userinfo fetched all the same: no `picture` in the ID token')
    t.strictSame(sidecar.events('claims_missing'), [], 'no claims_missing warning')
  })

  t.test('string groups: rtyler ("earthlings; users") is denied', async (t) => {
    const { done } = await signInToRoom(t, sidecar, idp, new CaBrowser(idp.dispatcher), 'RsaRoom', 'rtyler')
    t.equal(done.status, 403)
    t.match(await sidecar.waitForLog((l) => l.event === 'login_denied', 'login_denied'), { user: 'rtyler', ruleResult: false })
  })
})
