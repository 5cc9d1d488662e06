/**
 * Jitsi Meet tokens: the claims (pure, from the mapped user and the room) and
 * signing/verification with the key in use. Follows what Prosody checks:
 * `typ: JWT`, string `aud`, `sub` always present, numeric `nbf`/`exp` with
 * no leeway on Prosody's side (so `nbf` is set a little in the past).
 */
import { createHmac, webcrypto, type KeyObject } from 'node:crypto'
import { SignJWT, jwtVerify, type CryptoKey, type JWTPayload } from 'jose'
import type { JwtConfig } from '../config/load.js'
import type { KeyStore } from './keys.js'
import { roomClaim } from '../rooms/classify.js'
import type { Identity } from '../identity/claims.js'

/** How far `nbf` lies before `iat`, to absorb clock drift between this pod and Prosody. */
export const NBF_SKEW_SECONDS = 30
/** A token with less life left than this is not worth sending to Jitsi; mint a new one. */
export const MIN_REMAINING_SECONDS = 10

/**
 * The `sub` for a room: JWT_SUBJECT, or with `{tenant}` the tenant in the
 * form Prosody's domain verification compares, falling back to
 * JWT_SUBJECT_DEFAULT without a tenant. The tenant is the MUC subdomain
 * jitsi-web's config.js builds from nginx's decoded path: lowercase, dots
 * as underscores (`Acme.Corp` is `acme_corp`).
 */
export function subjectFor(jwt: JwtConfig, tenant: string | undefined): string {
  if (jwt.subject !== '{tenant}') return jwt.subject
  return tenant === undefined ? jwt.subjectDefault : tenantSubject(tenant)
}

function tenantSubject(segment: string): string {
  let name = segment
  try {
    name = decodeURIComponent(segment)
  } catch {
    // taken as it is
  }
  return name.toLowerCase().split('.').join('_')
}

/**
 * The claims of a token for the room `room` (a path segment) in `tenant`.
 * `now` in seconds. Every `context.user` value is a string (Prosody copies
 * them into presence); `moderator` is only present when true.
 */
export function buildClaims(identity: Identity, jwt: JwtConfig, room: string, tenant: string | undefined, now: number): JWTPayload {
  const user: Record<string, string> = { ...identity.user }
  if (identity.moderator) user.moderator = 'true'
  user.affiliation = identity.moderator ? 'owner' : 'member'
  const context: Record<string, unknown> = { user }
  if (Object.keys(identity.features).length > 0) {
    context.features = Object.fromEntries(Object.entries(identity.features).map(([k, v]) => [k, v ? 'true' : 'false']))
  }
  if (identity.group !== undefined) context.group = identity.group
  return {
    iss: jwt.issuer,
    aud: jwt.audience,
    sub: subjectFor(jwt, tenant),
    room: jwt.roomClaim === '*' ? '*' : roomClaim(room),
    iat: now,
    nbf: now - NBF_SKEW_SECONDS,
    exp: now + jwt.ttlSeconds,
    context,
  }
}

/**
 * jose exports and re-imports a secret KeyObject on every call; for
 * verification an HMAC secret is imported into WebCrypto once per key instead (asymmetric keys
 * jose caches itself).
 */
const hmacKeys = new WeakMap<KeyObject, Promise<CryptoKey>>()
function usableKey(key: KeyObject, alg: string): KeyObject | Promise<CryptoKey> {
  if (key.type !== 'secret') return key
  let imported = hmacKeys.get(key)
  if (imported === undefined) {
    imported = webcrypto.subtle.importKey('raw', key.export(), { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['sign', 'verify']) as Promise<CryptoKey>
    hmacKeys.set(key, imported)
  }
  return imported
}

/**
 * An HS* token, signed with node:crypto's HMAC in this thread. jose signs
 * through WebCrypto, which hands every HMAC to libuv's thread pool: on one
 * core that hop and jose's wrapping took a third of a re-mint's CPU profile,
 * and re-mints/s rose from ~3,800 to ~5,400 without them. The result is byte
 * for byte what jose's SignJWT makes (test/token.test.ts compares them); RS*
 * signing and every verification stay with jose.
 */
function signHmac(header: { alg: string }, claims: JWTPayload, key: KeyObject): string {
  const hash = HMAC_HASHES[header.alg]
  if (hash === undefined || key.type !== 'secret') throw new TypeError(`cannot sign ${header.alg} with a ${key.type} key`)
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`
}

const HMAC_HASHES: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }

const base64url = (text: string): string => Buffer.from(text).toString('base64url')

export class TokenSigner {
  readonly #keys: KeyStore
  readonly #jwt: JwtConfig
  readonly #onSigned: (alg: string) => void

  constructor(keys: KeyStore, jwt: JwtConfig, onSigned: (alg: string) => void = () => {}) {
    this.#keys = keys
    this.#jwt = jwt
    this.#onSigned = onSigned
  }

  /** Signs with the key in service; RS* tokens name it in `kid` (Prosody's key server needs it). */
  async sign(claims: JWTPayload): Promise<string> {
    const { alg, key, kid } = this.#keys.signing
    const header = kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid }
    const token = alg.startsWith('HS') ? signHmac(header, claims, key) : await new SignJWT(claims).setProtectedHeader(header).sign(key)
    this.#onSigned(alg)
    return token
  }

  /** A token for the room page `/<tenant>/<room>` (path segments). */
  async mint(identity: Identity, room: string, tenant: string | undefined, nowMs = Date.now()): Promise<string> {
    return this.sign(buildClaims(identity, this.#jwt, room, tenant, Math.floor(nowMs / 1000)))
  }

  /**
   * True when `token` is one of ours, valid for the room page `room` (a path
   * segment) in `tenant`, and alive for at least MIN_REMAINING_SECONDS more.
   * Never throws.
   */
  async isUsableFor(token: string, room: string, tenant: string | undefined, nowMs = Date.now()): Promise<boolean> {
    if (token.length > 8192) return false
    try {
      const { payload } = await jwtVerify(token, (header) => {
        const key = this.#keys.verifyKey(header.kid)
        if (!key) throw new Error('unknown kid')
        return usableKey(key, this.#jwt.alg)
      }, {
        algorithms: [this.#jwt.alg],
        issuer: this.#jwt.issuer,
        audience: this.#jwt.audience,
        typ: 'JWT',
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'room'],
      })
      const claimRoom = typeof payload.room === 'string' ? payload.room.toLowerCase() : undefined
      if (claimRoom !== roomClaim(room) && claimRoom !== '*') return false
      if (payload.sub !== subjectFor(this.#jwt, tenant)) return false
      return (payload.exp as number) - nowMs / 1000 >= MIN_REMAINING_SECONDS
    } catch {
      return false
    }
  }
}
