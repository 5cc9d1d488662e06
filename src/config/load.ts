/**
 * The environment, read once at start-up into one frozen, typed Config.
 * Every problem is collected and reported together, each naming its variable.
 * Secrets may also come from files (`NAME_FILE`), as Kubernetes mounts them.
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { KID_PATTERN, parsePrivateKey } from '../token/keys.js'
import { compileRule, type Rule } from '../identity/rule.js'

/** What Prosody's JWT code verifies: nothing else is worth minting. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512'] as const
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

export interface Cidr {
  readonly address: string
  readonly prefix: number
  readonly family: 'ipv4' | 'ipv6'
}

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface Config {
  /** PUBLIC_URL's origin, e.g. `https://meet.example.com`: every redirect we issue starts with it. */
  readonly publicOrigin: string
  readonly publicHost: string
  readonly publicProtocol: 'http' | 'https'
  readonly upstream: URL
  readonly listen: ListenAddress
  /** Health, readiness and metrics: never routed by the Service that faces users. */
  readonly adminListen: ListenAddress
  readonly logLevel: string
  readonly logFormat: 'json' | 'pretty'
  /** ACCESS_LOG: an access line for every request, only for answers of 400 and above (and 499), or none. */
  readonly accessLog: AccessLog
  /** Peers whose X-Forwarded-* headers are believed (an ingress); empty: nobody's. */
  readonly trustedProxies: readonly Cidr[]
  readonly shutdown: { readonly delayMs: number; readonly timeoutMs: number }
  /** null when ENABLE_AUTH=0: the sidecar is a plain proxy. */
  readonly auth: AuthConfig | null
}

export interface AuthConfig {
  /**
   * Fingerprint of everything that decides access and claims at sign-in
   * (rules, mappings). Sessions made under another one sign in again, so
   * tightening USE_RULE or MODERATOR_RULE takes effect at once.
   */
  readonly policy: string
  readonly pathPrefix: string
  readonly useRule: Rule
  /** GUEST_ACCESS=1: room loads without a session pass through (Jitsi's JWT_ALLOW_EMPTY setups). */
  readonly guestAccess: boolean
  readonly oidc: OidcConfig
  readonly jwt: JwtConfig
  readonly roles: RolesConfig
  readonly cookie: CookieConfig
}

/** Jitsi features a token can switch on or off (`context.features`). */
const JITSI_FEATURES = [
  'recording', 'livestreaming', 'transcription', 'outbound-call', 'sip-outbound-call', 'create-polls',
  'send-groupchat', 'file-upload', 'list-visitors', 'flip',
] as const

/** Moderator and feature rules, evaluated once per sign-in. */
export interface RolesConfig {
  readonly moderatorRule: Rule
  /** Feature → rule, in the order configured; empty: no `context.features`. */
  readonly features: ReadonlyMap<string, Rule>
}

export interface OidcConfig {
  readonly issuer: URL
  readonly clientId: string
  readonly clientSecret: string
  readonly scopes: string
  readonly groupsClaim: string
  /** `PUBLIC_URL` + `PATH_PREFIX` + `callback`. */
  readonly redirectUri: string
  readonly timeoutMs: number
  /** How long a fetched JWKS is used before it is fetched again (OIDC_JWKS_REFRESH_SECONDS). */
  readonly jwksRefreshMs: number
  /** Plain-HTTP issuer allowed (loopback, or OIDC_ALLOW_HTTP=1). */
  readonly allowHttp: boolean
  /** OIDC_USERINFO=1: rules and mappings also read the userinfo response. */
  readonly userinfo: boolean
  /** Where the IdP sends people after RP-initiated logout: PUBLIC_URL + `/`. */
  readonly postLogoutRedirectUri: string
}

export interface JwtConfig {
  readonly appId: string
  readonly alg: JwtAlgorithm
  /** HS*: the shared secret ('' for RS*). */
  readonly secret: string
  /** RS*: the signing key's PEM file ('' for HS*). */
  readonly privateKeyFile: string
  /** RS*: JWT_KEY_ID, or undefined to derive the kid from the key (RFC 7638 thumbprint). */
  readonly keyId: string | undefined
  /** RS*: more public keys to publish, as `<kid>.pem`. */
  readonly publicKeysDir: string | undefined
  /** RS*: how often key files are checked for changes; 0 = never. */
  readonly keyReloadSeconds: number
  readonly issuer: string
  readonly audience: string
  /** `sub`; `{tenant}` means the room's tenant, and subjectDefault for rooms without one. */
  readonly subject: string
  readonly subjectDefault: string
  /** `room` (per-room tokens) or `*` (one token for every room). */
  readonly roomClaim: 'room' | '*'
  readonly ttlSeconds: number
  readonly idAttribute: string
  readonly nameAttribute: string
  readonly mailAttribute: string
  readonly avatarAttribute: string
  /** JWT_GROUP: `context.group`, a constant or a claim. */
  readonly group: { readonly claim: string } | { readonly value: string } | undefined
}

export interface CookieConfig {
  /** First encrypts, all decrypt (rotation). */
  readonly secrets: readonly string[]
  readonly secure: boolean
  readonly sessionTtlSeconds: number
}

export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export type Env = Readonly<Record<string, string | undefined>>

/** Every variable the sidecar reads (secrets also with `_FILE`). Kept in one place so docs and manifests can be checked against it. */
export const SECRET_VARIABLES = ['OIDC_CLIENT_SECRET', 'JWT_APP_SECRET', 'COOKIE_SECRET'] as const
export const VARIABLES = [
  'PUBLIC_URL', 'UPSTREAM_URL', 'LISTEN_ADDRESS', 'ADMIN_LISTEN_ADDRESS', 'LOG_LEVEL', 'LOG_FORMAT', 'ACCESS_LOG', 'TRUSTED_PROXIES',
  'SHUTDOWN_DELAY_SECONDS', 'SHUTDOWN_TIMEOUT_SECONDS', 'ENABLE_AUTH', 'PATH_PREFIX', 'USE_RULE',
  'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_SCOPES', 'OIDC_GROUPS_CLAIM',
  'OIDC_TIMEOUT_SECONDS', 'OIDC_JWKS_REFRESH_SECONDS', 'OIDC_ALLOW_HTTP', 'OIDC_USERINFO', 'GUEST_ACCESS', 'MODERATOR_RULE', 'JWT_FEATURES',
  'JWT_APP_ID', 'JWT_APP_SECRET', 'JWT_ALG', 'JWT_PRIVATE_KEY_FILE', 'JWT_KEY_ID', 'JWT_PUBLIC_KEYS_DIR',
  'JWT_KEY_RELOAD_SECONDS', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_SUBJECT', 'JWT_TTL_SECONDS',
  'JWT_ID_ATTRIBUTE', 'JWT_NAME_ATTRIBUTE', 'JWT_MAIL_ATTRIBUTE', 'JWT_AVATAR_ATTRIBUTE', 'JWT_GROUP',
  'JWT_SUBJECT_DEFAULT', 'JWT_ROOM_CLAIM',
  'COOKIE_SECRET', 'SESSION_TTL_SECONDS',
] as const

export type AccessLog = 'all' | 'errors' | 'off'
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const MIN_COOKIE_SECRET_BYTES = 32

/** Reads config from `env`; `readFile` is injectable for tests. Throws ConfigError listing every problem. */
export function loadConfig(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): Config {
  const problems: string[] = []
  const r = new Reader(env, readFile, problems)

  const publicUrl = r.url('PUBLIC_URL', undefined, (u) => {
    if (u.pathname !== '/' || u.search || u.hash || u.username || u.password) {
      return 'must be an origin only, like https://meet.example.com (no path, query or credentials)'
    }
    return undefined
  })
  const upstream = r.url('UPSTREAM_URL', 'http://127.0.0.1:80', (u) =>
    u.protocol !== 'http:' ? 'must be an http:// URL (jitsi-web in the same pod)' : undefined,
  )
  const listen = r.listen('LISTEN_ADDRESS', '0.0.0.0:8080')
  const adminListen = r.listen('ADMIN_LISTEN_ADDRESS', '0.0.0.0:9090')
  if (adminListen.port === listen.port && adminListen.port !== 0 && adminListen.host === listen.host) {
    problems.push('ADMIN_LISTEN_ADDRESS: must differ from LISTEN_ADDRESS (health and metrics never share the public port)')
  }
  const logLevel = r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS)
  const logFormat = r.oneOf('LOG_FORMAT', 'json', ['json', 'pretty']) as 'json' | 'pretty'
  const accessLog = r.oneOf('ACCESS_LOG', 'all', ['all', 'errors', 'off']) as AccessLog
  const trustedProxies: Cidr[] = []
  for (const entry of r.string('TRUSTED_PROXIES', '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const cidr = parseCidr(entry)
    if (cidr) trustedProxies.push(cidr)
    else problems.push(`TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`)
  }
  const shutdown = {
    delayMs: r.int('SHUTDOWN_DELAY_SECONDS', 5, 0, 300) * 1000,
    timeoutMs: r.int('SHUTDOWN_TIMEOUT_SECONDS', 25, 1, 3600) * 1000,
  }
  const enableAuth = r.flag('ENABLE_AUTH', true)

  let auth: AuthConfig | null = null
  if (enableAuth) {
    const pathPrefix = r.string('PATH_PREFIX', '/jitsi/')
    if (!/^\/(?:[A-Za-z0-9._~-]+\/)+$/.test(pathPrefix)) {
      problems.push(`PATH_PREFIX: must look like /jitsi/ (starts and ends with /, letters, digits, . _ ~ -), got ${JSON.stringify(pathPrefix)}`)
    }
    const groupsClaim = r.string('OIDC_GROUPS_CLAIM', 'groups')
    const rule = (name: string, source: string): Rule | undefined => {
      try {
        return compileRule(source, groupsClaim)
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message.split('\n')[0]}`)
        return undefined
      }
    }
    const useRule = rule('USE_RULE', r.string('USE_RULE', 'true'))
    const moderatorRule = rule('MODERATOR_RULE', r.string('MODERATOR_RULE', 'false'))
    const features = new Map<string, Rule>()
    for (const entry of splitTopLevel(r.string('JWT_FEATURES', ''))) {
      const eq = entry.indexOf('=')
      const name = (eq === -1 ? entry : entry.slice(0, eq)).trim()
      if (eq === -1 || !(JITSI_FEATURES as readonly string[]).includes(name)) {
        problems.push(`JWT_FEATURES: ${JSON.stringify(entry.trim())} is not feature=rule with a known feature (${JITSI_FEATURES.join(', ')})`)
        continue
      }
      if (features.has(name)) problems.push(`JWT_FEATURES: ${name} is given twice`)
      const compiled = rule(`JWT_FEATURES (${name})`, entry.slice(eq + 1))
      if (compiled) features.set(name, compiled)
    }

    const issuer = r.url('OIDC_ISSUER', undefined, (u) => (u.search || u.hash ? 'must not have a query or fragment' : undefined))
    const allowHttpFlag = r.flag('OIDC_ALLOW_HTTP', false)
    const allowHttp = allowHttpFlag || (issuer !== undefined && isLoopback(issuer.hostname))
    if (issuer && issuer.protocol === 'http:' && !allowHttp) {
      problems.push('OIDC_ISSUER: plain http is refused for a non-loopback identity provider; use https (or set OIDC_ALLOW_HTTP=1 inside a trusted network)')
    }
    const clientId = r.required('OIDC_CLIENT_ID')
    const clientSecret = r.secret('OIDC_CLIENT_SECRET', true)
    const scopes = r.string('OIDC_SCOPES', 'openid profile email').trim().split(/\s+/)
    if (!scopes.includes('openid')) problems.push('OIDC_SCOPES: must include openid')
    const timeoutSeconds = r.int('OIDC_TIMEOUT_SECONDS', 10, 1, 120)
    const jwksRefreshSeconds = r.int('OIDC_JWKS_REFRESH_SECONDS', 600, 1, 86400)

    const appId = r.required('JWT_APP_ID')
    const alg = r.string('JWT_ALG', 'HS256') as JwtAlgorithm
    if (!JWT_ALGORITHMS.includes(alg)) {
      problems.push(`JWT_ALG: must be one of ${JWT_ALGORITHMS.join(', ')} (what Jitsi's Prosody verifies: no ES*, PS*, EdDSA or none), got ${JSON.stringify(alg)}`)
    }
    const rsa = alg.startsWith('RS')
    const secret = rsa ? '' : r.secret('JWT_APP_SECRET', true)
    const privateKeyFile = rsa ? r.required('JWT_PRIVATE_KEY_FILE') : ''
    if (rsa && privateKeyFile !== '') {
      try {
        parsePrivateKey(readFile(privateKeyFile))
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        problems.push(`JWT_PRIVATE_KEY_FILE: ${privateKeyFile} ${code ? `cannot be read (${code})` : (err as Error).message}`)
      }
    }
    const keyId = rsa ? r.optional('JWT_KEY_ID') : undefined
    if (keyId !== undefined && !KID_PATTERN.test(keyId)) problems.push(`JWT_KEY_ID: letters, digits, . _ ~ - only, at most 128, got ${JSON.stringify(keyId)}`)
    const publicKeysDir = rsa ? r.optional('JWT_PUBLIC_KEYS_DIR') : undefined
    if (publicKeysDir !== undefined) {
      let isDir = false
      try {
        isDir = statSync(publicKeysDir).isDirectory()
      } catch {
        // reported below
      }
      if (!isDir) problems.push(`JWT_PUBLIC_KEYS_DIR: ${publicKeysDir} is not a readable folder`)
    }
    const keyReloadSeconds = r.int('JWT_KEY_RELOAD_SECONDS', 30, 0, 3600)
    const cookieSecrets = r
      .secret('COOKIE_SECRET', true)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    cookieSecrets.forEach((s, i) => {
      if (Buffer.byteLength(s) < MIN_COOKIE_SECRET_BYTES) {
        problems.push(`COOKIE_SECRET: key ${i + 1} is ${Buffer.byteLength(s)} bytes; each key needs at least ${MIN_COOKIE_SECRET_BYTES} (e.g. \`openssl rand -base64 32\`)`)
      }
    })

    const jwt: JwtConfig = {
      appId,
      alg,
      secret,
      privateKeyFile,
      keyId,
      publicKeysDir,
      keyReloadSeconds,
      issuer: r.string('JWT_ISSUER', appId),
      audience: r.string('JWT_AUDIENCE', appId),
      subject: r.string('JWT_SUBJECT', '*'),
      subjectDefault: r.string('JWT_SUBJECT_DEFAULT', '*').trim() || '*',
      roomClaim: r.oneOf('JWT_ROOM_CLAIM', 'room', ['room', '*']) as 'room' | '*',
      ttlSeconds: r.int('JWT_TTL_SECONDS', 300, 30, 86400),
      idAttribute: r.string('JWT_ID_ATTRIBUTE', 'sub'),
      nameAttribute: r.string('JWT_NAME_ATTRIBUTE', 'name'),
      mailAttribute: r.string('JWT_MAIL_ATTRIBUTE', 'email'),
      avatarAttribute: r.string('JWT_AVATAR_ATTRIBUTE', 'picture'),
      group: parseGroup(r.optional('JWT_GROUP')),
    }
    if (jwt.group && 'claim' in jwt.group && jwt.group.claim === '') problems.push('JWT_GROUP: claim: needs a claim name, e.g. claim:organization')
    for (const [name, value] of [['JWT_ISSUER', jwt.issuer], ['JWT_AUDIENCE', jwt.audience], ['JWT_SUBJECT', jwt.subject]] as const) {
      // An empty default only follows from a missing JWT_APP_ID, already reported.
      if (value.trim() === '' && env[name] !== undefined) problems.push(`${name}: must not be empty`)
    }
    const sessionTtlSeconds = r.int('SESSION_TTL_SECONDS', 28800, 60, 30 * 86400)

    const userinfo = r.flag('OIDC_USERINFO', false)
    const guestAccess = r.flag('GUEST_ACCESS', false)

    if (jwt.subject === '{tenant}' && env.JWT_SUBJECT_DEFAULT === undefined) {
      // '*' would pass domain verification for every tenant and undo tenant isolation.
      problems.push('JWT_SUBJECT_DEFAULT: required with JWT_SUBJECT={tenant}: the sub for rooms without a tenant, usually the XMPP domain (e.g. meet.jitsi)')
    }

    if (publicUrl && issuer && useRule && moderatorRule) {
      const policy = createHash('sha256').update(JSON.stringify([
        useRule.source, moderatorRule.source, [...features].map(([k, v]) => [k, v.source]), groupsClaim, userinfo,
        jwt.idAttribute, jwt.nameAttribute, jwt.mailAttribute, jwt.avatarAttribute, jwt.group ?? null,
      ])).digest('base64url').slice(0, 16)
      auth = {
        policy,
        pathPrefix,
        useRule,
        guestAccess,
        roles: { moderatorRule, features },
        oidc: {
          issuer,
          clientId,
          clientSecret,
          scopes: scopes.join(' '),
          groupsClaim,
          redirectUri: `${publicUrl.origin}${pathPrefix}callback`,
          timeoutMs: timeoutSeconds * 1000,
          jwksRefreshMs: jwksRefreshSeconds * 1000,
          allowHttp,
          userinfo,
          postLogoutRedirectUri: `${publicUrl.origin}/`,
        },
        jwt,
        cookie: { secrets: cookieSecrets, secure: publicUrl.protocol === 'https:', sessionTtlSeconds },
      }
    }
  }

  if (problems.length > 0 || !publicUrl || !upstream) throw new ConfigError(problems)
  return deepFreeze({
    publicOrigin: publicUrl.origin,
    publicHost: publicUrl.host,
    publicProtocol: publicUrl.protocol === 'https:' ? 'https' : 'http',
    upstream,
    listen,
    adminListen,
    logLevel,
    logFormat,
    accessLog,
    trustedProxies,
    shutdown,
    auth,
  })
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  const address = slash === -1 ? text : text.slice(0, slash)
  const v = isIP(address)
  if (v === 0) return undefined
  const max = v === 4 ? 32 : 128
  const prefix = slash === -1 ? max : Number(text.slice(slash + 1))
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash !== -1 && !/^\d{1,3}$/.test(text.slice(slash + 1)))) return undefined
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' }
}

/** JWT_GROUP: `claim:NAME` reads a claim, anything else is a constant. */
function parseGroup(value: string | undefined): JwtConfig['group'] {
  if (value === undefined) return undefined
  return value.startsWith('claim:') ? { claim: value.slice(6).trim() } : { value }
}

/**
 * Splits `a=rule,b=rule` on the commas that separate entries, not those
 * inside parentheses, brackets or quotes of a CEL expression.
 */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") quote = c
    else if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts.filter((p) => p.trim() !== '')
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListenAddress(value: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim())
  if (!m) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

class Reader {
  constructor(
    private readonly env: Env,
    private readonly readFile: (path: string) => string,
    private readonly problems: string[],
  ) {}

  private raw(name: string): string | undefined {
    const v = this.env[name]
    return v === undefined || v === '' ? undefined : v
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback
  }

  optional(name: string): string | undefined {
    return this.raw(name)
  }

  required(name: string): string {
    const v = this.raw(name)
    if (v === undefined) this.problems.push(`${name}: required`)
    return v ?? ''
  }

  /** A secret from NAME or the file named by NAME_FILE (one trailing newline dropped). */
  secret(name: string, required: boolean): string {
    const direct = this.raw(name)
    const file = this.raw(`${name}_FILE`)
    if (direct !== undefined && file !== undefined) {
      this.problems.push(`${name}: set either ${name} or ${name}_FILE, not both`)
      return ''
    }
    if (file !== undefined) {
      try {
        const v = this.readFile(file).replace(/\r?\n$/, '')
        if (v === '') this.problems.push(`${name}_FILE: ${file} is empty`)
        return v
      } catch (err) {
        this.problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
        return ''
      }
    }
    if (direct === undefined && required) this.problems.push(`${name}: required (or ${name}_FILE)`)
    return direct ?? ''
  }

  flag(name: string, fallback: boolean): boolean {
    const v = this.raw(name)
    if (v === undefined) return fallback
    if (['1', 'true', 'yes', 'on'].includes(v.toLowerCase())) return true
    if (['0', 'false', 'no', 'off'].includes(v.toLowerCase())) return false
    this.problems.push(`${name}: must be 1 or 0, got ${JSON.stringify(v)}`)
    return fallback
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!/^\d+$/.test(v) || n < min || n > max) {
      this.problems.push(`${name}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`)
      return fallback
    }
    return n
  }

  oneOf(name: string, fallback: string, allowed: readonly string[]): string {
    const v = this.raw(name) ?? fallback
    if (!allowed.includes(v)) this.problems.push(`${name}: must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`)
    return v
  }

  url(name: string, fallback: string | undefined, check: (u: URL) => string | undefined): URL | undefined {
    const v = this.raw(name) ?? fallback
    if (v === undefined) {
      this.problems.push(`${name}: required`)
      return undefined
    }
    let u: URL
    try {
      u = new URL(v)
    } catch {
      this.problems.push(`${name}: not a URL: ${JSON.stringify(v)}`)
      return undefined
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      this.problems.push(`${name}: must be http:// or https://, got ${JSON.stringify(v)}`)
      return undefined
    }
    const problem = check(u)
    if (problem) {
      this.problems.push(`${name}: ${problem}`)
      return undefined
    }
    return u
  }

  listen(name: string, fallback: string): ListenAddress {
    const v = this.raw(name) ?? fallback
    const a = parseListenAddress(v)
    if (!a) {
      this.problems.push(`${name}: must be host:port, [ipv6]:port or :port, got ${JSON.stringify(v)}`)
      return { host: '0.0.0.0', port: 8080 }
    }
    return a
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof URL) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
