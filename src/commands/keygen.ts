/**
 * `jitsi-oidc-sidecar keygen`: a new RSA signing key for RS* tokens, written
 * with mode 0600, and what the operator needs next: its kid, the file name
 * Prosody will ask for, and the public PEM for JWT_PUBLIC_KEYS_DIR.
 */
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { KID_PATTERN, KID_RULE, kidFileName, kidHash, thumbprintKid } from '../token/keys.js'

export const KEY_SIZES = [2048, 3072, 4096] as const

export interface KeygenOptions {
  readonly out: string
  readonly kid?: string | undefined
  readonly bits: number
}

export interface KeygenResult {
  readonly kid: string
  readonly publicPem: string
  readonly report: string
}

/** Throws an Error with an operator-facing message on bad options or an existing file. */
export async function keygen(opts: KeygenOptions): Promise<KeygenResult> {
  if (!(KEY_SIZES as readonly number[]).includes(opts.bits)) throw new Error(`--bits must be one of ${KEY_SIZES.join(', ')}`)
  if (opts.kid !== undefined && !KID_PATTERN.test(opts.kid)) throw new Error(`--kid: ${KID_RULE}`)
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: opts.bits })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  try {
    // 'wx': never overwrite a key that may be in service.
    writeFileSync(opts.out, pem, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new Error(code === 'EEXIST' ? `${opts.out} exists; choose another --out (a key in service must never be overwritten)` : `cannot write ${opts.out} (${code ?? 'error'})`)
  }
  const kid = opts.kid ?? (await thumbprintKid(publicKey))
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const report = `wrote ${opts.out} (RSA ${opts.bits}-bit private key, PKCS#8, mode 0600)
kid: ${kid}${opts.kid === undefined ? '  (RFC 7638 thumbprint; leave JWT_KEY_ID unset to use it)' : '  (set JWT_KEY_ID to this)'}
Prosody fetches: <JWT_ASAP_KEYSERVER>/${kidHash(kid)}.pem
public key (publish it ahead of a rotation as ${kidFileName(kid)} in JWT_PUBLIC_KEYS_DIR):
${publicPem}`
  return { kid, publicPem, report }
}
