/**
 * Starting and stopping the sidecar as a process: listen, warm up OIDC
 * discovery in the background, stop on SIGTERM/SIGINT.
 */
import type { Server, ServerResponse } from 'node:http'
import { createAdminServer, type Lifecycle } from './admin.js'
import type { Config } from '../config/load.js'
import type { Logger } from './log.js'
import { Metrics } from './metrics.js'
import { listen } from '../http/listen.js'
import { createApp, createHttpServer, type App } from '../http/server.js'

export interface Running {
  readonly app: App
  readonly server: Server
  readonly admin: Server
  readonly port: number
  readonly adminPort: number
  readonly lifecycle: Lifecycle
  /**
   * Graceful stop: readiness fails at once; after SHUTDOWN_DELAY_SECONDS the
   * listener stops accepting and WebSockets get a close frame; in-flight
   * requests may finish until SHUTDOWN_TIMEOUT_SECONDS, then everything is cut.
   */
  stop(): Promise<void>
}

/** Effective configuration for the start-up log: no secrets, only whether they are set. */
export function describeConfig(config: Config): Record<string, unknown> {
  const a = config.auth
  return {
    publicUrl: config.publicOrigin,
    mode: config.mode,
    ...(config.mode === 'proxy' ? { upstream: config.upstream.origin } : {}),
    listen: `${config.listen.host}:${config.listen.port}`,
    adminListen: `${config.adminListen.host}:${config.adminListen.port}`,
    trustedProxies: config.trustedProxies.map((c) => `${c.address}/${c.prefix}`),
    shutdown: config.shutdown,
    auth: a
      ? {
          pathPrefix: a.pathPrefix,
          useRule: a.useRule.source,
          issuer: a.oidc.issuer.href,
          clientId: a.oidc.clientId,
          clientSecret: a.oidc.clientSecret ? '[set]' : '[missing]',
          scopes: a.oidc.scopes,
          redirectUri: a.oidc.redirectUri,
          jwt: {
            appId: a.jwt.appId, alg: a.jwt.alg, issuer: a.jwt.issuer, audience: a.jwt.audience, subject: a.jwt.subject, ttlSeconds: a.jwt.ttlSeconds,
            ...(a.jwt.alg.startsWith('RS')
              ? { privateKeyFile: a.jwt.privateKeyFile, keyId: a.jwt.keyId ?? '(thumbprint)', publicKeysDir: a.jwt.publicKeysDir, keyReloadSeconds: a.jwt.keyReloadSeconds }
              : { secret: '[set]' }),
          },
          cookieKeys: a.cookie.secrets.length,
          sessionTtlSeconds: a.cookie.sessionTtlSeconds,
        }
      : 'disabled (ENABLE_AUTH=0): plain proxy',
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/**
 * A response in flight when the stop began: one not yet started says
 * Connection: close; one already sent as keep-alive has its connection
 * closed once the last byte has gone to the client ('finish': closing idle
 * connections earlier would cut a tail still queued for a slow reader).
 */
function closeWhenAnswered(server: Server, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close')
  else res.once('finish', () => server.closeIdleConnections())
}

export async function start(config: Config, log: Logger): Promise<Running> {
  // Default process metrics are registered once listening (below): none of them is needed to serve.
  const metrics = new Metrics(false)
  const app = await createApp(config, log, { metrics })
  const lifecycle: Lifecycle = { shuttingDown: false }
  const server = createHttpServer(app)
  const admin = createAdminServer(app, config, lifecycle, log)
  const port = await listen(server, config.listen.port, config.listen.host)
  const adminPort = await listen(admin, config.adminListen.port, config.adminListen.host)
  log.info({ event: 'started', config: describeConfig(config), port, adminPort }, `listening on ${config.listen.host}:${port} (admin ${config.adminListen.host}:${adminPort})`)
  // Standard output is written in batches (up to 100 ms late): this line is what
  // operators and supervisors wait for, so it leaves now.
  log.flush()
  // Loaded in the background; a scrape waits for them.
  metrics.collectDefaults().catch((err: Error) => log.error({ event: 'metrics_failed', error: err.message }, 'default metrics could not be registered'))
  app.warmUp()
  let stopping: Promise<void> | undefined
  return {
    app,
    server,
    admin,
    port,
    adminPort,
    lifecycle,
    stop() {
      stopping ??= (async () => {
        const { delayMs, timeoutMs } = config.shutdown
        lifecycle.shuttingDown = true
        log.info({ event: 'shutdown_started', delayMs, timeoutMs }, 'shutting down: not ready; still serving while endpoints update')
        // Every answer from now on closes its connection: Node keeps kept-alive connections open after
        // close() (the clients', a load balancer's: 65 s), and the stop would wait for them until the timeout.
        server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'))
        for (const res of app.openResponses()) closeWhenAnswered(server, res)
        await sleep(delayMs)
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        app.closeUpgraded()
        const timer = setTimeout(() => {
          log.warn({ event: 'shutdown_timeout' }, 'in-flight requests did not finish in time; closing them')
          server.closeAllConnections()
        }, timeoutMs)
        await closed
        clearTimeout(timer)
        await new Promise<void>((resolve) => {
          admin.close(() => resolve())
          admin.closeAllConnections()
        })
        await app.close()
        log.info({ event: 'shutdown_complete' }, 'stopped')
      })()
      return stopping
    },
  }
}
