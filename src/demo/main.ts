/**
 * `npm run demo`: the embedded IdP, the stand-in jitsi-web and the sidecar in
 * one process, configured for http://localhost:8080. Nothing to install.
 */
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../config/load.js'
import { createLogger } from '../ops/log.js'
import { start } from '../ops/start.js'
import { DEMO_ACCOUNTS, startIdp } from './idp.js'
import { startStandIn } from './jitsi.js'

export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Registered before anything starts, so a Ctrl+C during start-up still stops what did start.
  const started: (() => Promise<unknown>)[] = []
  const stop = () => {
    void Promise.allSettled(started.map((close) => close())).finally(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const port = Number(env.DEMO_PORT ?? 8080)
  const publicUrl = `http://localhost:${port}`
  const clientSecret = randomBytes(24).toString('base64url')
  const idp = await startIdp({ host: 'localhost', port: Number(env.DEMO_IDP_PORT ?? port + 1), clientId: 'jitsi', clientSecret, redirectUris: [`${publicUrl}/jitsi/callback`], postLogoutRedirectUris: [`${publicUrl}/`] })
  started.push(() => idp.close())
  const jitsi = await startStandIn()
  started.push(() => jitsi.close())
  const config = loadConfig({
    PUBLIC_URL: publicUrl,
    UPSTREAM_URL: jitsi.url,
    LISTEN_ADDRESS: `127.0.0.1:${port}`,
    ADMIN_LISTEN_ADDRESS: `127.0.0.1:${env.DEMO_ADMIN_PORT ?? port + 10}`,
    SHUTDOWN_DELAY_SECONDS: '0',
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: 'jitsi',
    OIDC_CLIENT_SECRET: clientSecret,
    OIDC_SCOPES: 'openid profile email groups',
    USE_RULE: "inGroup('jitsi-users')",
    MODERATOR_RULE: "inGroup('staff')",
    JWT_FEATURES: "recording=inGroup('staff'),livestreaming=inGroup('staff')",
    JWT_APP_ID: 'demo-app',
    JWT_APP_SECRET: randomBytes(32).toString('base64url'),
    COOKIE_SECRET: randomBytes(32).toString('base64url'),
  })
  const running = await start(config, createLogger(config.logLevel))
  started.push(() => running.stop())
  const accounts = Object.entries(DEMO_ACCOUNTS).map(([id, a]) => `    ${id} / ${a.password}   (groups: ${(a.claims.groups as string[]).join(', ')})`).join('\n')
  process.stdout.write(`
jitsi-oidc-sidecar demo is running.

  Open ${publicUrl}/MyRoom in a browser and sign in.
  Demo accounts (USE_RULE inGroup('jitsi-users'), MODERATOR_RULE inGroup('staff')):
${accounts}
  Identity provider: ${idp.issuer}   stand-in jitsi-web: ${jitsi.url}
  Sign out: ${publicUrl}/jitsi/logout

Press Ctrl+C to stop.
`)
}
