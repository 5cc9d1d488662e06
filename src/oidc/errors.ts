/**
 * openid-client, jose and undici failures as our codes. The detail is for the
 * operator's log and never includes codes, tokens or secrets (only error
 * names, OAuth error codes and the libraries' fixed messages).
 */
import { SidecarError } from '../outcomes.js'
import { loadedIdpModules } from './modules.js'

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'OAUTH_TIMEOUT', 'ETIMEDOUT'])

function causeCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E') || code === 'OAUTH_TIMEOUT')) return code
  }
  return undefined
}

/** Translates openid-client and undici failures of `step` (discovery, code exchange, ...) into our codes. */
export function toSidecarError(err: unknown, step: string): SidecarError {
  if (err instanceof SidecarError) return err
  // Errors of openid-client's classes exist only once it is loaded.
  const openid = loadedIdpModules()?.openid
  if (openid && err instanceof openid.AuthorizationResponseError) {
    const refused = err.error === 'access_denied' || err.error === 'login_required' || err.error === 'consent_required'
    return new SidecarError(refused ? 'IDP_REFUSED' : 'LOGIN_FAILED', `identity provider answered error=${safe(err.error)}`, { cause: err })
  }
  if (openid && err instanceof openid.ResponseBodyError) {
    if (err.status >= 500) return new SidecarError('IDP_UNAVAILABLE', `${step}: identity provider answered HTTP ${err.status}`, { cause: err })
    return new SidecarError('LOGIN_FAILED', `${step}: identity provider answered ${safe(err.error)} (HTTP ${err.status})`, { cause: err })
  }
  const code = causeCode(err)
  if (code && TIMEOUT_CODES.has(code)) {
    return new SidecarError('IDP_TIMEOUT', `${step}: identity provider did not answer in time (${code})`, { cause: err })
  }
  if (err instanceof TypeError) {
    return new SidecarError('IDP_UNAVAILABLE', `${step}: identity provider unreachable (${code ?? err.message})`, { cause: err })
  }
  if (openid && err instanceof openid.ClientError) {
    // Answers that are not OIDC (HTML error pages, bad JSON, a 5xx) mean the IdP is broken, not the login.
    const broken = ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'].includes(err.code ?? '')
    if (step === 'discovery' || broken) {
      return new SidecarError('IDP_UNAVAILABLE', `${step}: ${err.message} (${err.code ?? 'no code'})`, { cause: err })
    }
    return new SidecarError('LOGIN_FAILED', `${step}: ${err.message} (${err.code ?? 'no code'})`, { cause: err })
  }
  return new SidecarError('INTERNAL', `${step}: ${err instanceof Error ? err.name : typeof err}`, { cause: err })
}

/** A failed fetch of the IdP's key set (jose's remote key set): always the IdP's failure, never the login's. */
export function keySetError(err: unknown): SidecarError {
  const jose = loadedIdpModules()?.errors
  if (jose && err instanceof jose.JWKSTimeout) return new SidecarError('IDP_TIMEOUT', 'ID token keys: the jwks_uri did not answer in time', { cause: err })
  // A status other than 200, a body that is not JSON, JSON that is not a key set.
  if (jose && err instanceof jose.JOSEError) return new SidecarError('IDP_UNAVAILABLE', `ID token keys: ${err.message}`, { cause: err })
  return toSidecarError(err, 'ID token keys')
}

/** A failed signature check of an ID token: a bad token, unless the IdP's published keys are unusable. */
export function signatureError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err
  const jose = loadedIdpModules()?.errors
  if (!jose || !(err instanceof jose.JOSEError)) return toSidecarError(err, 'ID token keys')
  if (err.code === 'ERR_JWKS_INVALID') return new SidecarError('IDP_UNAVAILABLE', `ID token keys: ${err.message}`, { cause: err })
  return new SidecarError('LOGIN_FAILED', `ID token rejected: ${err.message} (${err.code})`, { cause: err })
}

/** An OAuth error code from the IdP, limited to its grammar so nothing else reaches a log. */
function safe(value: string): string {
  return /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(value) ? value : '(unprintable)'
}
