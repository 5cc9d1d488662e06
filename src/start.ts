/**
 * Starting and stopping the sidecar as a process: listen, warm up OIDC
 * discovery in the background, stop on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Config } from './config.js'
import type { Logger } from './log.js'
import { createApp, createHttpServer, type App } from './server.js'

export interface Running {
  readonly app: App
  readonly server: Server
  readonly port: number
  stop(graceMs?: number): Promise<void>
}

/** How long in-flight requests get to finish when the sidecar stops. */
export const STOP_GRACE_MS = 10_000

/** Effective configuration for the start-up log: no secrets, only whether they are set. */
export function describeConfig(config: Config): Record<string, unknown> {
  const a = config.auth
  return {
    publicUrl: config.publicOrigin,
    upstream: config.upstream.origin,
    listen: `${config.listen.host}:${config.listen.port}`,
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

export async function start(config: Config, log: Logger, listen = config.listen): Promise<Running> {
  const app = await createApp(config, log)
  const server = createHttpServer(app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  log.info({ event: 'started', config: describeConfig(config), port }, `listening on ${listen.host}:${port}`)
  app.warmUp()
  return {
    app,
    server,
    port,
    async stop(graceMs = STOP_GRACE_MS) {
      // In-flight requests may finish; WebSockets (whole meetings) are closed
      // at once, and whatever remains after the grace period is cut.
      app.closeUpgraded()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const timer = setTimeout(() => server.closeAllConnections(), graceMs)
      await closed
      clearTimeout(timer)
      await app.close()
    },
  }
}
