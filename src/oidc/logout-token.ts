/**
 * Back-Channel Logout 1.0's logout token, validated as its section 2.6 asks
 * (openid-client has no back-channel support; jose checks the JWT itself):
 * signed like the IdP's ID tokens, our issuer and audience, a recent `iat`,
 * the back-channel `events` member, `sub` or `sid`, and no `nonce` (so an ID
 * token can never pass as a logout token).
 */
import type { CryptoKey, FlattenedJWSInput, JWSHeaderParameters } from 'jose'
import { SidecarError } from '../outcomes.js'
import type { IdpModules } from './modules.js'

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** How old a logout token may be: the IdP sends it as the session ends. */
const MAX_AGE_S = 300

export interface LogoutTokenChecks {
  readonly issuer: string
  readonly clientId: string
  readonly algorithms: readonly string[]
  readonly key: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey | Uint8Array> | CryptoKey | Uint8Array
  /** Seconds since the epoch. */
  readonly now: number
}

export interface LogoutTokenClaims {
  readonly sub?: string | undefined
  readonly sid?: string | undefined
  readonly iat: number
  readonly jti?: string | undefined
}

/** Throws SidecarError (BAD_REQUEST, naming the check that failed) for any token that is not a valid logout token for us. */
export async function verifyLogoutToken({ jwtVerify, errors }: IdpModules, token: string, c: LogoutTokenChecks): Promise<LogoutTokenClaims> {
  let payload
  try {
    ;({ payload } = await jwtVerify(token, c.key, {
      issuer: c.issuer,
      audience: c.clientId,
      algorithms: [...c.algorithms],
      currentDate: new Date(c.now * 1000),
      maxTokenAge: MAX_AGE_S,
      requiredClaims: ['iat', 'events'],
      clockTolerance: 60,
    }))
  } catch (err) {
    if (err instanceof SidecarError) throw err
    const why = err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : err instanceof Error ? err.name : 'error'
    throw new SidecarError('BAD_REQUEST', `logout token rejected (${why})`, { cause: err })
  }
  const events = payload.events
  const event = typeof events === 'object' && events !== null && !Array.isArray(events) ? (events as Record<string, unknown>)[BACKCHANNEL_EVENT] : undefined
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new SidecarError('BAD_REQUEST', `logout token rejected: no ${BACKCHANNEL_EVENT} event`)
  if ('nonce' in payload) throw new SidecarError('BAD_REQUEST', 'logout token rejected: it has a nonce (an ID token?)')
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined
  if (sub === undefined && sid === undefined) throw new SidecarError('BAD_REQUEST', 'logout token rejected: neither sub nor sid')
  return { sub, sid, iat: payload.iat as number, jti: typeof payload.jti === 'string' ? payload.jti : undefined }
}
