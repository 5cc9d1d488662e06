/**
 * Wiring: routes each request by `classify` to the sign-in flow, our
 * endpoints or the proxy; one access line and one metric per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import { AuthFlow } from '../signin/flow.js'
import type { Config } from '../config/load.js'
import { KeyStore } from '../token/keys.js'
import { accessLogFloor, redactUrl, unredacted, type Logger } from '../ops/log.js'
import { Metrics, type RouteClass } from '../ops/metrics.js'
import { OidcClient } from '../oidc/client.js'
import { createProxy, isTrustedPeer, trustList, type Proxy } from './proxy.js'
import { Replies } from './reply.js'
import { classify } from '../rooms/classify.js'
import { CookieCodec } from '../signin/cookies.js'
import { TokenSigner } from '../token/sign.js'

export interface App {
  handleRequest(req: IncomingMessage, res: ServerResponse): void
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Starts OIDC discovery in the background (start-up never waits for the IdP). */
  warmUp(): void
  readonly oidc: OidcClient | undefined
  readonly metrics: Metrics
  /** Closes WebSockets cleanly (close frame both ways) and destroys other upgraded connections. */
  closeUpgraded(): void
  /** Responses not yet complete: a stop makes each close its connection when done. */
  openResponses(): Iterable<ServerResponse>
  close(): Promise<void>
}

export interface AppOptions {
  /** A registry of its own per app (tests run several in one process). */
  readonly metrics?: Metrics
}

export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  const metrics = opts.metrics ?? new Metrics()
  const replies = new Replies(config, log)
  const trusted = trustList(config.trustedProxies)
  const proxy: Proxy = createProxy({
    upstream: config.upstream,
    publicProtocol: config.publicProtocol,
    trustedProxies: trusted,
    onUpstreamError(err, req, res) {
      const detail = `upstream unavailable: ${(err as NodeJS.ErrnoException).code ?? err.message}`
      replies.page(req, res, 'UPSTREAM_UNAVAILABLE', { detail, nextUrl: `${config.publicOrigin}${retryPath(req)}` })
    },
    onError(err, req, kind) {
      metrics.upstreamErrors.inc({ kind })
      if (kind === 'ws') log.warn({ event: 'upstream_error', kind, url: redactUrl(req.url ?? ''), error: (err as NodeJS.ErrnoException).code ?? err.message }, 'websocket proxy error')
    },
  })

  const auth = config.auth
  let flow: AuthFlow | undefined
  let oidc: OidcClient | undefined
  let stopWatching = () => {}
  if (auth) {
    const keys = await KeyStore.load(auth.jwt, (e) => {
      log[e.level]({ event: e.event, kid: e.kid, file: e.file }, e.message)
      if (e.event !== 'key_loaded') metrics.keyReloads.inc({ result: e.event === 'key_rotated' ? 'rotated' : e.event === 'public_keys_loaded' ? 'public_keys' : 'failed' })
    })
    stopWatching = keys.watch(auth.jwt.keyReloadSeconds)
    oidc = new OidcClient(auth.oidc, metrics, (reason) => {
      metrics.staleKeys.inc()
      log.warn({ event: 'idp_keys_stale', error: reason }, 'the IdP\'s key set could not be fetched again: ID tokens are verified with the keys fetched before')
    })
    flow = new AuthFlow({
      config,
      auth,
      oidc,
      keys,
      signer: new TokenSigner(keys, auth.jwt, (alg) => metrics.tokens.inc({ alg })),
      cookies: new CookieCodec(auth.cookie.secrets, auth.cookie.secure),
      replies,
      metrics,
      log,
    })
  }
  // Every field of the access line is built here from safe values (the URL through redactUrl).
  const accessLog = unredacted(log)
  // Lines from this status up, or none (Infinity): ACCESS_LOG and LOG_LEVEL, decided here once.
  const accessFrom = accessLog.isLevelEnabled('info') ? accessLogFloor(config.accessLog) : Infinity
  const prefix = auth?.pathPrefix ?? ''
  const cookiePrefix = auth ? OWN_COOKIE_MARK : undefined

  const open = new Set<ServerResponse>()

  /** Counts the request and writes its access line when the response is done (or abandoned). */
  function observe(req: IncomingMessage, res: ServerResponse, route: RouteClass): void {
    const started = performance.now()
    open.add(res)
    const socket = req.socket
    const bytesBefore = socket.bytesWritten
    // Read now: a socket destroyed before the response ends (499) no longer knows its peer.
    const remoteAddress = socket.remoteAddress
    res.once('close', () => {
      open.delete(res)
      // 499: the client went away before the response was complete (nginx's convention).
      const status = res.writableFinished ? res.statusCode : 499
      metrics.countRequest(route, status)
      if (status < accessFrom) return
      const at = proxy.upstreamAt(req)
      accessLog.info({
        event: 'access', route, method: req.method, url: redactUrl(req.url ?? ''), status,
        ms: round(performance.now() - started), bytes: socket.bytesWritten - bytesBefore,
        ...(at === undefined ? {} : { upstreamMs: round(at - started) }),
        client: clientAddress(remoteAddress, req.headers['x-forwarded-for'], trusted),
      })
    })
  }

  /** Our cookies are none of jitsi-web's business. */
  function forward(req: IncomingMessage, res: ServerResponse, roomPage = false): void {
    if (cookiePrefix !== undefined) stripCookies(req, cookiePrefix)
    proxy.web(req, res, roomPage)
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    if (!flow) {
      observe(req, res, 'proxy')
      return proxy.web(req, res)
    }
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const c = classify({ method: req.method ?? 'GET', path, secFetchMode: header(req, 'sec-fetch-mode'), accept: header(req, 'accept') }, prefix)
    observe(req, res, c.kind === 'pass' ? 'proxy' : c.kind)
    if (c.kind === 'pass') return forward(req, res)
    const query = q === -1 ? '' : url.slice(q + 1)
    const f = flow
    const work = c.kind === 'endpoint'
      ? f.endpoint(req, res, c.name, query)
      : f.room(req, res, c.room, c.tenant, query).then((handled) => {
          // The client may have left while the token was checked.
          if (!handled && !res.destroyed) forward(req, res, query !== '')
        })
    work.catch((err: unknown) => replies.fail(req, res, err))
  }

  // Upgraded connections outlive requests; they are closed on shutdown.
  const upgraded = new Set<Duplex>()
  metrics.openWebSockets = () => upgraded.size

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node stops watching the socket once it emits 'upgrade'; an unhandled
    // error on it (a client reset mid-handshake) would end the process.
    socket.on('error', () => socket.destroy())
    upgraded.add(socket)
    socket.once('close', () => upgraded.delete(socket))
    if (flow && (req.url ?? '/').startsWith(prefix)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (cookiePrefix !== undefined) stripCookies(req, cookiePrefix)
    proxy.ws(req, socket, head)
  }

  return {
    handleRequest,
    handleUpgrade,
    oidc,
    metrics,
    warmUp() {
      oidc?.configuration().then(
        () => log.info({ event: 'oidc_discovered', issuer: auth?.oidc.issuer.href }, 'identity provider discovered'),
        (err: Error) => log.warn({ event: 'oidc_discovery_failed', issuer: auth?.oidc.issuer.href, error: err.message }, 'identity provider not reachable yet; will retry'),
      )
    },
    openResponses: () => open,
    closeUpgraded() {
      const closed = proxy.closeWebSockets()
      if (closed > 0) log.info({ event: 'websockets_closed', count: closed }, 'closed WebSockets (1001 going away)')
      // Anything else upgraded (a handshake still in progress) simply ends.
      setTimeout(() => {
        for (const socket of upgraded) socket.destroy()
      }, 1000).unref()
    },
    async close() {
      stopWatching()
      for (const socket of upgraded) socket.destroy()
      proxy.close()
      await oidc?.close()
    },
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the
 * X-Forwarded-For hop nearest to us that no trusted proxy stands for
 * (read right to left: entries further left are whatever the client wrote).
 */
function clientAddress(remoteAddress: string | undefined, xff: string | string[] | undefined, trusted: ReturnType<typeof trustList>): string {
  const remote = remoteAddress ?? ''
  let client = remote.startsWith('::ffff:') ? remote.slice(7) : remote
  if (!isTrustedPeer(client, trusted)) return client
  const hops = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim()
    if (hop === '') continue
    client = hop
    if (!isTrustedPeer(hop, trusted)) break
  }
  return client
}

/** Every cookie the sidecar sets has this in its name (`jos_session`, `__Host-jos_tx_…`). */
const OWN_COOKIE_MARK = 'jos_'

/** Removes the sidecar's cookies from a request before it goes upstream. */
export function stripCookies(req: IncomingMessage, mark: string): void {
  const cookie = req.headers.cookie
  if (cookie === undefined || !cookie.includes(mark)) return
  const kept = cookie.split(';').filter((c) => {
    const name = c.slice(0, c.indexOf('=')).trim()
    return !(name.startsWith(mark) || name.startsWith(`__Host-${mark}`))
  })
  if (kept.length === 0) delete req.headers.cookie
  else req.headers.cookie = kept.join(';').trim()
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The request's own path (no query: it may hold a token) as a retry link on PUBLIC_URL's origin. */
function retryPath(req: IncomingMessage): string {
  const url = req.url ?? '/'
  if (url.charCodeAt(0) !== 47 /* / */) return '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** Creates the HTTP server for `app`; the caller listens. */
export function createHttpServer(app: App): Server {
  const server = createServer({ keepAliveTimeout: 65_000 }, app.handleRequest)
  server.on('upgrade', app.handleUpgrade)
  return server
}
