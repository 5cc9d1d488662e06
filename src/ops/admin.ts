/**
 * The admin listener (ADMIN_LISTEN_ADDRESS), separate from the public port:
 * `/healthz` (the process answers), `/readyz` (configuration loaded, the IdP
 * discovered at least once, jitsi-web answering in MODE=proxy, not shutting down) and
 * `/metrics` (Prometheus), and `POST /revocations` (logouts relayed by other
 * replicas, HMAC-signed: signin/relay.ts). Nothing here is reachable through the public port.
 */
import { createServer, request, type Server } from 'node:http'
import type { Config } from '../config/load.js'
import type { Logger } from './log.js'
import type { App } from '../http/server.js'
import { readText } from '../http/form.js'
import { firstHeader } from '../http/headers.js'

/** How long a readiness answer about jitsi-web is reused (probes of several kubelets and scrapers). */
const UPSTREAM_CHECK_CACHE_MS = 1000
const UPSTREAM_CHECK_TIMEOUT_MS = 2000

export interface Lifecycle {
  /** Set on SIGTERM: readiness fails at once, so endpoints stop sending traffic. */
  shuttingDown: boolean
}

/** True when jitsi-web answers HTTP at all (any status): it is up. */
export function probeUpstream(upstream: URL, timeoutMs = UPSTREAM_CHECK_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(upstream.origin, { method: 'HEAD', path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
    req.end()
  })
}

export interface AdminOptions {
  /** How long a readiness answer about jitsi-web is reused, in ms (default UPSTREAM_CHECK_CACHE_MS; 0: never). */
  readonly upstreamCacheMs?: number
}

export function createAdminServer(app: App, config: Config, lifecycle: Lifecycle, log: Logger, opts: AdminOptions = {}): Server {
  const cacheMs = opts.upstreamCacheMs ?? UPSTREAM_CHECK_CACHE_MS
  let upstreamCheck: { at: number; ok: Promise<boolean> } | undefined

  const upstreamUp = (): Promise<boolean> => {
    const now = Date.now()
    if (!upstreamCheck || now - upstreamCheck.at >= cacheMs) upstreamCheck = { at: now, ok: probeUpstream(config.upstream) }
    return upstreamCheck.ok
  }

  async function readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = { config: true, notShuttingDown: !lifecycle.shuttingDown }
    if (app.oidc) {
      checks.identityProvider = app.oidc.ready
      // Not discovered yet: try again now (rate-limited inside), so readiness recovers by itself.
      if (!app.oidc.ready) app.oidc.configuration().catch(() => {})
    }
    // Only the proxy mode sends anything to jitsi-web.
    if (config.mode === 'proxy') checks.upstream = await upstreamUp()
    return { ready: Object.values(checks).every(Boolean), checks }
  }

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (path === '/revocations' && req.method === 'POST') {
      readText(req, 4096).then(
        (body) => (body !== undefined && app.acceptRevocation(body, firstHeader(req, 'x-jos-signature')) ? send(204, 'text/plain', '') : send(403, 'text/plain', 'refused\n')),
        () => send(400, 'text/plain', 'bad request\n'),
      )
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n')
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n')
      case '/readyz':
        readiness().then(
          (r) => send(r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`),
          () => send(503, 'application/json', '{"ready":false}\n'),
        )
        return
      case '/metrics':
        app.metrics.text().then(
          (text) => send(200, app.metrics.registry.contentType, text),
          (err: Error) => {
            log.error({ event: 'metrics_failed', error: err.message }, 'metrics collection failed')
            send(500, 'text/plain', 'metrics collection failed\n')
          },
        )
        return
      default:
        return send(404, 'text/plain', 'not found\n')
    }
  })
}
