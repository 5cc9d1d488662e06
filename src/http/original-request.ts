/**
 * The request a forward-auth question is about, as each kind of caller
 * describes it (MODE=forward-auth, PATH_PREFIX + `auth`). Pure functions:
 * the caller is trusted (TRUSTED_PROXIES) before any of this is believed.
 *
 * - nginx `auth_request` (our snippet): `X-Original-URI` (path and query), `X-Original-Method`.
 * - ingress-nginx `auth-url`: `X-Original-URL` (a full URL), `X-Original-Method`.
 * - Traefik `forwardAuth`: `X-Forwarded-Uri`, `X-Forwarded-Method` (and -Host, -Proto).
 * - Envoy `ext_authz` (HTTP service): the original path after the configured
 *   path prefix (`PATH_PREFIX/auth/<path>`), the original method and query.
 *
 * nginx and ingress-nginx turn any 3xx from the auth service into a 500 and
 * send a 401 to their sign-in location; Traefik and Envoy hand a non-2xx
 * answer to the client as it is, so they get the redirect itself.
 */
import type { IncomingHttpHeaders } from 'node:http'

export type Caller = 'nginx' | 'ingress-nginx' | 'traefik' | 'envoy'

export interface OriginalRequest {
  readonly caller: Caller
  readonly method: string
  /** Raw path, as the client sent it (percent-encoded). */
  readonly path: string
  /** Raw query without `?`, or ''. */
  readonly query: string
}

/** Whether the caller passes a non-2xx answer to the client as it is (so a "no" is the redirect itself). */
export function relaysAnswers(caller: Caller): boolean {
  return caller === 'traefik' || caller === 'envoy'
}

/** Scheme and authority of an absolute http(s) URL, and the rest: ingress-nginx's X-Original-URL. */
const ABSOLUTE = /^https?:\/\/[^/?#\\]*(\/[^#]*)?(?:#.*)?$/is

/**
 * The original request from a forward-auth question's headers, or a string
 * saying what is wrong. `rest` is what follows `auth` in the question's path
 * ('' or `/<original path>`), `query` the question's own query.
 */
export function originalRequest(method: string, rest: string, query: string, h: IncomingHttpHeaders): OriginalRequest | string {
  const url = single(h['x-original-url'])
  const uri = single(h['x-original-uri'])
  const forwarded = single(h['x-forwarded-uri'])
  // Each caller sets one of these and passes the client's other headers on: a client could add
  // another to describe a request of its choosing. Two descriptions are refused, never chosen from.
  const described = (url !== undefined ? 1 : 0) + (uri !== undefined ? 1 : 0) + (forwarded !== undefined ? 1 : 0) + (rest !== '' ? 1 : 0)
  if (described > 1) return 'the question describes more than one request (X-Original-URL, X-Original-URI, X-Forwarded-Uri, a path after auth/): a client added one'
  if (url !== undefined) {
    const m = ABSOLUTE.exec(url)
    if (!m) return 'X-Original-URL is not an absolute http(s) URL'
    return split('ingress-nginx', single(h['x-original-method']) ?? method, m[1] ?? '/')
  }
  if (uri !== undefined) return split('nginx', single(h['x-original-method']) ?? method, uri)
  if (forwarded !== undefined) return split('traefik', single(h['x-forwarded-method']) ?? method, forwarded)
  if (rest.startsWith('/')) return { caller: 'envoy', method, path: rest, query }
  return 'no original request: expected X-Original-URI (nginx), X-Original-URL (ingress-nginx), X-Forwarded-Uri (Traefik) or a path after auth/ (Envoy)'
}

function split(caller: Caller, method: string, uri: string): OriginalRequest | string {
  if (uri.charCodeAt(0) !== 47 /* / */) return `the original request's path does not start with /`
  const hash = uri.indexOf('#')
  const target = hash === -1 ? uri : uri.slice(0, hash)
  const q = target.indexOf('?')
  return { caller, method: method.toUpperCase(), path: q === -1 ? target : target.slice(0, q), query: q === -1 ? '' : target.slice(q + 1) }
}

/** A header given once; a repeated one (Node joins them with ", ") is taken as it is and then fails to classify. */
function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
