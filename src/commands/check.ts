/**
 * `jitsi-oidc-sidecar check`: proves a configuration works before people
 * depend on it. Each step prints PASS or FAIL; the exit status is 0 only
 * when every step passed. The token check follows what Jitsi's Prosody
 * does (see verifyLikeProsody), including fetching the public key from the
 * running sidecar's key server when given its URL.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import { request } from 'undici'
import { ConfigError, loadConfig, type Config, type Env, type JwtAlgorithm } from '../config/load.js'
import { KeyStore, isRsa, kidHash } from '../token/keys.js'
import { OidcClient } from '../oidc/client.js'
import { usableIdTokenAlgs } from '../oidc/configuration.js'
import { TokenSigner } from '../token/sign.js'

export interface ProsodyCheck {
  readonly alg: JwtAlgorithm
  /** JWT_ACCEPTED_ISSUERS / JWT_ACCEPTED_AUDIENCES (`*` accepts any audience). */
  readonly issuers: readonly string[]
  readonly audiences: readonly string[]
  /** HS*: the shared secret. */
  readonly secret?: string
  /** RS*: JWT_ASAP_KEYSERVER, joined with `/` exactly as Prosody joins it. */
  readonly keyserver?: string
  /** Fetches a URL; defaults to an undici GET with a 5 s timeout. */
  readonly fetchText?: (url: string) => Promise<{ status: number; body: string }>
}

async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 })
  return { status: res.statusCode, body: await res.body.text() }
}

/**
 * Verifies a token the way Prosody's token util does, throwing an Error that
 * names the first check that fails: `typ` exactly JWT, the configured `alg`,
 * with a key server a `kid` whose `<lowercase hex sha256>.pem` answers 200/204
 * with a SubjectPublicKeyInfo PEM, the signature, `exp`/`nbf` as numbers with
 * no leeway, `iss` and a string `aud` in the accepted lists, `sub` and `room`.
 */
export async function verifyLikeProsody(token: string, check: ProsodyCheck): Promise<JWTPayload> {
  const header = decodeProtectedHeader(token)
  if (header.typ !== 'JWT') throw new Error(`typ is ${JSON.stringify(header.typ)}, Prosody wants "JWT"`)
  if (header.alg !== check.alg) throw new Error(`alg is ${header.alg}, Prosody's signature_algorithm is ${check.alg}`)
  let key: KeyObject | Uint8Array
  if (isRsa(check.alg)) {
    if (!check.keyserver) throw new Error('RS* tokens need a key server URL')
    if (typeof header.kid !== 'string') throw new Error('no kid: Prosody cannot find the key')
    const url = `${check.keyserver}/${kidHash(header.kid)}.pem`
    const { status, body } = await (check.fetchText ?? fetchText)(url)
    if (status !== 200 && status !== 204) throw new Error(`key server answered ${status} for ${url}`)
    if (!body.includes('-----BEGIN PUBLIC KEY-----')) throw new Error(`key server's answer for ${url} is not a "BEGIN PUBLIC KEY" PEM`)
    key = createPublicKey(body)
  } else {
    if (check.secret === undefined) throw new Error('HS* tokens need the shared secret')
    key = new TextEncoder().encode(check.secret)
  }
  const { payload } = await jwtVerify(token, key, { algorithms: [check.alg], clockTolerance: 0 })
  if (typeof payload.iss !== 'string' || !check.issuers.includes(payload.iss)) throw new Error(`iss ${JSON.stringify(payload.iss)} is not an accepted issuer`)
  if (typeof payload.aud !== 'string') throw new Error('aud must be a string')
  if (!check.audiences.includes('*') && !check.audiences.includes(payload.aud)) throw new Error(`aud ${JSON.stringify(payload.aud)} is not an accepted audience`)
  if (typeof payload.sub !== 'string') throw new Error('sub is missing')
  if (typeof payload.room !== 'string') throw new Error('room is missing')
  return payload
}

export interface CheckOptions {
  /** Base URL of a running sidecar (e.g. its Service) whose key server to test. */
  readonly url?: string | undefined
  /** JWT_ASAP_KEYSERVER exactly as Jitsi has it (instead of url + PATH_PREFIX + asap). */
  readonly keyserver?: string | undefined
  /** Kids that must be published too (e.g. the next key, before a rotation). */
  readonly kids?: readonly string[] | undefined
}

export interface CheckIo {
  readonly env: Env
  out(line: string): void
}

/** Runs every step; returns the exit status (0 all passed, 1 a step failed, 2 bad configuration). */
export async function runCheck(opts: CheckOptions, io: CheckIo): Promise<number> {
  let failed = false
  const step = (ok: boolean, name: string, detail: string) => {
    io.out(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`)
    if (!ok) failed = true
  }
  let config: Config
  try {
    config = loadConfig(io.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    step(false, 'configuration', `${err.problems.length} problem(s)`)
    for (const p of err.problems) io.out(`      - ${p}`)
    return 2
  }
  const auth = config.auth
  if (!auth) {
    step(true, 'configuration', 'ENABLE_AUTH=0: plain proxy, nothing else to check')
    return 0
  }
  step(true, 'configuration', `${auth.jwt.alg} tokens for app ${auth.jwt.appId}, identity provider ${auth.oidc.issuer.href}`)

  let keys: KeyStore
  try {
    keys = await KeyStore.load(auth.jwt)
    step(true, 'signing key', isRsa(auth.jwt.alg) ? `kid ${keys.signing.kid}; ${keys.published.length} public key(s) published` : 'shared secret')
  } catch (err) {
    step(false, 'signing key', (err as Error).message)
    return 1
  }

  const oidc = new OidcClient(auth.oidc)
  try {
    const c = await oidc.configuration()
    const meta = c.serverMetadata()
    step(true, 'identity provider', `discovered ${meta.issuer} at ${new URL('.well-known/openid-configuration', auth.oidc.issuer.href.endsWith('/') ? auth.oidc.issuer.href : `${auth.oidc.issuer.href}/`).href}`)
    for (const line of idpReport(meta)) io.out(`      ${line}`)
  } catch (err) {
    step(false, 'identity provider', (err as Error).message)
  } finally {
    await oidc.close()
  }

  const token = await new TokenSigner(keys, auth.jwt).mint({ user: { id: 'check', name: 'jitsi-oidc-sidecar check' }, moderator: false, features: {} }, 'check', undefined)
  const base = { alg: auth.jwt.alg, issuers: [auth.jwt.issuer], audiences: [auth.jwt.audience], secret: auth.jwt.secret }
  const localKeyserver = async (url: string) => {
    const key = keys.byKidHash(url.slice(url.lastIndexOf('/') + 1, -4))
    return key ? { status: 200, body: key.pem } : { status: 404, body: '' }
  }
  try {
    await verifyLikeProsody(token, { ...base, keyserver: 'local', fetchText: localKeyserver })
    step(true, 'token', 'a sample token verifies the way Prosody verifies it')
  } catch (err) {
    step(false, 'token', (err as Error).message)
  }

  if (opts.url !== undefined || opts.keyserver !== undefined) {
    const keyserver = opts.keyserver ?? `${(opts.url as string).replace(/\/+$/, '')}${auth.pathPrefix}asap`
    if (keyserver.endsWith('/')) {
      // Prosody appends "/<sha256(kid)>.pem": a trailing slash makes "//", which the key server does not serve.
      step(false, 'key server', `${keyserver} ends with "/": Prosody would request ${keyserver}/<sha256 of kid>.pem (two slashes). Give it without the trailing slash, in JWT_ASAP_KEYSERVER too: ${keyserver.replace(/\/+$/, '')}`)
    } else if (isRsa(auth.jwt.alg)) {
      try {
        await verifyLikeProsody(token, { ...base, keyserver })
        step(true, 'key server', `${keyserver} serves the key; the sample token verifies with it`)
      } catch (err) {
        step(false, 'key server', `${(err as Error).message} (is the sidecar running with this configuration?)`)
      }
      for (const kid of opts.kids ?? []) {
        const url = `${keyserver}/${kidHash(kid)}.pem`
        try {
          const { status, body } = await fetchText(url)
          const ok = status === 200 && body.includes('-----BEGIN PUBLIC KEY-----')
          step(ok, `key ${kid}`, ok ? `published at ${url}` : `not published (${url} answered ${status})`)
        } catch (err) {
          step(false, `key ${kid}`, `cannot reach ${url}: ${(err as Error).message}`)
        }
      }
    } else {
      try {
        const { status } = await fetchText(`${keyserver}/${kidHash('check')}.pem`)
        step(status === 404, 'key server', status === 404 ? 'none with a shared secret, as it should be' : `answered ${status}, expected 404`)
      } catch (err) {
        step(false, 'key server', `cannot reach ${keyserver}: ${(err as Error).message}`)
      }
    }
  }
  return failed ? 1 : 0
}

/** What the IdP offers that the sidecar uses, one line each (see docs/identity-providers.md). */
function idpReport(meta: Readonly<Record<string, unknown>>): string[] {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])
  const offered = list(meta.id_token_signing_alg_values_supported)
  const usable = usableIdTokenAlgs(offered.length > 0 ? offered : undefined)
  const has = (key: string) => (typeof meta[key] === 'string' ? 'yes' : 'no')
  return [
    `ID-token algorithms offered: ${offered.length > 0 ? offered.join(', ') : '(not listed: RS256 assumed)'}; usable: ${usable.join(', ') || 'none'} (HS* with OIDC_CLIENT_SECRET)`,
    `userinfo: ${has('userinfo_endpoint')} (OIDC_USERINFO=auto fetches it when a claim is missing from the ID token)`,
    `sign-out: end_session_endpoint ${has('end_session_endpoint')}, front-channel logout ${meta.frontchannel_logout_supported === true ? 'yes' : 'no'}, back-channel logout ${meta.backchannel_logout_supported === true ? 'yes' : 'no'}`,
  ]
}
