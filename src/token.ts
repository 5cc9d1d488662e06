/**
 * Jitsi Meet tokens: the claims (pure, from the mapped user and the room) and
 * signing/verification with the key in use. Follows what Prosody checks:
 * `typ: JWT`, string `aud`, `sub` always present, numeric `nbf`/`exp` with
 * no leeway on Prosody's side (so `nbf` is set a little in the past).
 */
import { SignJWT, jwtVerify, type JWTPayload } from 'jose'
import type { JwtConfig } from './config.js'
import type { KeyStore } from './keys.js'
import type { Claims } from './rule.js'
import type { UserFields } from './session.js'

/** How far `nbf` lies before `iat`, to absorb clock drift between this pod and Prosody. */
export const NBF_SKEW_SECONDS = 30
/** A token with less life left than this is not worth sending to Jitsi; mint a new one. */
export const MIN_REMAINING_SECONDS = 10

/** The string value of a claim, for `context.user`: strings as they are, numbers as text, anything else left out. */
function stringClaim(claims: Claims, name: string): string | undefined {
  const v = claims[name]
  if (typeof v === 'string') return v === '' ? undefined : v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

/** Maps identity claims to `context.user` fields with the configured attributes; missing claims are left out. */
export function userFromClaims(claims: Claims, jwt: JwtConfig): UserFields {
  const user: { id?: string; name?: string; email?: string } = {}
  const id = stringClaim(claims, jwt.idAttribute)
  const name = stringClaim(claims, jwt.nameAttribute)
  const email = stringClaim(claims, jwt.mailAttribute)
  if (id !== undefined) user.id = id
  if (name !== undefined) user.name = name
  if (email !== undefined) user.email = email
  return user
}

/** The claims of a token for `room` (already in Jitsi's form, or `*`). `now` in seconds. */
export function buildClaims(user: UserFields, jwt: JwtConfig, room: string, now: number): JWTPayload {
  return {
    iss: jwt.issuer,
    aud: jwt.audience,
    sub: jwt.subject,
    room,
    iat: now,
    nbf: now - NBF_SKEW_SECONDS,
    exp: now + jwt.ttlSeconds,
    context: { user: { ...user } },
  }
}

export class TokenSigner {
  readonly #keys: KeyStore
  readonly #jwt: JwtConfig

  constructor(keys: KeyStore, jwt: JwtConfig) {
    this.#keys = keys
    this.#jwt = jwt
  }

  /** Signs with the key in service; RS* tokens name it in `kid` (Prosody's key server needs it). */
  async sign(claims: JWTPayload): Promise<string> {
    const { alg, key, kid } = this.#keys.signing
    return new SignJWT(claims).setProtectedHeader(kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid }).sign(key)
  }

  async mint(user: UserFields, room: string, nowMs = Date.now()): Promise<string> {
    return this.sign(buildClaims(user, this.#jwt, room, Math.floor(nowMs / 1000)))
  }

  /**
   * True when `token` is one of ours, valid for `room` (Jitsi form) and alive
   * for at least MIN_REMAINING_SECONDS more. Never throws.
   */
  async isUsableFor(token: string, room: string, nowMs = Date.now()): Promise<boolean> {
    if (token.length > 8192) return false
    try {
      const { payload } = await jwtVerify(token, (header) => {
        const key = this.#keys.verifyKey(header.kid)
        if (!key) throw new Error('unknown kid')
        return key
      }, {
        algorithms: [this.#jwt.alg],
        issuer: this.#jwt.issuer,
        audience: this.#jwt.audience,
        typ: 'JWT',
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'room'],
      })
      const claimRoom = typeof payload.room === 'string' ? payload.room.toLowerCase() : undefined
      if (claimRoom !== room && claimRoom !== '*') return false
      return (payload.exp as number) - nowMs / 1000 >= MIN_REMAINING_SECONDS
    } catch {
      return false
    }
  }
}
