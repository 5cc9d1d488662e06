/**
 * Encrypted cookies: the login transaction (one cookie per login, so parallel
 * tabs do not overwrite each other) and the session. Both are JWE (`dir`,
 * A256GCM) with keys derived from COOKIE_SECRET; the first key encrypts, all
 * decrypt, so secrets can be rotated without signing everyone out. Anything
 * that does not decrypt, has expired or was made for another purpose is
 * treated as absent.
 */
import { createHmac, hash, hkdfSync, timingSafeEqual, webcrypto } from 'node:crypto'
import { EncryptJWT, jwtDecrypt, type CryptoKey, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'
import type { Identity } from '../identity/claims.js'
import type { LoginChecks } from '../oidc/types.js'
import type { ReturnRoom, ReturnTarget } from '../rooms/target.js'

/** What a sealed value is for: a session, a login transaction, a return room (return-state.ts). */
export type Purpose = 'session' | 'tx' | 'return' | 'pass'

/** Who the IdP says signed in, for logouts it sends us (front- and back-channel). */
export interface IdpSession {
  readonly sub: string
  /** The IdP's session id (`sid` claim), when it sends one. */
  readonly sid?: string
}

export interface Session {
  readonly identity: Identity
  /** Absent in sessions made before it was kept. */
  readonly idp?: IdpSession
  /** When the sign-in happened, ms since the epoch (sessions sealed before it was kept: their iat). */
  readonly createdAt: number
  /** Version of the rules and mappings that made `identity`; another version means sign in again. */
  readonly policy: string
  /** Random id, the base of the logout anti-forgery value. */
  readonly sid: string
  /** The ID token, for RP-initiated logout's id_token_hint (left out when it would not fit in a cookie). */
  readonly idToken?: string
  /** The room the person signed in for: "Sign in again" after signing out returns there. */
  readonly room?: ReturnRoom
}

/** One login in progress, sealed in its own cookie: the checks and where to return. */
export type LoginTransaction = LoginChecks & ReturnTarget

/** Browsers drop cookies over 4096 bytes; anything longer is not ours. */
export const MAX_COOKIE_VALUE = 4096
/** The largest value we set: room for the name and attributes within browsers' 4096-byte limit. */
export const MAX_SEALED_COOKIE = 3800
/** How long a sign-in at the IdP may take. */
export const TX_TTL_SECONDS = 600
/** Parallel logins kept per browser; older transactions are dropped beyond this. */
export const MAX_PARALLEL_LOGINS = 5
/** How long an opened session cookie is remembered (its own expiry comes first). */
const OPENED_SESSION_TTL_MS = 5 * 60_000
/** Opened sessions remembered at once: about 1 KB each. */
const OPENED_SESSIONS_MAX = 5000

interface CookieKey {
  readonly kid: string
  /** Imported into WebCrypto once: jose would re-import a KeyObject on every cookie. */
  readonly key: Promise<CryptoKey>
}

export class CookieCodec {
  readonly #keys: readonly CookieKey[]
  readonly #byKid: ReadonlyMap<string, Promise<CryptoKey>>
  /** Keys for anti-forgery values, one per secret (first creates, all check). */
  readonly #macKeys: readonly Buffer[]
  readonly sessionName: string
  readonly txPrefix: string
  /** JWT_DELIVERY=fragment: the one room page load that may pass without a token in its URL. */
  readonly passName: string
  readonly #attributes: string
  readonly #opened = new LRUCache<string, { session: Session; exp: number }>({ max: OPENED_SESSIONS_MAX, ttl: OPENED_SESSION_TTL_MS })

  constructor(secrets: readonly string[], secure: boolean) {
    if (secrets.length === 0) throw new TypeError('at least one cookie secret is required')
    this.#keys = secrets.map((secret) => {
      const raw = Buffer.from(hkdfSync('sha256', secret, 'jitsi-oidc-sidecar', 'cookie-encryption-v1', 32))
      const kid = hash('sha256', raw, 'base64url').slice(0, 8)
      return { kid, key: webcrypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']) as Promise<CryptoKey> }
    })
    this.#byKid = new Map(this.#keys.map((k) => [k.kid, k.key]))
    this.#macKeys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, 'jitsi-oidc-sidecar', 'logout-csrf-v1', 32)))
    // `__Host-` binds the cookie to this exact origin (no Domain, Path=/, Secure).
    const prefix = secure ? '__Host-' : ''
    this.sessionName = `${prefix}jos_session`
    this.txPrefix = `${prefix}jos_tx_`
    this.passName = `${prefix}jos_pass`
    this.#attributes = `; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
  }

  /** Encrypts `payload` for `purpose`, valid for `ttlSeconds`. */
  async seal(purpose: Purpose, payload: JWTPayload, ttlSeconds: number, now = Date.now()): Promise<string> {
    const first = this.#keys[0] as CookieKey
    const iat = Math.floor(now / 1000)
    return new EncryptJWT(payload)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: first.kid })
      .setAudience(purpose)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .encrypt(await first.key)
  }

  /** Decrypts a cookie value made by seal for `purpose`; undefined for anything else. */
  async open(purpose: Purpose, value: string | undefined, now = Date.now()): Promise<JWTPayload | undefined> {
    if (value === undefined || value.length > MAX_COOKIE_VALUE) return undefined
    try {
      const { payload } = await jwtDecrypt(
        value,
        (header) => {
          const key = header.kid === undefined ? undefined : this.#byKid.get(header.kid)
          if (!key) throw new Error('unknown cookie key')
          return key
        },
        {
          audience: purpose,
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          currentDate: new Date(now),
          requiredClaims: ['exp', 'iat'],
        },
      )
      return payload
    } catch {
      return undefined
    }
  }

  async sealSession(session: Session, ttlSeconds: number, now?: number): Promise<string> {
    return this.seal('session', { ...session }, ttlSeconds, now)
  }

  /**
   * The session in a session cookie, or undefined. A person's room loads
   * repeat the same cookie, so opened sessions are remembered (by a hash of
   * the cookie, until its expiry, at most OPENED_SESSION_TTL_MS) and the
   * decryption is skipped: the same authenticated bytes can only ever open
   * to the same session.
   */
  async openSession(value: string | undefined, now = Date.now()): Promise<Session | undefined> {
    if (value === undefined || value.length > MAX_COOKIE_VALUE) return undefined
    const key = hash('sha256', value, 'base64url')
    const known = this.#opened.get(key)
    if (known !== undefined) {
      if (known.exp * 1000 > now) return known.session
      this.#opened.delete(key)
    }
    const p = await this.open('session', value, now)
    const session = p && toSession(p)
    if (session && typeof p.exp === 'number') this.#opened.set(key, { session, exp: p.exp }, { ttl: Math.min(OPENED_SESSION_TTL_MS, p.exp * 1000 - now) })
    return session
  }

  async sealTransaction(tx: LoginTransaction, now?: number): Promise<string> {
    return this.seal('tx', { ...tx }, TX_TTL_SECONDS, now)
  }

  async openTransaction(value: string | undefined, now?: number): Promise<(LoginTransaction & { iat: number }) | undefined> {
    const p = await this.open('tx', value, now)
    if (!p) return undefined
    const { state, nonce, verifier, room, tenant, query, hash, electron, inline, iat } = p
    if (
      typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string' ||
      typeof room !== 'string' || typeof query !== 'string' || typeof hash !== 'string' ||
      typeof electron !== 'boolean' || typeof iat !== 'number' || (tenant !== undefined && typeof tenant !== 'string') ||
      (inline !== undefined && inline !== true)
    ) {
      return undefined
    }
    const tx = { state, nonce, verifier, room, query, hash, electron, iat, ...(inline === true ? { inline: true as const } : {}) }
    return tenant === undefined ? tx : { ...tx, tenant }
  }

  /** The logout anti-forgery value for a session: only pages of this site can know it. */
  logoutToken(sid: string): string {
    return logoutMac(this.#macKeys[0] as Buffer, sid)
  }

  checkLogoutToken(sid: string, value: string | null | undefined): boolean {
    if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value)) return false
    const given = Buffer.from(value)
    return this.#macKeys.some((k) => timingSafeEqual(Buffer.from(logoutMac(k, sid)), given))
  }

  /** The transaction cookie's name for a state value: each login has its own cookie. */
  txName(state: string): string {
    return this.txPrefix + hash('sha256', state, 'base64url').slice(0, 16)
  }

  setCookie(name: string, value: string, maxAgeSeconds: number): string {
    return `${name}=${value}; Max-Age=${maxAgeSeconds}${this.#attributes}`
  }

  clearCookie(name: string): string {
    return `${name}=; Max-Age=0${this.#attributes}`
  }
}

function logoutMac(key: Buffer, sid: string): string {
  return createHmac('sha256', key).update(`logout:${sid}`).digest('base64url')
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Parses a Cookie header. Later duplicates do not override earlier ones (RFC 6265 order: most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>()
  if (!header) return cookies
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    const name = part.slice(0, eq).trim()
    if (name === '' || cookies.has(name)) continue
    cookies.set(name, part.slice(eq + 1).trim())
  }
  return cookies
}

/** A decrypted session payload checked field by field (cookies are our own, but keys outlive code versions). */
function toSession(p: JWTPayload): Session | undefined {
  if (typeof p.sid !== 'string' || typeof p.policy !== 'string' || !isRecord(p.identity) || typeof p.iat !== 'number') return undefined
  const { user, moderator, features, group } = p.identity
  if (!isRecord(user) || typeof moderator !== 'boolean' || !isRecord(features)) return undefined
  const fields: Record<string, string> = {}
  for (const k of ['id', 'name', 'email', 'avatar'] as const) if (typeof user[k] === 'string') fields[k] = user[k]
  const flags: Record<string, boolean> = {}
  for (const [k, v] of Object.entries(features)) if (typeof v === 'boolean') flags[k] = v
  const identity: Identity = { user: fields, moderator, features: flags, ...(typeof group === 'string' ? { group } : {}) }
  const idp = isRecord(p.idp) && typeof p.idp.sub === 'string' ? { sub: p.idp.sub, ...(typeof p.idp.sid === 'string' ? { sid: p.idp.sid } : {}) } : undefined
  return {
    identity, sid: p.sid, policy: p.policy, createdAt: typeof p.createdAt === 'number' ? p.createdAt : p.iat * 1000,
    ...(idp ? { idp } : {}),
    ...(typeof p.idToken === 'string' ? { idToken: p.idToken } : {}),
    ...(isRecord(p.room) && typeof p.room.room === 'string' ? { room: { room: p.room.room, ...(typeof p.room.tenant === 'string' ? { tenant: p.room.tenant } : {}) } } : {}),
  }
}
