/**
 * Every environment variable the sidecar reads, in one table: the reader
 * (reader.ts) takes kind, default, range and checks from here, and
 * test/config.test.ts holds docs/configuration.md to it.
 */
import { KID_PATTERN, KID_RULE } from '../token/rsa-keys.js'
import { isCidr, parseListenAddress } from './parse.js'
import { ACCESS_LOGS, JWT_ALGORITHMS, MODES } from './types.js'

/** Sections of docs/configuration.md, in order. */
export const GROUPS = {
  server: 'Server',
  logging: 'Logging',
  signin: 'Sign-in and sessions',
  oidc: 'Identity provider',
  tokens: 'Tokens',
  rsa: 'Public-key tokens (RS*)',
  claims: 'Roles, features and claims',
} as const
export type Group = keyof typeof GROUPS

/** A problem with a value, said after `NAME: `; undefined when it is fine. */
type Check<T> = (value: T) => string | undefined

interface Common {
  readonly name: string
  readonly group: Group
  readonly about: string
  /** The value used when unset, as it would be written in the environment. */
  readonly default?: string
  /** Set when unset is an error (if the variable is read at all): how the docs say so. */
  readonly required?: string
  /** Without a default and not required: what unset means, as the docs say it (else `none`). */
  readonly unset?: string
  /** Also readable from the file named by `NAME_FILE`. */
  readonly secret?: boolean
}

export type Variable = Common &
  (
    | { readonly kind: 'string'; readonly check?: Check<string> }
    | { readonly kind: 'url'; readonly check?: Check<URL> }
    | { readonly kind: 'int'; readonly min: number; readonly max: number }
    | { readonly kind: 'enum'; readonly values: readonly string[]; readonly hint?: string }
    /** Comma-separated; the check is per item, with its index. */
    | { readonly kind: 'list'; readonly check?: (item: string, index: number) => string | undefined }
    /** `feature=rule` entries, comma-separated at the top level. */
    | { readonly kind: 'features'; readonly values: readonly string[] }
    | { readonly kind: 'bool' }
    | { readonly kind: 'address' }
    /** A CEL expression (see identity/rule.ts). */
    | { readonly kind: 'rule' }
    /** A path whose content must parse. */
    | { readonly kind: 'file' }
    | { readonly kind: 'dir' }
  )
export type Kind = Variable['kind']

const MIN_COOKIE_SECRET_BYTES = 32
/** LemonLDAP::NG's multi-value separator; commas stay whole, as in LDAP DNs. */
export const GROUPS_SEPARATOR_DEFAULT = ';'
const notEmpty: Check<string> = (v) => (v.trim() === '' ? 'must not be empty' : undefined)

export const VARIABLE_TABLE = [
  { name: 'PUBLIC_URL', group: 'server', kind: 'url', required: 'required', about: 'Public origin of the Jitsi site; every redirect stays on it',
    check: (u) => (u.pathname !== '/' || u.search || u.hash || u.username || u.password
      ? 'must be an origin only, like https://meet.example.com (no path, query or credentials)' : undefined) },
  { name: 'MODE', group: 'server', kind: 'enum', default: 'proxy', values: MODES,
    about: 'proxy: in front of jitsi-web; issuer: only PATH_PREFIX is routed here; forward-auth: also answers PATH_PREFIX/auth for an ingress' },
  { name: 'UPSTREAM_URL', group: 'server', kind: 'url', default: 'http://127.0.0.1:80', about: 'jitsi-web in the same pod (MODE=proxy)',
    check: (u) => (u.protocol !== 'http:' ? 'must be an http:// URL (jitsi-web in the same pod)' : undefined) },
  { name: 'LISTEN_ADDRESS', group: 'server', kind: 'address', default: '0.0.0.0:8080', about: 'Where the sidecar listens' },
  { name: 'ADMIN_LISTEN_ADDRESS', group: 'server', kind: 'address', default: '0.0.0.0:9090', about: 'Health, readiness and metrics' },
  { name: 'TRUSTED_PROXIES', group: 'server', kind: 'list', about: 'Peers whose X-Forwarded-* headers are kept',
    check: (e) => (isCidr(e) ? undefined : `${JSON.stringify(e)} is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`) },
  { name: 'SHUTDOWN_DELAY_SECONDS', group: 'server', kind: 'int', default: '5', min: 0, max: 300, about: 'Serving, not ready, after SIGTERM' },
  { name: 'SHUTDOWN_TIMEOUT_SECONDS', group: 'server', kind: 'int', default: '25', min: 1, max: 3600, about: 'Then how long requests may take to finish' },

  { name: 'LOG_LEVEL', group: 'logging', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], about: 'Least severe level logged' },
  { name: 'LOG_FORMAT', group: 'logging', kind: 'enum', default: 'json', values: ['json', 'pretty'], about: 'JSON lines or text for people' },
  { name: 'ACCESS_LOG', group: 'logging', kind: 'enum', default: 'all', values: ACCESS_LOGS, about: 'Which requests get an access line' },

  { name: 'ENABLE_AUTH', group: 'signin', kind: 'bool', default: '1', about: '0: a plain proxy' },
  { name: 'PATH_PREFIX', group: 'signin', kind: 'string', default: '/jitsi/', about: "Prefix of the sidecar's own endpoints",
    check: (v) => (/^\/(?:[A-Za-z0-9._~-]+\/)+$/.test(v) ? undefined
      : `must look like /jitsi/ (starts and ends with /, letters, digits, . _ ~ -), got ${JSON.stringify(v)}`) },
  { name: 'USE_RULE', group: 'signin', kind: 'rule', default: 'true', about: 'Who may get a token' },
  { name: 'GUEST_ACCESS', group: 'signin', kind: 'bool', default: '0', about: 'Room loads without a session pass through' },
  { name: 'COOKIE_SECRET', group: 'signin', kind: 'list', secret: true, required: 'required', about: 'Cookie encryption keys; the first encrypts',
    check: (s, i) => (Buffer.byteLength(s) < MIN_COOKIE_SECRET_BYTES
      ? `key ${i + 1} is ${Buffer.byteLength(s)} bytes; each key needs at least ${MIN_COOKIE_SECRET_BYTES} (e.g. \`openssl rand -base64 32\`)` : undefined) },
  { name: 'SESSION_TTL_SECONDS', group: 'signin', kind: 'int', default: '28800', min: 60, max: 30 * 86400, about: 'How long a session mints tokens' },
  { name: 'LOGOUT_PEERS', group: 'signin', kind: 'string', unset: 'this replica only', about: 'host:port resolving to every replica (a headless Service): logouts from the IdP reach them all',
    check: (v) => (parseListenAddress(v)?.host ? undefined : `must be host:port (e.g. jitsi-web-peers.jitsi.svc.cluster.local:9090), got ${JSON.stringify(v)}`) },

  { name: 'OIDC_ISSUER', group: 'oidc', kind: 'url', required: 'required', about: "The identity provider's issuer URL",
    check: (u) => (u.search || u.hash ? 'must not have a query or fragment' : undefined) },
  { name: 'OIDC_CLIENT_ID', group: 'oidc', kind: 'string', required: 'required', about: 'Our client at the identity provider' },
  { name: 'OIDC_CLIENT_SECRET', group: 'oidc', kind: 'string', secret: true, required: 'required', about: "The client's secret" },
  { name: 'OIDC_SCOPES', group: 'oidc', kind: 'string', default: 'openid profile email', about: 'Scopes requested',
    check: (v) => (v.trim().split(/\s+/).includes('openid') ? undefined : 'must include openid') },
  { name: 'OIDC_GROUPS_CLAIM', group: 'oidc', kind: 'string', default: 'groups', about: 'The claim inGroup() reads' },
  { name: 'OIDC_GROUPS_SEPARATOR', group: 'oidc', kind: 'string', default: GROUPS_SEPARATOR_DEFAULT, about: 'Characters that split a groups claim sent as one string',
    check: (v) => (v === 'none' || /^[;,| ]{1,4}$/.test(v) ? undefined : 'use one or more of `;` `,` `|` and space, or `none`') },
  { name: 'OIDC_TIMEOUT_SECONDS', group: 'oidc', kind: 'int', default: '10', min: 1, max: 120, about: 'Timeout of each request to the provider' },
  { name: 'OIDC_JWKS_REFRESH_SECONDS', group: 'oidc', kind: 'int', default: '600', min: 1, max: 86400, about: "How long the provider's key set is used" },
  { name: 'OIDC_ALLOW_HTTP', group: 'oidc', kind: 'bool', default: '0', about: 'Allow a plain-http issuer off loopback' },
  { name: 'OIDC_USERINFO', group: 'oidc', kind: 'enum', values: ['auto', '1', '0'], default: 'auto', about: 'When rules and mappings also read userinfo' },
  { name: 'OIDC_CA_FILE', group: 'oidc', kind: 'file', unset: "Node's trusted CAs", about: "PEM CA certificates trusted for the IdP's TLS, besides Node's" },
  { name: 'OIDC_INTERNAL_URL', group: 'oidc', kind: 'url', unset: "the issuer's own address", about: "Where the sidecar's own requests to the issuer's origin connect",
    check: (u) => (u.pathname !== '/' || u.search || u.hash || u.username || u.password
      ? "must be an origin only, like http://keycloak.auth.svc.cluster.local:8080 (requests keep OIDC_ISSUER's paths)" : undefined) },

  { name: 'JWT_APP_ID', group: 'tokens', kind: 'string', required: 'required', about: 'Jitsi application id' },
  { name: 'JWT_APP_SECRET', group: 'tokens', kind: 'string', secret: true, required: 'required for HS*', about: 'Shared secret of HS* tokens' },
  { name: 'JWT_ALG', group: 'tokens', kind: 'enum', default: 'HS256', values: JWT_ALGORITHMS,
    hint: "what Jitsi's Prosody verifies: no ES*, PS*, EdDSA or none", about: 'Signature algorithm' },
  { name: 'JWT_ISSUER', group: 'tokens', kind: 'string', unset: '`JWT_APP_ID`', check: notEmpty, about: "The token's iss" },
  { name: 'JWT_AUDIENCE', group: 'tokens', kind: 'string', unset: '`JWT_APP_ID`', check: notEmpty, about: "The token's aud" },
  { name: 'JWT_SUBJECT', group: 'tokens', kind: 'string', default: '*', check: notEmpty, about: "The token's sub, or {tenant}" },
  { name: 'JWT_SUBJECT_DEFAULT', group: 'tokens', kind: 'string', unset: 'required with {tenant}', about: 'With JWT_SUBJECT={tenant}: sub without a tenant' },
  { name: 'JWT_ROOM_CLAIM', group: 'tokens', kind: 'enum', default: 'room', values: ['room', '*'], about: 'Per-room tokens or one for all' },
  { name: 'JWT_DELIVERY', group: 'tokens', kind: 'enum', default: 'query', values: ['query', 'fragment'], about: 'Where the room URL carries the token: ?jwt= or #jwt=' },
  { name: 'JWT_TTL_SECONDS', group: 'tokens', kind: 'int', default: '300', min: 30, max: 86400, about: 'Token lifetime' },

  { name: 'JWT_PRIVATE_KEY_FILE', group: 'rsa', kind: 'file', required: 'required for RS*', about: 'PEM RSA key that signs' },
  { name: 'JWT_KEY_ID', group: 'rsa', kind: 'string', unset: 'RFC 7638 thumbprint', about: "The signing key's kid",
    check: (v) => (KID_PATTERN.test(v) ? undefined : `${KID_RULE}, got ${JSON.stringify(v)}`) },
  { name: 'JWT_PUBLIC_KEYS_DIR', group: 'rsa', kind: 'dir', about: 'More public keys to publish, <percent-encoded kid>.pem' },
  { name: 'JWT_KEY_RELOAD_SECONDS', group: 'rsa', kind: 'int', default: '30', min: 0, max: 3600, about: 'How often key files are checked' },

  { name: 'MODERATOR_RULE', group: 'claims', kind: 'rule', default: 'false', about: 'Who is a moderator' },
  { name: 'JWT_FEATURES', group: 'claims', kind: 'features', about: 'Jitsi features per person, feature=rule',
    values: ['recording', 'livestreaming', 'transcription', 'outbound-call', 'sip-outbound-call', 'create-polls', 'send-groupchat', 'file-upload', 'list-visitors', 'flip'] },
  { name: 'JWT_ID_ATTRIBUTE', group: 'claims', kind: 'string', default: 'sub', about: 'Claim for context.user.id' },
  { name: 'JWT_NAME_ATTRIBUTE', group: 'claims', kind: 'string', default: 'name', about: 'Claim for context.user.name' },
  { name: 'JWT_MAIL_ATTRIBUTE', group: 'claims', kind: 'string', default: 'email', about: 'Claim for context.user.email' },
  { name: 'JWT_AVATAR_ATTRIBUTE', group: 'claims', kind: 'string', default: 'picture', about: 'Claim for context.user.avatar' },
  { name: 'JWT_GROUP', group: 'claims', kind: 'string', about: 'context.group: a constant or claim:NAME',
    check: (v) => (v.startsWith('claim:') && v.slice(6).trim() === '' ? 'claim: needs a claim name, e.g. claim:organization' : undefined) },
] as const satisfies readonly Variable[]

export type VariableName = (typeof VARIABLE_TABLE)[number]['name']

/** Every variable the sidecar reads (secrets also with `_FILE`). */
export const VARIABLES: readonly VariableName[] = VARIABLE_TABLE.map((v) => v.name)
export const SECRET_VARIABLES: readonly VariableName[] = VARIABLE_TABLE.filter((v) => 'secret' in v).map((v) => v.name)

/** What the docs' default column says. */
export function defaultText(v: Variable): string {
  return v.default !== undefined ? `\`${v.default}\`` : (v.required ?? v.unset ?? 'none')
}
