/**
 * The sidecar's own endpoints under PATH_PREFIX, as one table: each name (or
 * directory, ending in `/`) with the methods it takes and its handler. The
 * table answers 404 for what it does not hold and 405 with `Allow` for a
 * method an endpoint does not take, so handlers never check either.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface Endpoint {
  /** 'any': the endpoint answers for another request, whatever its method (forward-auth). */
  readonly methods: readonly string[] | 'any'
  /** `file` is the rest of the name under a directory entry (`asap/<file>`), '' otherwise. */
  readonly handle: (req: IncomingMessage, res: ServerResponse, query: string, file: string) => Promise<void> | void
  /** Errors it throws end a sign-in (counted as failed logins). */
  readonly signIn?: boolean
}

export type EndpointTable = Readonly<Record<string, Endpoint>>

export type Route =
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint; readonly file: string }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: string }

const NOT_FOUND: Route = Object.freeze({ kind: 'not-found' })

/** The route for `name` (the path after PATH_PREFIX) and a method. */
export function route(table: EndpointTable, name: string, method: string): Route {
  let endpoint = Object.hasOwn(table, name) && !name.endsWith('/') ? table[name] : undefined
  let file = ''
  const slash = name.indexOf('/')
  if (endpoint === undefined && slash !== -1) {
    const dir = name.slice(0, slash + 1)
    file = name.slice(slash + 1)
    endpoint = Object.hasOwn(table, dir) && file !== '' ? table[dir] : undefined
  }
  if (endpoint === undefined) return NOT_FOUND
  if (endpoint.methods !== 'any' && !endpoint.methods.includes(method)) return { kind: 'method-not-allowed', allow: endpoint.methods.join(', ') }
  return { kind: 'endpoint', endpoint, file }
}
