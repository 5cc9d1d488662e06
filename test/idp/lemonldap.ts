/**
 * A real LemonLDAP::NG OpenID Connect provider for the interop suite (issue 16): Debian's packages
 * (lemonldap-ng 2.16, lemonldap-ng-fastcgi-server, nginx-light), started on loopback by the test
 * itself in a temporary folder, with nothing of the machine's own LemonLDAP::NG or nginx used or
 * touched:
 *
 * - a throw-away CA (openssl) and a server certificate for localhost / 127.0.0.1 / ::1 / auth.localhost;
 * - its own nginx (own nginx.conf, pid, logs and temp paths; a free loopback port picked at start)
 *   serving the portal over HTTPS, as Debian's /etc/lemonldap-ng/portal-nginx.conf does, and passing
 *   it on by FastCGI to
 * - Debian's llng-fastcgi-server on a unix socket in the folder;
 * - its own lemonldap-ng.ini and File configuration backend (lmConf-N.json), the Demo user backend
 *   (dwho/dwho, rtyler/rtyler, msmith/msmith), the OpenID Connect issuer with an RSA key made by
 *   LemonLDAP::NG's own rotateOidcKeys, and one relying party, all set with lemonldap-ng-cli (the
 *   commands are kept in `commands`, for the documented recipe).
 *
 * Everything runs as the current user; as root (CI), as `nobody` instead, because
 * llng-fastcgi-server refuses to run as root. Readiness is probed (discovery answers 200 with the
 * expected issuer), never slept for. close() ends every process and removes the folder; so does the
 * exit of this process, and a watchdog process does it when this one dies without running its exit
 * handlers (SIGKILL, a crash of the runtime).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'

const run = promisify(execFile)

/** Debian's programs the fixture runs. */
export const LLNG_FASTCGI_SERVER = '/usr/sbin/llng-fastcgi-server'
export const LLNG_CLI = '/usr/share/lemonldap-ng/bin/lemonldap-ng-cli'
export const LLNG_ROTATE_OIDC_KEYS = '/usr/share/lemonldap-ng/bin/rotateOidcKeys'
export const LLNG_PORTAL_HTDOCS = '/usr/share/lemonldap-ng/portal/htdocs'
export const NGINX = '/usr/sbin/nginx'

/**
 * The Debian packages the suite needs (install with `apt-get install -y --no-install-recommends`).
 * The first three are the product; the others are Recommends of those packages (a plain
 * `apt-get install lemonldap-ng` brings them) without which the parts we use do not load:
 * the manager CLI needs Email::Sender and MIME::Entity, the OpenID Connect issuer String::Random and
 * Crypt::OpenSSL::Bignum, the portal's default captcha module GD::SecurityImage with Image::Magick
 * (it is loaded at start-up even when no captcha is enabled), and the CLI's restore IO::String.
 */
export const LEMONLDAP_PACKAGES = [
  'lemonldap-ng', 'lemonldap-ng-fastcgi-server', 'nginx-light',
  'libemail-sender-perl', 'libmime-tools-perl', 'libstring-random-perl', 'libcrypt-openssl-bignum-perl',
  'libgd-securityimage-perl', 'libimage-magick-perl', 'libio-string-perl',
] as const

/** The Demo backend's accounts (password = login) and their groups (Lemonldap::NG::Portal::UserDB::Demo). */
export const DEMO_USERS = {
  dwho: { name: 'Doctor Who', email: 'dwho@badwolf.org', groups: ['timelords', 'users'] },
  rtyler: { name: 'Rose Tyler', email: 'rtyler@badwolf.org', groups: ['earthlings', 'users'] },
  msmith: { name: 'Mickey Smith', email: 'msmith@badwolf.org', groups: ['earthlings', 'users'] },
} as const

export type IdTokenAlg = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512'

export interface LemonldapOptions {
  readonly clientId: string
  readonly clientSecret: string
  /** The relying party's redirect URI(s) (oidcRPMetaDataOptionsRedirectUris, space-separated). */
  readonly redirectUri: string | readonly string[]
  /** oidcRPMetaDataOptionsIDTokenSignAlg. Default HS512: what LL::NG's manager preselects for a new relying party. */
  readonly idTokenAlg?: IdTokenAlg
  /** oidcRPMetaDataOptionsIDTokenForceClaims. Default false (LL::NG's): name, email, groups only at userinfo. */
  readonly claimsInIdToken?: boolean
  /**
   * The type of the exported `groups` claim (oidcRPMetaDataExportedVars/<rp>/groups = `groups;string;<mode>`):
   * 'array' = always a list, 'string' = never split (`"users; timelords"`, the Demo backend joins with
   * multiValuesSeparator `; `), 'auto' = LL::NG's default for a claim added without options: a list when the
   * user has several groups, a plain string when one. Default 'auto'.
   */
  readonly groupsMode?: 'array' | 'string' | 'auto'
  /** oidcRPMetaDataOptionsLogoutUrl (with LogoutType front and LogoutSessionRequired 1, so `iss` and `sid` are sent). */
  readonly frontchannelLogoutUri?: string
  /** oidcRPMetaDataOptionsPostLogoutRedirectUris (space-separated). */
  readonly postLogoutRedirectUris?: readonly string[]
  /** oidcRPMetaDataOptionsLogoutBypassConfirm. Default false (LL::NG's): the end-session endpoint asks the person to confirm. */
  readonly logoutBypassConfirm?: boolean
  /** oidcRPMetaDataOptionsBypassConsent. Default false (LL::NG's): the first login of a user asks consent; login() accepts it. */
  readonly bypassConsent?: boolean
  /** More claims: claim → session attribute (oidcRPMetaDataExportedVars/<rp>/<claim>), added to name/family_name/email/groups. */
  readonly exportedVars?: Readonly<Record<string, string>>
  /** The relying party's configuration key (oidcRPMetaDataOptions/<rpKey>). Default 'jitsi'. */
  readonly rpKey?: string
  /**
   * The host name of the portal and issuer. Default 'localhost' (LL::NG's cookie `domain` must be a DNS
   * name for its configuration check: an IP address is saved with an error). '127.0.0.1' works too.
   */
  readonly hostname?: 'localhost' | '127.0.0.1'
  /**
   * FastCGI worker processes (each compiles the portal on its first request). Default 1: each worker
   * keeps its own session cache, and a second one can answer a portal logout from a copy of the
   * session made before the login added our client to it (no front-channel iframe then; seen on a
   * loaded machine).
   */
  readonly workers?: number
  /** LL::NG's logLevel (error, warn, notice, info, debug). Default 'info'. */
  readonly logLevel?: 'error' | 'warn' | 'notice' | 'info' | 'debug'
  /** How long start-up may take before it fails (default 90 s: a loaded 2-core machine). */
  readonly readyTimeoutMs?: number
}

/** What login() needs of a browser: the shape of test/fixtures/client.ts's Browser (no automatic redirects, keeps cookies). */
export interface BrowserLike {
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; location: string | undefined; body: string }>
}

export interface PortalLogout {
  readonly status: number
  /** The front-channel logout URLs the portal's page loads in iframes (iss and sid in the query). */
  readonly frontchannelUrls: string[]
  /** Where the portal sent the browser at the end (a post_logout_redirect_uri), when it did. */
  readonly location: string | undefined
  /** The URL of the last page the browser got (body): where the person is left when there is no `location`. */
  readonly endedAt: string
  readonly body: string
}

export interface Lemonldap {
  /** https://<hostname>:<port>, as in the discovery document (oidcServiceMetaDataIssuer). */
  readonly issuer: string
  /** The portal URL (`portal`): issuer + '/'. */
  readonly portal: string
  /** The throw-away CA's PEM file: NODE_EXTRA_CA_CERTS for a sidecar process. */
  readonly caFile: string
  /** The same CA as PEM text. */
  readonly ca: string
  /** An undici dispatcher that trusts the CA (and nothing else). */
  readonly dispatcher: Agent
  /** The temporary folder (removed by close()). */
  readonly dir: string
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUris: readonly string[]
  /** The relying party's configuration key. */
  readonly rpKey: string
  /** The process groups of llng-fastcgi-server (with its workers) and nginx (with its worker): all gone after close(). */
  readonly processGroups: readonly number[]
  /** Every configuration command run, as argv (program first), in order: the recipe. */
  readonly commands: readonly (readonly string[])[]
  /** The configuration in force (the last lmConf-N.json), parsed. */
  config(): Record<string, unknown>
  /** LL::NG's own log (portal, FastCGI server) and nginx's error log so far: for failure messages. */
  logs(): string
  /** Portal (SSO) sessions stored now, read from the Apache::Session::File store; OIDC code/token sessions are not counted. */
  sessionCount(): number
  /**
   * Signs `user` in at the portal for an authorization request: fetches `authorizationUrl`, submits
   * the login form (user, password and its hidden fields: url, token, skin, timezone), accepts the
   * consent page when shown, and returns the redirect to the client's redirect URI (not followed)
   * with `code` and `state` (or `error`). Throws with the portal's message when the login fails.
   */
  login(browser: BrowserLike, authorizationUrl: string, user: string, password?: string): Promise<string>
  /** Logs out at the portal (`/?logout=1`), as the person would on the IdP's page: returns the front-channel iframes it shows. */
  logoutAtPortal(browser: BrowserLike): Promise<PortalLogout>
  /**
   * Follows an RP-initiated logout (the end_session_endpoint URL) as a person clicking through:
   * accepts "Do you want to logout?", clicks "Continue" on the page with the front-channel iframes,
   * and returns the iframes seen and where the browser ends: `location` when the portal redirects
   * out (post_logout_redirect_uri), else the last page (`endedAt`, `body`).
   */
  endSession(browser: BrowserLike, endSessionUrl: string): Promise<PortalLogout>
  /** Whether the browser has a live portal session (the portal's /ping). */
  signedIn(browser: BrowserLike): Promise<boolean>
  close(): Promise<void>
}

/** Thrown when Debian's packages are missing: says exactly what to install. */
export class LemonldapMissing extends Error {}

/** Checks that the programs and Perl modules are there; throws LemonldapMissing naming the packages otherwise. */
export async function checkLemonldapInstalled(): Promise<void> {
  const install = `apt-get install -y --no-install-recommends ${LEMONLDAP_PACKAGES.join(' ')}`
  const missing = [LLNG_FASTCGI_SERVER, LLNG_CLI, LLNG_ROTATE_OIDC_KEYS, LLNG_PORTAL_HTDOCS, NGINX].filter((p) => !existsSync(p))
  if (missing.length > 0) {
    throw new LemonldapMissing(`LemonLDAP::NG is not installed (missing ${missing.join(', ')}): the interop suite needs Debian's packages; install them with \`${install}\` (.ci/run does this)`)
  }
  const modules = [
    'Lemonldap::NG::Portal::Issuer::OpenIDConnect', 'Lemonldap::NG::Manager::Cli', 'Lemonldap::NG::Common::Cli',
    'Email::Sender::Transport::SMTP', 'MIME::Entity', 'String::Random', 'Crypt::OpenSSL::Bignum', 'Image::Magick', 'GD::SecurityImage', 'IO::String', 'FCGI::ProcManager',
  ]
  try {
    await run('perl', ['-e', modules.map((m) => `use ${m};`).join(' ')], { timeout: 60_000 })
  } catch (e) {
    const detail = String((e as { stderr?: string }).stderr ?? e).split('\n')[0]
    throw new LemonldapMissing(`LemonLDAP::NG's Perl modules do not load (${detail}): install the packages with \`${install}\` (.ci/run does this)`)
  }
}

/** Who runs the IdP's processes: ourselves, or `nobody` when we are root (llng-fastcgi-server refuses root). */
interface RunAs {
  readonly uid?: number
  readonly gid?: number
}

async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {}
  const { stdout } = await run('getent', ['passwd', 'nobody'])
  const [, , uid, gid] = stdout.trim().split(':')
  if (uid === undefined || gid === undefined) throw new Error(`cannot read the nobody account: ${stdout}`)
  return { uid: Number(uid), gid: Number(gid) }
}

/** A base folder every user can traverse (as root the processes run as nobody). */
function baseDir(as: RunAs): string {
  const base = tmpdir()
  if (as.uid === undefined) return base
  for (let p = base; p !== '/'; p = join(p, '..')) {
    if ((statSync(p).mode & 0o001) === 0) return '/tmp'
  }
  return base
}

function chownTree(path: string, as: RunAs): void {
  if (as.uid === undefined || as.gid === undefined) return
  chownSync(path, as.uid, as.gid)
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), as)
}

/** A loopback port free now on 127.0.0.1 (and on ::1 when `alsoV6` and IPv6 works); whether ::1 can be used. */
async function freePort(alsoV6: boolean): Promise<{ port: number; v6: boolean }> {
  const listen = (host: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(port, host, () => {
        const a = s.address()
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
      })
    })
  for (let i = 0; i < 20; i++) {
    const port = await listen('127.0.0.1', 0)
    if (!alsoV6) return { port, v6: false }
    try {
      await listen('::1', port)
      return { port, v6: true }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return { port, v6: false }
      // EADDRINUSE on ::1: another port
    }
  }
  throw new Error('no free loopback port found')
}

/** The configuration commands of an instance as shell lines (the documented recipe's form). */
export function recipe(idp: Pick<Lemonldap, 'commands'>): string {
  return idp.commands.map((argv) => argv.map(shellQuote).join(' ')).join('\n')
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** HTML attribute text to its value. */
function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, e: string) => {
    const l = e.toLowerCase()
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16))
    if (l.startsWith('#')) return String.fromCodePoint(Number(l.slice(1)))
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[l] ?? ''
  })
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag)
  return m === null ? undefined : unescapeHtml(m[1] ?? m[2] ?? m[3] ?? '')
}

interface Form {
  readonly action: string
  readonly method: string
  /** The form's class: LL::NG's pages say what they are with it (login, confirm, info). */
  readonly cls: string
  readonly fields: Map<string, string>
}

/** The forms of a page: action resolved against the page's URL ('#' = the page itself), inputs with their values (unchecked boxes left out, as a browser does). */
function forms(html: string, pageUrl: string): Form[] {
  const found: Form[] = []
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const open = m[1] ?? ''
    const rawAction = attr(open, 'action') ?? ''
    const page = new URL(pageUrl)
    page.hash = ''
    const action = rawAction === '' || rawAction.startsWith('#') ? page.href : new URL(rawAction, page).href
    const fields = new Map<string, string>()
    for (const i of (m[2] ?? '').matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(i[0], 'name')
      if (name === undefined) continue
      const type = (attr(i[0], 'type') ?? 'text').toLowerCase()
      if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/i.test(i[0])) continue
      if (type === 'submit' || type === 'button' || type === 'image') continue
      fields.set(name, attr(i[0], 'value') ?? '')
    }
    found.push({ action, method: (attr(open, 'method') ?? 'get').toLowerCase(), cls: attr(open, 'class') ?? '', fields })
  }
  return found
}

/** The portal's error or information message on a page, as text. */
function portalMessage(html: string): string {
  const m = /<div[^>]*class="[^"]*\bmessage\b[^"]*"[^>]*>([\s\S]*?)<\/div>/i.exec(html)
  const raw = m?.[1] ?? ''
  const spans = [...raw.matchAll(/trmsg="(\d+)"|trspan="([^"]+)"/g)].map((s) => (s[1] !== undefined ? `message #${s[1]}` : s[2]))
  const text = raw.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()
  return [text, ...spans].filter((s) => s !== undefined && s !== '').join(' / ') || html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300)
}

/** The URL a browser is at after submitting `form`. */
function submittedUrl(form: Form): string {
  if (form.method === 'post') return form.action
  const target = new URL(form.action)
  target.search = new URLSearchParams([...form.fields]).toString()
  return target.href
}

/** Submits `form` as a browser does (urlencoded body for POST, the query for GET). */
function submit(browser: BrowserLike, form: Form) {
  if (form.method !== 'post') return browser.fetch(submittedUrl(form))
  return browser.fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([...form.fields]).toString() })
}

function iframes(html: string): string[] {
  return [...html.matchAll(/<iframe\b[^>]*>/gi)].map((m) => attr(m[0], 'src')).filter((s): s is string => s !== undefined)
}

/** Processes of one IdP instance, killed at exit even when close() is never called. */
const live = new Set<() => void>()
process.on('exit', () => {
  for (const kill of live) kill()
})

/** Sends `signal` to a whole process group, quietly when it is gone already. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // gone already
  }
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((resolve) => p.once('exit', () => resolve()))
}

/**
 * Starts a LemonLDAP::NG OpenID Connect provider; see the file's comment. Throws LemonldapMissing
 * when Debian's packages are missing, and an error with the IdP's logs when it does not come up.
 */
export async function startLemonldap(opts: LemonldapOptions): Promise<Lemonldap> {
  await checkLemonldapInstalled()
  const as = await runAs()
  // A port taken between our probe and nginx's bind is the one start-up failure worth another try.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, as)
    } catch (e) {
      if (attempt < 3 && e instanceof PortTaken) continue
      throw e
    }
  }
}

class PortTaken extends Error {}

async function startOnce(opts: LemonldapOptions, as: RunAs): Promise<Lemonldap> {
  const started = Date.now()
  const deadline = started + (opts.readyTimeoutMs ?? 90_000)
  const hostname = opts.hostname ?? 'localhost'
  const rpKey = opts.rpKey ?? 'jitsi'
  const redirectUris = typeof opts.redirectUri === 'string' ? [opts.redirectUri] : [...opts.redirectUri]
  const dir = mkdtempSync(join(baseDir(as), 'llng-'))
  chmodSync(dir, 0o755)
  const path = (...p: string[]) => join(dir, ...p)
  const children: ChildProcess[] = []
  let watchdog: ChildProcess | undefined
  let closed = false
  const killAllNow = () => {
    for (const c of children) killGroup(c.pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  live.add(killAllNow)
  const dispatcherHolder: { agent?: Agent } = {}
  const cleanUp = async () => {
    if (closed) return
    closed = true
    watchdog?.kill('SIGKILL')
    for (const c of children) killGroup(c.pid, 'SIGTERM')
    const grace = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())
    await Promise.race([Promise.all(children.map(exited)), grace])
    // The FastCGI manager's workers and nginx's workers share their leader's group: none survives this.
    for (const c of children) killGroup(c.pid, 'SIGKILL')
    live.delete(killAllNow)
    rmSync(dir, { recursive: true, force: true })
    await dispatcherHolder.agent?.close()
  }

  try {
    for (const d of ['conf', 'cache', 'sessions/lock', 'psessions/lock', 'notifications', 'nginx-temp']) mkdirSync(path(d), { recursive: true })

    // --- throw-away CA and server certificate (EC keys: quick to make on a busy machine) ---
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    await run('openssl', ['req', '-x509', ...ec, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=jitsi-oidc-sidecar interop test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    await run('openssl', ['req', ...ec, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', `/CN=${hostname}`])
    writeFileSync(path('server.ext'), [
      'subjectAltName=DNS:localhost,DNS:auth.localhost,IP:127.0.0.1,IP:::1',
      'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', '',
    ].join('\n'))
    await run('openssl', ['x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial',
      '-out', path('server.pem'), '-days', '2', '-extfile', path('server.ext')])
    const ca = readFileSync(path('ca.pem'), 'utf8')
    const dispatcher = (dispatcherHolder.agent = new Agent({ connect: { ca, timeout: 10_000 }, headersTimeout: 60_000, bodyTimeout: 60_000 }))

    const { port, v6 } = await freePort(hostname === 'localhost')
    const issuer = `https://${hostname}:${port}`
    const portal = `${issuer}/`

    // --- LL::NG's local configuration (lemonldap-ng.ini), as Debian's but every path in the folder ---
    const ini = path('lemonldap-ng.ini')
    writeFileSync(ini, `; jitsi-oidc-sidecar interop test: Debian's /etc/lemonldap-ng/lemonldap-ng.ini, paths in ${dir}
[all]
logLevel = ${opts.logLevel ?? 'info'}
logger = Lemonldap::NG::Common::Logger::Std
userLogger = Lemonldap::NG::Common::Logger::Std
checkTime = 1

[configuration]
type = File
dirName = ${path('conf')}
prettyPrint = 1
localStorage = Cache::FileCache
localStorageOptions = { 'namespace' => 'lemonldap-ng-config', 'default_expires_in' => 600, 'directory_umask' => '007', 'cache_root' => '${path('cache')}', 'cache_depth' => 3 }

[portal]
staticPrefix = /static
templateDir = /usr/share/lemonldap-ng/portal/templates
languages = en, fr

[handler]
status = 0
useRedirectOnError = 1

[manager]
protection = manager
staticPrefix = /static
templateDir = /usr/share/lemonldap-ng/manager/htdocs/templates
languages = en
enabledModules = conf, sessions, notifications, 2ndFA
`)

    // --- the first configuration: Debian's lmConf-1.json without its example.com sample applications ---
    writeFileSync(path('conf', 'lmConf-1.json'), JSON.stringify({
      cfgNum: 1, cfgAuthor: 'jitsi-oidc-sidecar interop test', cfgDate: String(Math.floor(Date.now() / 1000)), cfgVersion: '2.16.1',
      authentication: 'Demo', userDB: 'Same', passwordDB: 'Demo', registerDB: 'Demo',
      demoExportedVars: { cn: 'cn', mail: 'mail', uid: 'uid' },
      cookieName: 'lemonldap', domain: 'example.com', portal: 'http://auth.example.com/', securedCookie: 0,
      globalStorage: 'Apache::Session::File',
      globalStorageOptions: { Directory: path('sessions'), LockDirectory: path('sessions', 'lock'), generateModule: 'Lemonldap::NG::Common::Apache::Session::Generate::SHA256' },
      persistentStorage: 'Apache::Session::File',
      persistentStorageOptions: { Directory: path('psessions'), LockDirectory: path('psessions', 'lock') },
      localSessionStorage: 'Cache::FileCache',
      localSessionStorageOptions: { cache_depth: 3, cache_root: path('cache'), default_expires_in: 600, directory_umask: '007', namespace: 'lemonldap-ng-sessions' },
      notification: 1, notificationStorage: 'File', notificationStorageOptions: { dirName: path('notifications') },
      exportedVars: {}, exportedHeaders: {}, groups: {}, locationRules: {},
      macros: { UA: '$ENV{HTTP_USER_AGENT}', _whatToTrace: "$_auth eq 'SAML' ? lc($_user.'@'.$_idpConfKey) : $_auth eq 'OpenIDConnect' ? lc($_user.'@'.$_oidc_OP) : lc($_user)" },
      whatToTrace: '_whatToTrace',
      loginHistoryEnabled: 1, oidcServiceIgnoreScopeForClaims: 1, portalSkin: 'bootstrap', sessionDataToRemember: {}, timeout: 72000,
    }, null, 2))
    chownTree(dir, as)

    // --- the configuration commands (the recipe) ---
    const commands: string[][] = []
    const env = { ...process.env, LLNG_DEFAULTCONFFILE: ini, LLNG_DEFAULTLOGGER: 'Lemonldap::NG::Common::Logger::Std' }
    const configure = async (argv: string[]) => {
      commands.push(argv)
      const [cmd, ...args] = argv
      try {
        const { stderr } = await run(cmd!, args, { env, cwd: dir, timeout: Math.max(10_000, deadline - Date.now()), ...as })
        // The CLI says "Saved under number N" (on stderr) when it saved; rotateOidcKeys says nothing.
        if (cmd === LLNG_CLI && !/Saved under number \d+/.test(stderr)) throw new Error(stderr)
      } catch (e) {
        const out = e as { stderr?: string; stdout?: string; message?: string }
        throw new Error(`LemonLDAP::NG configuration command failed: ${argv.map(shellQuote).join(' ')}\n${out.stderr ?? ''}${out.stdout ?? ''}${out.stderr === undefined ? out.message ?? '' : ''}`)
      }
    }
    // -safe 1: a configuration the manager's checks reject is not saved (an IP address as `domain` is one).
    const cli = [LLNG_CLI, '-yes', '1', '-safe', hostname === '127.0.0.1' ? '0' : '1', '-iniFile', ini]
    await configure([...cli, 'set',
      'portal', portal,
      'domain', hostname,
      'securedCookie', '1',
      'issuerDBOpenIDConnectActivation', '1',
      'oidcServiceMetaDataIssuer', issuer,
    ])
    // The issuer's signing key (RS256 ID tokens, JWKS): LL::NG's own key rotation script makes one.
    await configure([LLNG_ROTATE_OIDC_KEYS])
    const rp = `oidcRPMetaDataOptions/${rpKey}`
    const rpOpts: [string, string][] = [
      ['oidcRPMetaDataOptionsDisplayName', 'Jitsi Meet'],
      ['oidcRPMetaDataOptionsClientID', opts.clientId],
      ['oidcRPMetaDataOptionsClientSecret', opts.clientSecret],
      ['oidcRPMetaDataOptionsRedirectUris', redirectUris.join(' ')],
      ['oidcRPMetaDataOptionsIDTokenSignAlg', opts.idTokenAlg ?? 'HS512'],
      ['oidcRPMetaDataOptionsIDTokenForceClaims', opts.claimsInIdToken === true ? '1' : '0'],
      ['oidcRPMetaDataOptionsBypassConsent', opts.bypassConsent === true ? '1' : '0'],
      ['oidcRPMetaDataOptionsLogoutBypassConfirm', opts.logoutBypassConfirm === true ? '1' : '0'],
    ]
    if (opts.postLogoutRedirectUris !== undefined) rpOpts.push(['oidcRPMetaDataOptionsPostLogoutRedirectUris', opts.postLogoutRedirectUris.join(' ')])
    if (opts.frontchannelLogoutUri !== undefined) {
      rpOpts.push(['oidcRPMetaDataOptionsLogoutUrl', opts.frontchannelLogoutUri], ['oidcRPMetaDataOptionsLogoutType', 'front'], ['oidcRPMetaDataOptionsLogoutSessionRequired', '1'])
    }
    const groupsMode = { array: 'always', string: 'never', auto: 'auto' }[opts.groupsMode ?? 'auto']
    const claims: [string, string][] = [
      // The manager's three defaults for a new relying party, then groups.
      ['name', 'cn'], ['family_name', 'sn'], ['email', 'mail'],
      ['groups', `groups;string;${groupsMode}`],
      ...Object.entries(opts.exportedVars ?? {}),
    ]
    await configure([...cli, 'addKey',
      ...rpOpts.flatMap(([k, v]) => [rp, k, v]),
      ...claims.flatMap(([k, v]) => [`oidcRPMetaDataExportedVars/${rpKey}`, k, v]),
    ])

    // --- nginx, as Debian's portal-nginx.conf (HTTPS added), everything in the folder ---
    const listen = [`listen 127.0.0.1:${port} ssl;`, ...(v6 ? [`listen [::1]:${port} ssl;`] : [])]
    writeFileSync(path('nginx.conf'), `# jitsi-oidc-sidecar interop test: LemonLDAP::NG portal over HTTPS
worker_processes 1;
pid ${path('nginx.pid')};
error_log ${path('nginx-error.log')} notice;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${path('nginx-access.log')};
  client_body_temp_path ${path('nginx-temp', 'body')};
  fastcgi_temp_path ${path('nginx-temp', 'fastcgi')};
  proxy_temp_path ${path('nginx-temp', 'proxy')};
  scgi_temp_path ${path('nginx-temp', 'scgi')};
  uwsgi_temp_path ${path('nginx-temp', 'uwsgi')};
  upstream llng_portal_upstream { server unix:${path('llng-fastcgi.sock')}; }
  server {
    ${listen.join('\n    ')}
    server_name ${hostname};
    ssl_certificate ${path('server.pem')};
    ssl_certificate_key ${path('server.key')};
    root ${LLNG_PORTAL_HTDOCS}/;
    if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {
      rewrite ^/(.*)$ /index.psgi/$1 break;
    }
    location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass llng_portal_upstream;
      fastcgi_param HTTP_HOST $http_host;
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
      fastcgi_param PATH_INFO $fastcgi_path_info;
      fastcgi_read_timeout 120s;
    }
    index index.psgi;
    location / { try_files $uri $uri/ =404; }
    location /static/ { alias ${LLNG_PORTAL_HTDOCS}/static/; }
    location /javascript/ { alias /usr/share/javascript/; }
  }
}
`)
    chownTree(dir, as)

    // --- the processes: each the leader of its own group, output to files in the folder ---
    const start = (cmd: string, args: string[], log: string) => {
      const fd = openSync(path(log), 'a')
      try {
        const child = spawn(cmd, args, { cwd: dir, env, detached: true, stdio: ['ignore', fd, fd], ...as })
        child.on('error', () => {})
        children.push(child)
        return child
      } finally {
        closeSync(fd)
      }
    }
    const fcgi = start(LLNG_FASTCGI_SERVER, ['--foreground', '--proc', String(opts.workers ?? 1), '--socket', path('llng-fastcgi.sock'), '--pid', path('llng-fastcgi.pid')], 'llng.log')
    const nginx = start(NGINX, ['-p', dir, '-c', path('nginx.conf'), '-e', path('nginx-error.log'), '-g', 'daemon off;'], 'nginx.out')
    // If this process dies without its exit handlers, its end of the pipe closes: the watchdog cleans up.
    watchdog = spawn('sh', ['-c', 'while read -r _; do :; done; kill -KILL "-$1" "-$2" 2>/dev/null; rm -rf "$3"', 'llng-watchdog', String(fcgi.pid), String(nginx.pid), dir], {
      detached: true, stdio: ['pipe', 'ignore', 'ignore'],
    })
    watchdog.on('error', () => {})
    watchdog.unref()
    ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()

    const readLog = (name: string) => {
      try {
        return readFileSync(path(name), 'utf8')
      } catch {
        return ''
      }
    }
    const logs = () =>
      ['llng.log', 'nginx.out', 'nginx-error.log'].map((f) => `--- ${f}\n${readLog(f).split('\n').filter((l) => !/Route "\*" redefined/.test(l)).slice(-60).join('\n')}`).join('\n')

    // --- readiness: discovery answers 200 with our issuer, from every FastCGI worker ---
    // Each worker compiles the portal on its first request (1-2 s idle, 10 s and more on a loaded
    // machine): a cold worker met later by a sidecar with a 2 s IdP timeout would fail a test by
    // chance. So the probes go `workers` at a time (a worker busy compiling takes no other request:
    // the next one goes to another worker), and, where LL::NG logs at info level, start-up waits
    // until every worker has said "Loading configuration N for process PID".
    const workers = opts.workers ?? 1
    const logsCompiles = ['info', 'debug'].includes(opts.logLevel ?? 'info')
    const warmWorkers = () => new Set([...readLog('llng.log').matchAll(/Loading configuration \d+ for process (\d+)/g)].map((m) => Number(m[1])).filter((pid) => pid !== fcgi.pid)).size
    const discovery = `${issuer}/.well-known/openid-configuration`
    let last = 'no answer yet'
    const probe = async (): Promise<boolean> => {
      try {
        const res = await request(discovery, { dispatcher, signal: AbortSignal.timeout(Math.max(1_000, deadline - Date.now())) })
        const text = await res.body.text()
        if (res.statusCode === 200 && (JSON.parse(text) as { issuer?: string }).issuer === issuer) return true
        last = `${res.statusCode}: ${text.slice(0, 200)}`
        // A portal that failed to initialise stays failed: no use waiting.
        if (/Initialization failed/.test(text)) throw new Error(`LemonLDAP::NG's portal did not initialise\n${logs()}`)
      } catch (e) {
        if (e instanceof Error && /did not initialise/.test(e.message)) throw e
        last = String((e as Error).message ?? e)
      }
      return false
    }
    for (;;) {
      for (const [name, c] of [['llng-fastcgi-server', fcgi], ['nginx', nginx]] as const) {
        if (c.exitCode !== null || c.signalCode !== null) {
          const text = logs()
          if (name === 'nginx' && /Address already in use/.test(text)) throw new PortTaken(`port ${port} was taken`)
          throw new Error(`LemonLDAP::NG did not start: ${name} exited (${c.exitCode ?? c.signalCode})\n${text}`)
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`LemonLDAP::NG not ready after ${Date.now() - started} ms at ${discovery} (${last}; ${warmWorkers()} of ${workers} workers started)\n${logs()}`)
      }
      const answers = await Promise.all(Array.from({ length: workers }, probe))
      if (answers.every(Boolean) && (!logsCompiles || warmWorkers() >= workers)) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }

    const lastConfig = (): Record<string, unknown> => {
      const nums = readdirSync(path('conf')).map((f) => /^lmConf-(\d+)\.json$/.exec(f)?.[1]).filter((n): n is string => n !== undefined).map(Number)
      return JSON.parse(readFileSync(path('conf', `lmConf-${Math.max(...nums)}.json`), 'utf8')) as Record<string, unknown>
    }
    const isRedirectUri = (url: string | undefined) => url !== undefined && redirectUris.some((r) => url.split(/[?#]/)[0] === r.split(/[?#]/)[0])

    const idp: Lemonldap = {
      issuer,
      portal,
      caFile: path('ca.pem'),
      ca,
      dispatcher,
      dir,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      redirectUris,
      rpKey,
      processGroups: children.map((c) => c.pid!),
      commands,
      config: lastConfig,
      logs,
      sessionCount: () =>
        readdirSync(path('sessions')).filter((f) => {
          if (f === 'lock') return false
          try {
            return (JSON.parse(readFileSync(path('sessions', f), 'utf8')) as { _session_kind?: string })._session_kind === 'SSO'
          } catch {
            return false // being written
          }
        }).length,

      async login(browser, authorizationUrl, user, password = user) {
        let url = authorizationUrl
        let reply = await browser.fetch(url)
        let loginPosted = false
        for (let step = 0; step < 12; step++) {
          if (reply.location !== undefined) {
            if (isRedirectUri(reply.location)) return reply.location
            url = reply.location
            reply = await browser.fetch(url)
            continue
          }
          const page = forms(reply.body, url)
          const login = page.find((f) => f.fields.has('user') && f.fields.has('password'))
          const consent = page.find((f) => f.fields.has('confirm'))
          let form: Form
          if (login !== undefined) {
            if (loginPosted) throw new Error(`login of ${user} refused by LemonLDAP::NG: ${portalMessage(reply.body)}`)
            loginPosted = true
            login.fields.set('user', user)
            login.fields.set('password', password)
            form = login
          } else if (consent !== undefined) {
            form = consent
          } else {
            throw new Error(`LemonLDAP::NG answered ${reply.status} at ${url} with neither a login form, a consent page nor a redirect to the client: ${portalMessage(reply.body)}`)
          }
          reply = await submit(browser, form)
          url = submittedUrl(form)
        }
        throw new Error(`login of ${user} did not reach the redirect URI in 12 steps (last at ${url}: ${reply.status})`)
      },

      async logoutAtPortal(browser) {
        const url = `${portal}?logout=1`
        const reply = await browser.fetch(url)
        return { status: reply.status, frontchannelUrls: iframes(reply.body), location: reply.location, endedAt: url, body: reply.body }
      },

      async endSession(browser, endSessionUrl) {
        let url = endSessionUrl
        let reply = await browser.fetch(url)
        const frames: string[] = []
        for (let step = 0; step < 8; step++) {
          frames.push(...iframes(reply.body))
          if (reply.location !== undefined) {
            // Leaving the portal: that is where the browser ends up.
            if (!reply.location.startsWith(portal)) return { status: reply.status, frontchannelUrls: frames, location: reply.location, endedAt: url, body: reply.body }
            url = reply.location
            reply = await browser.fetch(url)
            continue
          }
          const page = forms(reply.body, url)
          // "Do you want to logout?" (LogoutBypassConfirm 0): its "Accept" posts the form as it is.
          // "Information" with the front-channel iframes: its timer (or "Continue") submits the form,
          // a GET to /oauth2 that ends at the post_logout_redirect_uri.
          const form = page.find((f) => f.fields.has('confirm')) ?? page.find((f) => /\binfo\b/.test(f.cls))
          if (form === undefined) break // e.g. the login form: LL::NG 2.16 can leave the person there
          // A form that leaves the portal (Continue to the post_logout_redirect_uri): that is where the browser goes.
          if (!form.action.startsWith(portal)) return { status: reply.status, frontchannelUrls: frames, location: submittedUrl(form), endedAt: url, body: reply.body }
          reply = await submit(browser, form)
          url = submittedUrl(form)
        }
        return { status: reply.status, frontchannelUrls: frames, location: reply.location, endedAt: url, body: reply.body }
      },

      async signedIn(browser) {
        // The portal's /ping: {"status":1} with a live session, {"status":0} without.
        const reply = await browser.fetch(`${portal}ping`, { headers: { accept: 'application/json' } })
        const status = (JSON.parse(reply.body) as { status?: number }).status
        if (reply.status !== 200 || (status !== 0 && status !== 1)) throw new Error(`the portal's /ping answered ${reply.status}: ${reply.body.slice(0, 200)}`)
        return status === 1
      },

      close: cleanUp,
    }
    return idp
  } catch (e) {
    await cleanUp()
    throw e
  }
}

/**
 * A browser stand-in for the IdP and the sidecar together: cookies by host (ports ignored, as
 * browsers do), no automatic redirects, HTTPS trusted through `dispatcher` (the IdP's CA). The same
 * shape as test/fixtures/client.ts's Browser, which uses the global dispatcher instead.
 */
export class CaBrowser implements BrowserLike {
  readonly jar = new Map<string, Map<string, string>>()
  constructor(readonly dispatcher: Agent) {}

  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname
    let m = this.jar.get(host)
    if (!m) this.jar.set(host, (m = new Map()))
    return m
  }

  async fetch(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const jar = this.cookies(url)
    const headers: Record<string, string> = { accept: 'text/html', 'user-agent': 'jitsi-oidc-sidecar interop test', ...init.headers }
    if (jar.size > 0 && headers.cookie === undefined) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers, body: init.body ?? null, dispatcher: this.dispatcher })
    const body = await res.body.text()
    const raw = res.headers['set-cookie']
    for (const sc of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      const [pair = ''] = sc.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = /;\s*max-age=0/i.test(sc) || (/;\s*expires=([^;]+)/i.exec(sc) !== null && Date.parse(/;\s*expires=([^;]+)/i.exec(sc)![1]!) < Date.now())
      if (expired || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    const loc = res.headers.location
    const location = loc === undefined ? undefined : new URL(Array.isArray(loc) ? loc[0]! : loc, url).href
    return { status: res.statusCode, headers: res.headers, body, location }
  }
}
