/**
 * The environment, read once at start-up into one frozen, typed Config.
 * Every problem is collected and reported together, each naming its variable.
 * The variables themselves (kinds, defaults, ranges) are in variables.ts.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Rule } from '../identity/rule.js'
import { isRsa, parsePrivateKey } from '../token/rsa-keys.js'
import { isLoopback, parseCidr, parseGroup, parseListenAddress, pemCertificates } from './parse.js'
import { Reader } from './reader.js'
import { GROUPS_SEPARATOR_DEFAULT } from './variables.js'
import type { AuthConfig, Config, Env, JwtConfig, OidcConfig } from './types.js'

export type * from './types.js'
export { parseListenAddress, splitTopLevel } from './parse.js'
export { SECRET_VARIABLES, VARIABLES } from './variables.js'

export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Reads config from `env`; `readFile` is injectable for tests. Throws ConfigError listing every problem. */
export function loadConfig(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): Config {
  const r = new Reader(env, readFile)
  const publicUrl = r.url('PUBLIC_URL')
  const upstream = r.url('UPSTREAM_URL')
  const listen = r.address('LISTEN_ADDRESS')
  const adminListen = r.address('ADMIN_LISTEN_ADDRESS')
  if (listen && adminListen && adminListen.port === listen.port && adminListen.port !== 0 && adminListen.host === listen.host) {
    r.problem('ADMIN_LISTEN_ADDRESS', 'must differ from LISTEN_ADDRESS (health and metrics never share the public port)')
  }
  const logLevel = r.enum('LOG_LEVEL')
  const logFormat = r.enum('LOG_FORMAT')
  const accessLog = r.enum('ACCESS_LOG')
  // Entries that do not parse are already reported.
  const trustedProxies = r.list('TRUSTED_PROXIES').flatMap((e) => parseCidr(e) ?? [])
  const shutdown = {
    delayMs: r.int('SHUTDOWN_DELAY_SECONDS') * 1000,
    timeoutMs: r.int('SHUTDOWN_TIMEOUT_SECONDS') * 1000,
  }
  const mode = r.enum('MODE')
  const auth = r.bool('ENABLE_AUTH') ? readAuth(r, publicUrl) : null
  if (mode !== 'proxy' && !r.bool('ENABLE_AUTH')) r.problem('MODE', `${mode} needs ENABLE_AUTH=1 (a plain proxy is MODE=proxy)`)
  // Forward-auth questions describe a request in headers anyone could send: only named peers may ask.
  if (mode === 'forward-auth' && trustedProxies.length === 0 && !r.problems.some((p) => p.startsWith('TRUSTED_PROXIES'))) {
    r.problem('TRUSTED_PROXIES', 'MODE=forward-auth needs the addresses of the proxies that ask PATH_PREFIX/auth (127.0.0.1/32 for jitsi-web\'s nginx in the same pod; the ingress controller\'s pods otherwise)')
  }

  if (r.problems.length > 0 || !publicUrl || !upstream || !listen || !adminListen) throw new ConfigError(r.problems)
  return deepFreeze({
    publicOrigin: publicUrl.origin,
    publicHost: publicUrl.host,
    publicProtocol: publicUrl.protocol === 'https:' ? 'https' : 'http',
    mode,
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

/** The sign-in side; null when something it needs is missing (and so reported). */
function readAuth(r: Reader, publicUrl: URL | undefined): AuthConfig | null {
  const pathPrefix = r.string('PATH_PREFIX')
  const groupsClaim = r.string('OIDC_GROUPS_CLAIM')
  const separator = r.string('OIDC_GROUPS_SEPARATOR')
  const groups = { claim: groupsClaim, separators: separator === 'none' ? '' : separator }
  const useRule = r.rule('USE_RULE', groups)
  const moderatorRule = r.rule('MODERATOR_RULE', groups)
  const features = r.features('JWT_FEATURES', groups)
  const oidc = readOidc(r, publicUrl, pathPrefix, groupsClaim)
  const jwt = readJwt(r)
  const cookie = {
    secrets: r.list('COOKIE_SECRET'),
    secure: publicUrl?.protocol === 'https:',
    sessionTtlSeconds: r.int('SESSION_TTL_SECONDS'),
  }
  const guestAccess = r.bool('GUEST_ACCESS')
  const peers = r.string('LOGOUT_PEERS')
  const logoutPeers = peers === undefined ? undefined : parseListenAddress(peers)
  if (!oidc || !useRule || !moderatorRule) return null
  const policy = policyOf(useRule, moderatorRule, features, oidc, jwt, separator)
  const rules = [useRule, moderatorRule, ...features.values()]
  const expected = new Set([...rules.flatMap((rule) => rule.claims), jwt.idAttribute, jwt.nameAttribute, jwt.mailAttribute])
  const needed = new Set([...expected, jwt.avatarAttribute, ...(jwt.group !== undefined && 'claim' in jwt.group ? [jwt.group.claim] : [])])
  const withClaims = { ...oidc, neededClaims: [...needed], expectedClaims: [...expected] }
  return { policy, pathPrefix, useRule, guestAccess, logoutPeers, roles: { moderatorRule, features }, oidc: withClaims, jwt, cookie }
}

const USERINFO: Readonly<Record<string, OidcConfig['userinfo']>> = { auto: 'auto', 1: 'always', 0: 'never' }

function readOidc(r: Reader, publicUrl: URL | undefined, pathPrefix: string, groupsClaim: string): OidcConfig | undefined {
  const issuer = r.url('OIDC_ISSUER')
  const allowHttp = r.bool('OIDC_ALLOW_HTTP') || (issuer !== undefined && isLoopback(issuer.hostname))
  if (issuer?.protocol === 'http:' && !allowHttp) {
    r.problem('OIDC_ISSUER', 'plain http is refused for a non-loopback identity provider; use https (or set OIDC_ALLOW_HTTP=1 inside a trusted network)')
  }
  const clientId = r.string('OIDC_CLIENT_ID')
  const clientSecret = r.string('OIDC_CLIENT_SECRET')
  const scopes = r.string('OIDC_SCOPES').trim().split(/\s+/).join(' ')
  const timeoutMs = r.int('OIDC_TIMEOUT_SECONDS') * 1000
  const jwksRefreshMs = r.int('OIDC_JWKS_REFRESH_SECONDS') * 1000
  const userinfo = USERINFO[r.enum('OIDC_USERINFO')] ?? 'auto'
  /** OIDC_CA_FILE: certificates only, each one that parses (any text between the blocks is ignored, as OpenSSL does). */
  const caPems = (text: string): string[] => {
    const other = /-----BEGIN ((?!CERTIFICATE-----)[A-Z0-9 ]+)-----/.exec(text)?.[1]
    if (other !== undefined) throw new Error(`holds a ${other}, not only certificates: give the CA certificates alone (-----BEGIN CERTIFICATE----- blocks)`)
    const pems = pemCertificates(text)
    if (pems.length === 0) throw new Error('is not PEM CA certificates: it has no -----BEGIN CERTIFICATE----- block (a DER file converts with `openssl x509 -inform der -in ca.der -out ca.pem`)')
    pems.forEach((pem, i) => {
      try {
        new X509Certificate(pem)
      } catch {
        throw new Error(`has a certificate that does not parse (number ${i + 1} of ${pems.length})`)
      }
    })
    return pems
  }
  const caCertificates: string[] = []
  r.file('OIDC_CA_FILE', (text) => caCertificates.push(...caPems(text)))
  const internalUrl = r.url('OIDC_INTERNAL_URL')
  if (internalUrl?.protocol === 'http:' && !allowHttp && !isLoopback(internalUrl.hostname)) {
    r.problem('OIDC_INTERNAL_URL', "plain http is refused off loopback: use https (the IdP's certificate must name OIDC_ISSUER's host), or set OIDC_ALLOW_HTTP=1 inside a trusted network")
  }
  if (!issuer || !publicUrl) return undefined
  return {
    issuer,
    clientId,
    clientSecret,
    scopes,
    groupsClaim,
    redirectUri: `${publicUrl.origin}${pathPrefix}callback`,
    timeoutMs,
    jwksRefreshMs,
    allowHttp,
    userinfo,
    neededClaims: [],
    expectedClaims: [],
    postLogoutRedirectUri: `${publicUrl.origin}${pathPrefix}signed-out`,
    ...(caCertificates.length > 0 ? { caCertificates } : {}),
    ...(internalUrl ? { internalUrl } : {}),
  }
}

/**
 * RFC 7518 § 3.2: an HMAC key at least as long as the hash (32, 48, 64 bytes for HS256/384/512);
 * jose and Prosody accept shorter ones, which only makes the shared secret easier to guess.
 */
function hsSecret(r: Reader, alg: string | undefined): string {
  const secret = r.string('JWT_APP_SECRET')
  const needed = { HS256: 32, HS384: 48, HS512: 64 }[alg ?? ''] ?? 0
  if (Buffer.byteLength(secret) < needed) {
    r.problem('JWT_APP_SECRET', `is ${Buffer.byteLength(secret)} bytes; ${alg} needs at least ${needed} (RFC 7518 § 3.2), e.g. \`openssl rand -base64 ${needed}\``)
  }
  return secret
}

function readJwt(r: Reader): JwtConfig {
  const appId = r.string('JWT_APP_ID')
  const alg = r.enum('JWT_ALG')
  const rsa = isRsa(alg)
  const jwt: JwtConfig = {
    appId,
    alg,
    secret: rsa ? '' : hsSecret(r, alg),
    privateKeyFile: rsa ? r.file('JWT_PRIVATE_KEY_FILE', parsePrivateKey) : '',
    keyId: rsa ? r.string('JWT_KEY_ID') : undefined,
    publicKeysDir: rsa ? r.dir('JWT_PUBLIC_KEYS_DIR') : undefined,
    keyReloadSeconds: r.int('JWT_KEY_RELOAD_SECONDS'),
    issuer: r.string('JWT_ISSUER') ?? appId,
    audience: r.string('JWT_AUDIENCE') ?? appId,
    subject: r.string('JWT_SUBJECT'),
    subjectDefault: r.string('JWT_SUBJECT_DEFAULT')?.trim() || '*',
    roomClaim: r.enum('JWT_ROOM_CLAIM'),
    ttlSeconds: r.int('JWT_TTL_SECONDS'),
    delivery: r.enum('JWT_DELIVERY'),
    idAttribute: r.string('JWT_ID_ATTRIBUTE'),
    nameAttribute: r.string('JWT_NAME_ATTRIBUTE'),
    mailAttribute: r.string('JWT_MAIL_ATTRIBUTE'),
    avatarAttribute: r.string('JWT_AVATAR_ATTRIBUTE'),
    group: parseGroup(r.string('JWT_GROUP')),
  }
  if (jwt.subject === '{tenant}' && !r.string('JWT_SUBJECT_DEFAULT')?.trim()) {
    // '*' would pass domain verification for every tenant and undo tenant isolation.
    r.problem('JWT_SUBJECT_DEFAULT', 'required with JWT_SUBJECT={tenant}: the sub for rooms without a tenant, usually the XMPP domain (e.g. meet.jitsi)')
  }
  return jwt
}

/** Fingerprint of everything that decides access and claims at sign-in (see AuthConfig.policy). */
function policyOf(useRule: Rule, moderatorRule: Rule, features: ReadonlyMap<string, Rule>, oidc: OidcConfig, jwt: JwtConfig, separator: string): string {
  return createHash('sha256').update(JSON.stringify([
    useRule.source, moderatorRule.source, [...features].map(([k, v]) => [k, v.source]), oidc.groupsClaim, oidc.userinfo,
    jwt.idAttribute, jwt.nameAttribute, jwt.mailAttribute, jwt.avatarAttribute, jwt.group ?? null,
    // Appended only when changed, so sessions made before the setting existed stay valid.
    ...(separator === GROUPS_SEPARATOR_DEFAULT ? [] : [separator]),
  ])).digest('base64url').slice(0, 16)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof URL) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
