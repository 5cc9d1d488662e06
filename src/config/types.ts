/**
 * The shape of the configuration, apart from how it is read: modules that
 * only need the types (token/keys.ts among them) import this file and nothing
 * that reads the environment.
 */
import type { Rule } from '../identity/rule.js'

/** What Prosody's JWT code verifies: nothing else is worth minting. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512'] as const
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

/**
 * MODE: where the sidecar stands. `proxy`: in front of jitsi-web, every request through it.
 * `issuer`: only PATH_PREFIX is routed to it; Jitsi's TOKEN_AUTH_URL sends people to sign in.
 * `forward-auth`: as issuer, and an ingress or jitsi-web's nginx asks PATH_PREFIX/auth about room pages.
 */
export const MODES = ['proxy', 'issuer', 'forward-auth'] as const
export type Mode = (typeof MODES)[number]

export const ACCESS_LOGS = ['all', 'errors', 'off'] as const
export type AccessLog = (typeof ACCESS_LOGS)[number]

export type Env = Readonly<Record<string, string | undefined>>

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
  readonly mode: Mode
  /** jitsi-web (MODE=proxy; unused otherwise). */
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
  /** LOGOUT_PEERS: where every replica's admin port is, for logouts from the IdP. */
  readonly logoutPeers: ListenAddress | undefined
  readonly oidc: OidcConfig
  readonly jwt: JwtConfig
  readonly roles: RolesConfig
  readonly cookie: CookieConfig
}

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
  /** OIDC_USERINFO: fetch userinfo when a claim below is missing from the ID token (`auto`), at every login, or never. */
  readonly userinfo: 'auto' | 'always' | 'never'
  /** Claims the rules and the attribute mapping read; `auto` fetches userinfo when one is not in the ID token. */
  readonly neededClaims: readonly string[]
  /** Of those, the ones whose absence is worth a warning (rules, user id, name and email; not avatar or group). */
  readonly expectedClaims: readonly string[]
  /** Where the IdP sends people after RP-initiated logout: PUBLIC_URL + `/`. */
  readonly postLogoutRedirectUri: string
  /** OIDC_CA_FILE's certificates, one PEM block each: trusted for the IdP's TLS besides Node's roots. Unset: Node's roots only. */
  readonly caCertificates?: readonly string[]
  /**
   * OIDC_INTERNAL_URL (an origin): connections for requests to the issuer's origin go there, while
   * the URL, the Host header and the TLS name stay the issuer's. Unset: the issuer's own address.
   */
  readonly internalUrl?: URL
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
  /** JWT_DELIVERY: the token in the room URL's query (`?jwt=`) or fragment (`#jwt=`, never sent to a server). */
  readonly delivery: 'query' | 'fragment'
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
