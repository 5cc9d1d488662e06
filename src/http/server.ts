/**
 * The request path, top to bottom: `classify` says what a request is; a room
 * page goes through the gate (decideRoom) and on to jitsi-web, back with a
 * token, or to the IdP; our endpoints are looked up in one table; anything
 * else goes to jitsi-web untouched. One access line and one metric per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import type { Config } from '../config/load.js'
import { OidcClient, type OidcClientOptions } from '../oidc/client.js'
import { accessLogFloor, redactUrl, unredacted, type Logger } from '../ops/log.js'
import { Metrics, type RouteClass } from '../ops/metrics.js'
import { classify } from '../rooms/classify.js'
import { backchannelLogoutEndpoint } from '../signin/backchannel.js'
import { callbackEndpoint } from '../signin/callback.js'
import { CookieCodec } from '../signin/cookies.js'
import { sendToRoom, type SignInDeps } from '../signin/deps.js'
import { gateRoom } from '../signin/gate.js'
import { loginEndpoint, startLogin } from '../signin/login.js'
import { forwardAuthEndpoint } from '../signin/forward-auth.js'
import { frontchannelLogoutEndpoint } from '../signin/frontchannel.js'
import { logoutEndpoint, signedOutEndpoint } from '../signin/logout.js'
import { RevocationRelay } from '../signin/relay.js'
import { Revocations } from '../signin/revocations.js'
import { KeyStore, isRsa } from '../token/keys.js'
import { servePublicKeys } from '../token/keyserver.js'
import { TokenSigner } from '../token/sign.js'
import { route, type EndpointTable } from './endpoints.js'
import { clientAddress, firstHeader, trustList } from './headers.js'
import { InFlight } from './in-flight.js'
import { createProxy, type Proxy } from './proxy.js'
import { Responder, failure } from './respond.js'

export interface App {
  handleRequest(req: IncomingMessage, res: ServerResponse): void
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Starts OIDC discovery in the background (start-up never waits for the IdP). */
  warmUp(): void
  /** A revocation relayed by another replica (admin port): true when its signature held and it was recorded. */
  acceptRevocation(body: string, signature: string | undefined): boolean
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
  /** The OIDC client's clock and network (tests move time by hand). */
  readonly oidc?: Pick<OidcClientOptions, 'now' | 'fetch' | 'dispatcher'>
}

export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  const metrics = opts.metrics ?? new Metrics()
  const responder = new Responder(config, log, metrics)
  const trusted = trustList(config.trustedProxies)
  const auth = config.auth
  // Only MODE=proxy sends anything to jitsi-web.
  const proxy: Proxy | undefined = config.mode !== 'proxy' ? undefined : createProxy({
    upstream: config.upstream,
    // Our cookies are none of jitsi-web's business.
    forwarding: { publicProtocol: config.publicProtocol, trusted, ownCookies: auth ? OWN_COOKIE_MARK : undefined },
    onUpstreamError(err, req, res) {
      responder.respond(req, res, { code: 'UPSTREAM_UNAVAILABLE', detail: upstreamDetail(err), nextUrl: `${config.publicOrigin}${retryPath(req)}` })
    },
    onUpstreamSocketError(err, req, socket) {
      responder.respondSocket(req, socket, { code: 'UPSTREAM_UNAVAILABLE', detail: `websocket ${upstreamDetail(err)}` })
    },
    onError(_err, _req, kind) {
      metrics.upstreamErrors.inc({ kind })
    },
  })

  let signIn: SignInDeps | undefined
  /** A revocation relayed by another replica, recorded when its signature holds. */
  let acceptRelayed: (body: string, signature: string | undefined) => boolean = () => false
  let endpoints: EndpointTable = {}
  let stopWatching = () => {}
  if (auth) {
    const keys = await KeyStore.load(auth.jwt, (e) => {
      log[e.level]({ event: e.event, kid: e.kid, file: e.file }, e.message)
      if (e.event !== 'key_loaded') metrics.keyReloads.inc({ result: e.event === 'key_rotated' ? 'rotated' : e.event === 'public_keys_loaded' ? 'public_keys' : 'failed' })
    })
    stopWatching = keys.watch(auth.jwt.keyReloadSeconds)
    const oidc = new OidcClient(auth.oidc, metrics, {
      ...opts.oidc,
      onStaleKeys(reason) {
        metrics.staleKeys.inc()
        log.warn({ event: 'idp_keys_stale', error: reason }, 'the IdP\'s key set could not be fetched again: ID tokens are verified with the keys fetched before')
      },
    })
    const revocations = new Revocations(auth.cookie.sessionTtlSeconds)
    const relay = new RevocationRelay(auth.cookie.secrets, auth.logoutPeers, log)
    revocations.onRevoke((r) => void relay.send(r))
    acceptRelayed = (body, signature) => {
      const r = relay.accept(body, signature)
      if (!r) return false
      revocations.revoke(r, false)
      log.info({ event: 'idp_logout', channel: 'relay' }, 'another replica relayed a logout from the identity provider')
      return true
    }
    const d: SignInDeps = {
      config,
      auth,
      oidc,
      signer: new TokenSigner(keys, auth.jwt, (alg) => metrics.tokens.inc({ alg })),
      cookies: new CookieCodec(auth.cookie.secrets, auth.cookie.secure),
      revocations,
      responder,
      metrics,
      log,
    }
    signIn = d
    endpoints = {
      login: { methods: ['GET', 'HEAD'], handle: (req, res, query) => loginEndpoint(d, req, res, query), signIn: true },
      callback: { methods: ['GET'], handle: (req, res, query) => callbackEndpoint(d, req, res, query), signIn: true },
      logout: { methods: ['GET', 'HEAD', 'POST'], handle: (req, res, query) => logoutEndpoint(d, req, res, query) },
      'signed-out': { methods: ['GET', 'HEAD'], handle: (req, res, query) => signedOutEndpoint(d, req, res, query) },
      'frontchannel-logout': { methods: ['GET', 'HEAD'], handle: (req, res, query) => frontchannelLogoutEndpoint(d, req, res, query) },
      'backchannel-logout': { methods: ['POST'], handle: (req, res) => backchannelLogoutEndpoint(d, req, res) },
      // Envoy's ext_authz appends the original path: `auth/<path>`.
      ...(config.mode === 'forward-auth'
        ? {
            auth: { methods: 'any', handle: (req, res, query) => forwardAuthEndpoint(d, trusted, req, res, query, '') },
            'auth/': { methods: 'any', handle: (req, res, query, file) => forwardAuthEndpoint(d, trusted, req, res, query, `/${file}`) },
          }
        : {}),
      // The key server exists only with a key pair: a shared secret has nothing to publish.
      ...(isRsa(auth.jwt.alg)
        ? {
            'jwks.json': { methods: ['GET', 'HEAD'], handle: (req, res) => servePublicKeys(req, res, undefined, keys, responder) },
            'asap/': { methods: ['GET', 'HEAD'], handle: (req, res, _query, file) => servePublicKeys(req, res, file, keys, responder) },
          }
        : {}),
    } satisfies EndpointTable
  }
  const oidc = signIn?.oidc
  // Every field of the access line is built here from safe values (the URL through redactUrl).
  const accessLog = unredacted(log)
  // Lines from this status up, or none (Infinity): ACCESS_LOG and LOG_LEVEL, decided here once.
  const accessFrom = accessLog.isLevelEnabled('info') ? accessLogFloor(config.accessLog) : Infinity
  const prefix = auth?.pathPrefix ?? ''

  const open = new InFlight()

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
      const at = proxy?.upstreamAt(req)
      accessLog.info({
        event: 'access', route, method: req.method, url: redactUrl(req.url ?? ''), status,
        ms: round(performance.now() - started), bytes: socket.bytesWritten - bytesBefore,
        ...(at === undefined ? {} : { upstreamMs: round(at - started) }),
        client: clientAddress(remoteAddress, req.headers['x-forwarded-for'], trusted),
      })
    })
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    if (!signIn) {
      observe(req, res, 'proxy')
      return proxy!.web(req, res)
    }
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (!proxy) return outside(req, res, path, q === -1 ? '' : url.slice(q + 1))
    const c = classify({ method: req.method ?? 'GET', path, secFetchMode: firstHeader(req, 'sec-fetch-mode'), accept: firstHeader(req, 'accept') }, prefix)
    observe(req, res, c.kind === 'pass' ? 'proxy' : c.kind)
    if (c.kind === 'pass') return proxy.web(req, res)
    // Only our own answers read the query: the proxied majority never slices it.
    const query = q === -1 ? '' : url.slice(q + 1)
    if (c.kind === 'endpoint') return endpoint(req, res, c.name, query)
    room(signIn, proxy, req, res, c.room, c.tenant, query).catch((err: unknown) => responder.respond(req, res, failure(err)))
  }

  /** MODE=issuer and forward-auth: only our endpoints are routed here; anything else is a routing mistake. */
  function outside(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const name = path.startsWith(prefix) ? path.slice(prefix.length) : undefined
    observe(req, res, name !== undefined && (name === 'auth' || name.startsWith('auth/')) && config.mode === 'forward-auth' ? 'auth' : 'endpoint')
    if (name !== undefined) return endpoint(req, res, name, query)
    responder.respond(req, res, { code: 'NOT_FOUND', detail: `MODE=${config.mode}: only ${prefix} is served here (is the ingress routing everything to the sidecar?)` })
  }

  function endpoint(req: IncomingMessage, res: ServerResponse, name: string, query: string): void {
    const r = route(endpoints, name, req.method ?? 'GET')
    if (r.kind === 'not-found') return responder.respond(req, res, { code: 'NOT_FOUND' })
    if (r.kind === 'method-not-allowed') return responder.respond(req, res, { code: 'METHOD_NOT_ALLOWED', allow: r.allow })
    const { endpoint: e, file } = r
    Promise.resolve()
      .then(() => e.handle(req, res, query, file))
      .catch((err: unknown) => responder.respond(req, res, failure(err, { signIn: e.signIn })))
  }

  /** A room page load: through the gate, then to jitsi-web, back with a token, or to the IdP. */
  async function room(d: SignInDeps, proxy: Proxy, req: IncomingMessage, res: ServerResponse, room: string, tenant: string | undefined, query: string): Promise<void> {
    const { decision, passSpent, target, cookies } = await gateRoom(d, req, room, tenant, query)
    switch (decision.kind) {
      case 'pass':
        // One load per fragment redirect: a reload signs in again from the session.
        if (passSpent) res.setHeader('set-cookie', d.cookies.clearCookie(d.cookies.passName))
        // The client may have left while the token was checked.
        if (!res.destroyed) proxy.web(req, res, query !== '')
        return
      case 'mint':
        return sendToRoom(d, req, res, decision.session, target)
      case 'login':
        return startLogin(d, req, res, target, cookies)
    }
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
    // Our endpoints speak no WebSocket, and outside MODE=proxy there is nothing else here.
    if (!proxy) return responder.respondSocket(req, socket, { code: 'NOT_FOUND', detail: `websocket upgrade in MODE=${config.mode}` })
    if (signIn && (req.url ?? '/').startsWith(prefix)) return responder.respondSocket(req, socket, { code: 'NOT_FOUND', detail: 'websocket upgrade to an endpoint' })
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
    acceptRevocation: (body, signature) => acceptRelayed(body, signature),
    openResponses: () => open,
    closeUpgraded() {
      const closed = proxy?.closeWebSockets() ?? 0
      if (closed > 0) log.info({ event: 'websockets_closed', count: closed }, 'closed WebSockets (1001 going away)')
      // Anything else upgraded (a handshake still in progress) simply ends.
      setTimeout(() => {
        for (const socket of upgraded) socket.destroy()
      }, 1000).unref()
    },
    async close() {
      stopWatching()
      for (const socket of upgraded) socket.destroy()
      proxy?.close()
      await oidc?.close()
    },
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

/** Every cookie the sidecar sets has this in its name (`jos_session`, `__Host-jos_tx_…`). */
const OWN_COOKIE_MARK = 'jos_'

function upstreamDetail(err: Error): string {
  return `upstream unavailable: ${(err as NodeJS.ErrnoException).code ?? err.message}`
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
