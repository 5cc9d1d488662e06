/**
 * Jitsi Meet tokens: the claims (pure, from the mapped user and the room) and
 * signing/verification with the key in use. Follows what Prosody checks:
 * `typ: JWT`, string `aud`, `sub` always present, numeric `nbf`/`exp` with
 * no leeway on Prosody's side (so `nbf` is set a little in the past).
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto'
import { SignJWT, jwtVerify, type JWTPayload } from 'jose'
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
 * An HS* token, signed with node:crypto's HMAC in this thread. jose signs
 * through WebCrypto, which hands every HMAC to libuv's thread pool: on one
 * core that hop and jose's wrapping took a third of a re-mint's CPU profile,
 * and re-mints/s rose from ~3,800 to ~5,400 without them. The result is byte
 * for byte what jose's SignJWT makes (test/token.test.ts compares them); RS*
 * signing and verification stay with jose.
 */
function signHmac(header: { alg: string }, claims: JWTPayload, key: KeyObject): string {
  const hash = HMAC_HASHES[header.alg]
  if (hash === undefined || key.type !== 'secret') throw new TypeError(`cannot sign ${header.alg} with a ${key.type} key`)
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`
}

const HMAC_HASHES: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }

/**
 * The claims of an HS* token shaped as we sign them, verified in this thread
 * for the reason signHmac signs there: WebCrypto's hop to the thread pool was
 * most of a forward-auth decision's CPU profile, and token decisions/s rose
 * from ~8,500 to ~11,400 on one core without it (bench/forward-auth.mjs). The signature must
 * be exactly the base64url HMAC (compared in constant time) before anything
 * is parsed; the header exactly `alg` and `typ: JWT` (no crit, no b64);
 * `claimsValid` then checks what jwtVerify would. test/token.test.ts holds
 * it to jose's jwtVerify on a table of altered tokens.
 */
function verifyHmac(token: string, key: KeyObject, alg: string): JWTPayload | undefined {
  const hash = HMAC_HASHES[alg]
  const a = token.indexOf('.')
  const b = token.indexOf('.', a + 1)
  if (hash === undefined || a <= 0 || b <= a + 1 || token.indexOf('.', b + 1) !== -1) return undefined
  const given = Buffer.from(token.slice(b + 1))
  const expected = Buffer.from(createHmac(hash, key).update(token.slice(0, b)).digest('base64url'))
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, a), 'base64url').toString('utf8')) as Record<string, unknown>
    const keys = Object.keys(header)
    if (header.alg !== alg || header.typ !== 'JWT' || keys.some((k) => k !== 'alg' && k !== 'typ' && k !== 'kid')) return undefined
    const payload = JSON.parse(Buffer.from(token.slice(a + 1, b), 'base64url').toString('utf8')) as unknown
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as JWTPayload) : undefined
  } catch {
    return undefined
  }
}

/** jwtVerify's claim checks for our options: issuer, audience, exp (required), nbf and iat when present. */
function claimsValid(p: JWTPayload, jwt: JwtConfig, nowSeconds: number): boolean {
  if (p.iss !== jwt.issuer) return false
  if (p.aud !== jwt.audience && !(Array.isArray(p.aud) && p.aud.includes(jwt.audience))) return false
  if (typeof p.exp !== 'number' || p.exp <= nowSeconds) return false
  if (p.nbf !== undefined && (typeof p.nbf !== 'number' || p.nbf > nowSeconds)) return false
  return p.iat === undefined || typeof p.iat === 'number'
}

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
    const payload = await this.#verified(token, nowMs)
    if (payload === undefined || payload.room === undefined) return false
    const claimRoom = typeof payload.room === 'string' ? payload.room.toLowerCase() : undefined
    if (claimRoom !== roomClaim(room) && claimRoom !== '*') return false
    if (payload.sub !== subjectFor(this.#jwt, tenant)) return false
    return (payload.exp as number) - nowMs / 1000 >= MIN_REMAINING_SECONDS
  }

  /** The claims of a token of ours, alive at `nowMs`; undefined for anything else. */
  async #verified(token: string, nowMs: number): Promise<JWTPayload | undefined> {
    const { alg } = this.#jwt
    if (alg.startsWith('HS')) {
      const key = this.#keys.verifyKey(undefined)
      const payload = key === undefined ? undefined : verifyHmac(token, key, alg)
      return payload !== undefined && claimsValid(payload, this.#jwt, Math.floor(nowMs / 1000)) ? payload : undefined
    }
    try {
      const { payload } = await jwtVerify(token, (header) => {
        const key = this.#keys.verifyKey(header.kid)
        if (!key) throw new Error('unknown kid')
        return key
      }, {
        algorithms: [alg],
        issuer: this.#jwt.issuer,
        audience: this.#jwt.audience,
        typ: 'JWT',
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'room'],
      })
      return payload
    } catch {
      return undefined
    }
  }
}
