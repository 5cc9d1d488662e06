/**
 * RSA keys as Prosody uses them: what JWT_PRIVATE_KEY_FILE, JWT_PUBLIC_KEYS_DIR
 * and keygen accept, how a key gets its kid, and the forms it is published in.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import type { JwtAlgorithm } from '../config/types.js'

export const MIN_RSA_BITS = 2048
/**
 * kids we accept (JWT_KEY_ID, keygen --kid): Prosody only hashes the kid, so
 * any text works, including Jitsi's and JaaS's `<app>/<name>` form; control
 * characters are refused (they would garble logs).
 */
export const KID_PATTERN = /^[^\u0000-\u001f\u007f]{1,256}$/u
export const KID_RULE = 'any text of 1 to 256 characters without control characters'

/** The file name of a kid's public key in JWT_PUBLIC_KEYS_DIR: the kid percent-encoded (`jitsi/key-1` → `jitsi%2Fkey-1.pem`). */
export function kidFileName(kid: string): string {
  return `${encodeURIComponent(kid)}.pem`
}

/** The kid a JWT_PUBLIC_KEYS_DIR file name stands for; undefined when it is not one. */
export function kidOfFileName(name: string): string | undefined {
  if (!name.endsWith('.pem')) return undefined
  try {
    const kid = decodeURIComponent(name.slice(0, -4))
    return KID_PATTERN.test(kid) ? kid : undefined
  } catch {
    return undefined
  }
}

export interface PublishedKey {
  readonly kid: string
  readonly publicKey: KeyObject
  /** SubjectPublicKeyInfo PEM, as Prosody wants it. */
  readonly pem: string
  readonly jwk: JWK
  /** Lowercase hex SHA-256 of the kid: the name Prosody asks the key server for. */
  readonly kidHash: string
  /** Where it came from, for logs: `private key`, `JWT_PUBLIC_KEYS_DIR` or `retired`. */
  readonly source: string
}

export function isRsa(alg: JwtAlgorithm): boolean {
  return alg.startsWith('RS')
}

/** Lowercase hex SHA-256 of a kid: Prosody fetches `<keyserver>/<this>.pem`. */
export function kidHash(kid: string): string {
  return createHash('sha256').update(kid).digest('hex')
}

/** RFC 7638 thumbprint of a public key: the kid when JWT_KEY_ID is not set. */
export async function thumbprintKid(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK, 'sha256')
}

/** Parses an RSA private key (PKCS#8 or PKCS#1 PEM). Throws an Error that says what is wrong. */
export function parsePrivateKey(pem: string): KeyObject {
  return parseRsaKey(pem, createPrivateKey, {
    refused: /ENCRYPTED/,
    refusal: 'the private key is encrypted; give an unencrypted PEM (protect it with file permissions and a Secret)',
    notPem: 'not a PEM private key (PKCS#8 "BEGIN PRIVATE KEY" or PKCS#1 "BEGIN RSA PRIVATE KEY")',
  })
}

/** Parses a public key PEM for publication; private keys are refused so none is ever served by mistake. */
export function parsePublicKey(pem: string): KeyObject {
  return parseRsaKey(pem, createPublicKey, {
    refused: /PRIVATE KEY/,
    refusal: 'is a private key; JWT_PUBLIC_KEYS_DIR holds public keys only ("BEGIN PUBLIC KEY")',
    notPem: 'not a PEM public key ("BEGIN PUBLIC KEY")',
  })
}

function parseRsaKey(
  pem: string,
  create: (input: { key: string; format: 'pem' }) => KeyObject,
  messages: { refused: RegExp; refusal: string; notPem: string },
): KeyObject {
  if (messages.refused.test(pem)) throw new Error(messages.refusal)
  let key: KeyObject
  try {
    key = create({ key: pem, format: 'pem' })
  } catch {
    throw new Error(messages.notPem)
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Prosody verifies RS* tokens with RSA keys only`)
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) throw new Error(`is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`)
  return key
}

export function publish(kid: string, publicKey: KeyObject, alg: JwtAlgorithm, source: string): PublishedKey {
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const jwk: JWK = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' }
  return Object.freeze({ kid, publicKey, pem, jwk, kidHash: kidHash(kid), source })
}
