/**
 * `npm run demo`: the embedded IdP, the stand-in jitsi-web and the sidecar in
 * one process, configured for http://localhost:8080 (DEMO_PORT; the IdP on
 * DEMO_IDP_PORT, the admin port on DEMO_ADMIN_PORT). Nothing to install. Logs
 * are lines for people (LOG_FORMAT=json for JSON), without access lines for
 * every asset (ACCESS_LOG=all to see them).
 */
import { randomBytes } from 'node:crypto'
import { loadConfig } from '../config/load.js'
import { createLogger, prettyStream } from '../ops/log.js'
import { start } from '../ops/start.js'
import { DEMO_ACCOUNTS, startIdp } from './idp.js'
import { startStandIn } from './jitsi.js'

/** The demo's ports, each from its variable. Throws a message naming the variable. */
export function demoPorts(env: NodeJS.ProcessEnv): { port: number; idpPort: number; adminPort: number } {
  // The admin port may be 0 (any free one): nothing links to it.
  const read = (name: string, fallback: number, min = 1): number => {
    const text = env[name]
    if (text === undefined || text === '') return fallback
    const n = Number(text)
    if (!Number.isInteger(n) || n < min || n > 65535) throw new Error(`${name} must be a port number from ${min} to 65535, got ${JSON.stringify(text)}`)
    return n
  }
  const port = read('DEMO_PORT', 8080)
  return { port, idpPort: read('DEMO_IDP_PORT', port + 1), adminPort: read('DEMO_ADMIN_PORT', port + 10, 0) }
}

/** A listen error as the person starting the demo can act on it: which variable picks another port. */
function portProblem(err: unknown, variable: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE') return new Error(`port ${port} is in use (by another program, or another demo): choose a free one with ${variable}, e.g. ${variable}=${port + 100} npm run demo`)
  if (code === 'EACCES') return new Error(`port ${port} needs privileges here: choose a port above 1023 with ${variable}`)
  return err
}

export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Registered before anything starts, so a Ctrl+C during start-up still stops what did start.
  const started: (() => Promise<unknown>)[] = []
  const stopAll = () => Promise.allSettled(started.map((close) => close()))
  const stop = () => void stopAll().finally(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    await startAll(env, started)
  } catch (err) {
    await stopAll()
    throw err
  }
}

async function startAll(env: NodeJS.ProcessEnv, started: (() => Promise<unknown>)[]): Promise<void> {
  const { port, idpPort, adminPort } = demoPorts(env)
  const publicUrl = `http://localhost:${port}`
  const clientSecret = randomBytes(24).toString('base64url')
  const idp = await startIdp({ host: 'localhost', port: idpPort, clientId: 'jitsi', clientSecret, redirectUris: [`${publicUrl}/jitsi/callback`], postLogoutRedirectUris: [`${publicUrl}/jitsi/signed-out`] })
    .catch((err: unknown) => { throw portProblem(err, 'DEMO_IDP_PORT', idpPort) })
  started.push(() => idp.close())
  const jitsi = await startStandIn()
  started.push(() => jitsi.close())
  const config = loadConfig({
    PUBLIC_URL: publicUrl,
    UPSTREAM_URL: jitsi.url,
    LISTEN_ADDRESS: `127.0.0.1:${port}`,
    ADMIN_LISTEN_ADDRESS: `127.0.0.1:${adminPort}`,
    SHUTDOWN_DELAY_SECONDS: '0',
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    LOG_FORMAT: env.LOG_FORMAT ?? 'pretty',
    ACCESS_LOG: env.ACCESS_LOG ?? 'errors',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: 'jitsi',
    OIDC_CLIENT_SECRET: clientSecret,
    OIDC_SCOPES: 'openid profile email groups',
    USE_RULE: "inGroup('jitsi-users')",
    MODERATOR_RULE: "inGroup('staff')",
    // A site's usual choice: everyone chats, polls, shares files; staff record, stream and transcribe.
    JWT_FEATURES: "recording=inGroup('staff'),livestreaming=inGroup('staff'),transcription=inGroup('staff'),list-visitors=inGroup('staff'),"
      + 'send-groupchat=true,create-polls=true,file-upload=true,flip=true,outbound-call=false,sip-outbound-call=false',
    JWT_APP_ID: 'demo-app',
    JWT_APP_SECRET: randomBytes(32).toString('base64url'),
    COOKIE_SECRET: randomBytes(32).toString('base64url'),
  })
  const log = createLogger(config.logLevel, config.logFormat === 'pretty' ? await prettyStream(undefined, { brief: true }) : undefined)
  const running = await start(config, log).catch((err: unknown) => {
    const failedPort = (err as { port?: number }).port
    throw portProblem(err, failedPort === adminPort ? 'DEMO_ADMIN_PORT' : 'DEMO_PORT', failedPort ?? port)
  })
  started.push(() => running.stop())
  const accounts = Object.entries(DEMO_ACCOUNTS).map(([id, a]) => `    ${id} / ${a.password}   (groups: ${(a.claims.groups as string[]).join(', ')})`).join('\n')
  process.stdout.write(`
jitsi-oidc-sidecar demo is running.

  Open ${publicUrl}/MyRoom in a browser and sign in.
  Demo accounts (USE_RULE inGroup('jitsi-users'), MODERATOR_RULE inGroup('staff')):
${accounts}
  Identity provider: ${idp.issuer}   stand-in jitsi-web: ${jitsi.url}
  Sign out: ${publicUrl}/jitsi/logout
  Ports: DEMO_PORT=${port}, DEMO_IDP_PORT=${idpPort}, DEMO_ADMIN_PORT=${adminPort}

Press Ctrl+C to stop.
`)
}
