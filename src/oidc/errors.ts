/**
 * openid-client, jose and undici failures as our codes. The detail is for the
 * operator's log and never includes codes, tokens or secrets (only error
 * names, OAuth error codes and the libraries' fixed messages).
 */
import { SidecarError } from '../outcomes.js'
import { findCause, printable } from './causes.js'
import { loadedIdpModules } from './modules.js'
import { tlsProblem } from './transport.js'

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'OAUTH_TIMEOUT', 'ETIMEDOUT'])

function causeCode(err: unknown): string | undefined {
  const isCode = (code: unknown): code is string => typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E') || code === 'OAUTH_TIMEOUT')
  return findCause(err, (e) => isCode(e.code))?.code as string | undefined
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
    // The IdP is up and said what went wrong: say it, never that it is down.
    const said = `${step}: identity provider answered HTTP ${err.status} error=${safe(err.error)}${describe(err.error_description)}`
    return new SidecarError(err.status >= 500 || err.error === 'server_error' || err.error === 'temporarily_unavailable' ? 'IDP_ERROR' : 'LOGIN_FAILED', said, { cause: err })
  }
  const code = causeCode(err)
  if (code && TIMEOUT_CODES.has(code)) {
    return new SidecarError('IDP_TIMEOUT', `${step}: identity provider did not answer in time (${code})`, { cause: err })
  }
  const tls = tlsProblem(err)
  if (tls) return new SidecarError('IDP_UNAVAILABLE', `${step}: ${tls}`, { cause: err })
  if (err instanceof TypeError) {
    return new SidecarError('IDP_UNAVAILABLE', `${step}: identity provider unreachable (${code ?? err.message})`, { cause: err })
  }
  if (openid && err instanceof openid.ClientError) {
    const misfit = algorithmMismatch(err, step)
    if (misfit) return misfit
    // Answers that are not OIDC (HTML error pages, bad JSON): the status and URL say more than the library's message.
    const response = answered(err)
    const broken = ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'].includes(err.code ?? '')
    if (step === 'discovery' || broken) {
      if (!response) return new SidecarError(step === 'discovery' ? 'IDP_UNAVAILABLE' : 'IDP_ERROR', `${step}: ${err.message} (${err.code ?? 'no code'})`, { cause: err })
      const what = `${step}: ${response.url || 'the IdP'} answered HTTP ${response.status}${response.said}`
      if (step === 'discovery') {
        // Down for now (5xx), or not an IdP at all: OIDC_ISSUER names something else.
        if (response.status >= 500) return new SidecarError('IDP_UNAVAILABLE', what, { cause: err })
        return new SidecarError('IDP_MISCONFIGURED', `${what}, not an OpenID Provider configuration: check OIDC_ISSUER`, { cause: err })
      }
      return new SidecarError(response.status >= 500 ? 'IDP_ERROR' : 'LOGIN_FAILED', what, { cause: err })
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

/** An error answer's OAuth `error` and `error_description`, read by the fetch before openid-client sees the answer. */
const ERROR_BODY = Symbol('oauth error body')

/** Notes the OAuth error in a failed answer's JSON body (a copy: openid-client still reads the original). */
export async function noteErrorBody(res: Response): Promise<void> {
  const length = Number(res.headers.get('content-length') ?? '0')
  if (!(res.headers.get('content-type') ?? '').includes('json') || length > 65_536) return
  try {
    const body = (await res.clone().json()) as { error?: unknown; error_description?: unknown }
    if (typeof body.error === 'string') Object.defineProperty(res, ERROR_BODY, { value: { error: body.error, description: body.error_description } })
  } catch {
    // Not JSON after all: the status says enough.
  }
}

/** The HTTP answer an openid-client error carries (oauth4webapi puts the Response in `cause`), with its OAuth error if noted. */
function answered(err: Error): { status: number; url: string; said: string } | undefined {
  const cause = err.cause as { status?: unknown; url?: unknown; [ERROR_BODY]?: { error: string; description: unknown } } | undefined
  if (typeof cause !== 'object' || cause === null || typeof cause.status !== 'number') return undefined
  const body = cause[ERROR_BODY]
  const said = body ? ` error=${safe(body.error)}${describe(body.description)}` : ''
  return { status: cause.status, url: typeof cause.url === 'string' ? cause.url.slice(0, 200) : '', said }
}

/**
 * An ID token signed with an algorithm the IdP's metadata (or our client
 * settings) does not allow: the IdP's client settings and its discovery
 * document disagree. Names the algorithm on the page and the fix in the log.
 */
function algorithmMismatch(top: Error, step: string): SidecarError | undefined {
  // openid-client wraps oauth4webapi's error ("invalid response encountered"), whose cause says which alg.
  const err = findCause(top, (e) => /unexpected JWT "alg"/.test(e.message))
  if (!err) return undefined
  const cause = err.cause as { header?: { alg?: unknown }; expected?: unknown } | undefined
  // An unsigned token is never a setting: it is a forgery, a failed sign-in.
  if (typeof cause?.header?.alg !== 'string' || cause.header.alg === 'none') return undefined
  const alg = safe(cause.header.alg)
  const expected = Array.isArray(cause?.expected) ? cause.expected.filter((a): a is string => typeof a === 'string').map(safe).join(', ') : typeof cause?.expected === 'string' ? safe(cause.expected) : 'RS256'
  return new SidecarError(
    'IDP_MISCONFIGURED',
    `${step}: the IdP signed the ID token with ${alg}, but its discovery document offers only ${expected}: set this client's ID-token signature algorithm at the IdP to one of those (RS256 is the usual choice)`,
    { cause: top, note: `ID token algorithm ${alg}; expected ${expected}` },
  )
}

/** error_description, bounded to printable text so nothing else reaches a log. */
function describe(value: unknown): string {
  const text = printable(value, 200)
  return text === undefined ? '' : ` error_description=${JSON.stringify(text)}`
}
