/**
 * The demo's pieces on loopback for the browser tests: the embedded IdP
 * (oidc-provider), the stand-in jitsi-web and the sidecar (configured like
 * `npm run demo`, logs captured), plus Debian's Chromium through
 * playwright-core.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import { loadConfig, type Config } from '../../src/config/load.js'
import { startStandIn, type StandIn } from '../../src/demo/jitsi.js'
import { createLogger } from '../../src/ops/log.js'
import { createApp, type App } from '../../src/http/server.js'
import { startTestIdp, type TestIdp } from '../fixtures/idp.js'
import { closeServer, listenServer, logSink } from '../fixtures/stack.js'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Headless flags for a sandboxed root environment with no network beyond loopback. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export const RESULTS_DIR = new URL('../../test-results/', import.meta.url).pathname

export const CLIENT_ID = 'jitsi-e2e'
export const CLIENT_SECRET = 'client-secret-for-e2e-0123456789abcdef'
export const COOKIE_SECRET = 'cookie-secret-for-e2e-0123456789abcdef'
export const APP_SECRET = 'jitsi-app-secret-for-e2e-0123456789abcdef'

/** Launches Chromium, or explains what is missing (CI installs it: a missing browser is a failure). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does this), or set CHROMIUM_PATH`)
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
}

export interface E2eStack {
  /** PUBLIC_URL: http://localhost:<port> (the IdP is at 127.0.0.1, another site, as in real life). */
  readonly url: string
  readonly config: Config
  readonly idp: TestIdp
  readonly jitsi: StandIn
  /** Every log line the sidecar wrote, as raw JSON text. */
  readonly logs: string[]
  close(): Promise<void>
}

export interface E2eStackOptions {
  readonly idpDown?: boolean
  /** Runs before the sidecar starts (and discovers the IdP): e.g. to rewrite the IdP's answers. */
  readonly beforeStart?: (idp: TestIdp) => void
  /** More settings for the sidecar. */
  readonly env?: Readonly<Record<string, string>>
}

export async function startE2eStack(opts: E2eStackOptions = {}): Promise<E2eStack> {
  // The sidecar's listener comes first, so PUBLIC_URL and the IdP's redirect URI can name its port.
  const { server, port } = await listenServer({ keepAliveTimeout: 65_000 })
  const url = `http://localhost:${port}`
  const jitsi = await startStandIn()
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${url}/jitsi/callback`], postLogoutRedirectUris: [`${url}/jitsi/signed-out`] })
  if (opts.idpDown) await idp.close()
  opts.beforeStart?.(idp)
  const config = loadConfig({
    PUBLIC_URL: url,
    UPSTREAM_URL: jitsi.url,
    LISTEN_ADDRESS: `127.0.0.1:${port}`,
    LOG_LEVEL: 'info',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_SCOPES: 'openid profile email groups',
    OIDC_TIMEOUT_SECONDS: '3',
    USE_RULE: "inGroup('jitsi-users')",
    MODERATOR_RULE: "inGroup('staff')",
    JWT_FEATURES: "recording=inGroup('staff'),livestreaming=inGroup('staff')",
    JWT_APP_ID: 'demo-app',
    JWT_APP_SECRET: APP_SECRET,
    COOKIE_SECRET,
    ...opts.env,
  })
  const { logs, sink } = logSink()
  const app: App = await createApp(config, createLogger(config.logLevel, sink))
  server.on('request', app.handleRequest)
  server.on('upgrade', app.handleUpgrade)
  app.warmUp()
  return {
    url,
    config,
    idp,
    jitsi,
    logs,
    async close() {
      await closeServer(server)
      await app.close()
      await Promise.all([idp.close(), jitsi.close()])
    },
  }
}

/** Waits for the IdP's login form, fills it in and submits it (the caller waits for where it leads). */
export async function signInAtIdp(page: Page, issuer: string, login: string): Promise<void> {
  await page.waitForURL((u) => u.origin === issuer && u.pathname.startsWith('/interaction/'))
  await page.locator('#login').fill(login)
  await page.locator('#password').fill(login)
  await page.locator('button[type="submit"]').click()
}

/** Waits until the page shows a room of the stand-in with a token in the URL. */
export async function waitForRoom(page: Page, base: string, path: string): Promise<URL> {
  await page.waitForURL((u) => u.origin === base && u.pathname === path && u.searchParams.has('jwt'))
  await page.locator('#who').waitFor()
  return new URL(page.url())
}

/** The token claims the stand-in shows (it decodes the token it was opened with). */
export async function shownClaims(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse(await page.locator('#claims').innerText()) as Record<string, unknown>
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${RESULTS_DIR}${name}.png`, fullPage: true })
}

/** What a page of the sidecar shows, read from the rendered page as a person sees it. */
export interface ShownPage {
  readonly status: number
  readonly lang: string
  readonly title: string
  readonly heading: string
  readonly site: string
  readonly text: string
  readonly requestId: string
  readonly headers: Record<string, string>
  /** At phone width (375 px): the document is no wider than the viewport. */
  readonly fitsPhone: boolean
  readonly viewportMeta: string | null
}

/**
 * Reads a sidecar page after `response` (its main document), and saves a
 * desktop and a phone-width screenshot as `<name>.png` and `<name>-phone.png`.
 */
export async function readSidecarPage(page: Page, response: Response, name: string): Promise<ShownPage> {
  await page.locator('main h1').waitFor()
  const shown = {
    status: response.status(),
    headers: await response.allHeaders(),
    lang: (await page.locator('html').getAttribute('lang')) ?? '',
    title: await page.title(),
    heading: await page.locator('main h1').innerText(),
    site: await page.locator('main header').innerText(),
    text: await page.locator('main').innerText(),
    requestId: (await page.locator('main .id code').innerText().catch(() => '')).trim(),
    viewportMeta: await page.locator('meta[name="viewport"]').getAttribute('content'),
  }
  await screenshot(page, name)
  const desktop = page.viewportSize()
  await page.setViewportSize({ width: 375, height: 740 })
  // A string, evaluated in the page (the tests are compiled without the DOM library).
  const fitsPhone = (await page.evaluate('document.documentElement.scrollWidth <= innerWidth && document.body.scrollWidth <= innerWidth')) === true
  await screenshot(page, `${name}-phone`)
  if (desktop) await page.setViewportSize(desktop)
  return { ...shown, fitsPhone }
}

/** The log lines (parsed) that carry `requestId`. */
export function logLinesWith(logs: readonly string[], requestId: string): Record<string, unknown>[] {
  return logs.filter((l) => l.includes(requestId)).map((l) => JSON.parse(l) as Record<string, unknown>)
}
