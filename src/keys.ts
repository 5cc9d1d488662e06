/**
 * The key tokens are signed with. HS* uses the shared secret (JWT_APP_SECRET,
 * the same value Jitsi's Prosody has), imported once at start-up.
 */
import { createSecretKey, type KeyObject } from 'node:crypto'
import type { JwtConfig, JwtAlgorithm } from './config.js'

export interface SigningKey {
  readonly alg: JwtAlgorithm
  /** Signs and verifies (HS*: the same secret). */
  readonly key: KeyObject
}

export function loadSigningKey(jwt: JwtConfig): SigningKey {
  return Object.freeze({ alg: jwt.alg, key: createSecretKey(Buffer.from(jwt.secret, 'utf8')) })
}
