/**
 * MODE=forward-auth and MODE=issuer in Chromium, and Jitsi's in-meeting inline sign-in and silent
 * sign-out (tokenAuthInline, tokenLogoutUrl), through a real nginx serving a jitsi-web-like
 * tree with the shipped snippets (test/fixtures/jitsi-web-nginx.ts): the sidecar sees only
 * sign-ins and room-page questions, never assets, BOSH or WebSockets (its own metrics say so,
 * while the Prosody stand-in saw them).
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { loadConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/ops/log.js'
import { createApp, type App } from '../../src/http/server.js'
import type { Asserts } from '../fixtures/asserts.js'
import { startTestIdp, type TestIdp } from '../fixtures/idp.js'
import { startJitsiWebNginx, type JitsiWebNginx } from '../fixtures/jitsi-web-nginx.js'
import { nginxMissing } from '../fixtures/balancer.js'
import { freePorts } from '../fixtures/ports.js'
import { closeServer, listenServer, logSink } from '../fixtures/stack.js'
import { startUpstream, type Upstream } from '../fixtures/upstream.js'
import { APP_SECRET, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, launchChromium, screenshot, signInAtIdp } from './harness.js'

interface ModeStack {
  readonly web: JitsiWebNginx
  readonly app: App
  readonly idp: TestIdp
  readonly prosody: Upstream
  readonly logs: string[]
  close(): Promise<void>
}

/** nginx on its own port is the site (PUBLIC_URL); the sidecar listens on another, as in the pod. */
async function startModeStack(mode: 'forward-auth' | 'issuer', tokenAuthPath: string, customConfig?: string): Promise<ModeStack> {
  const { server, port: sidecarPort } = await listenServer()
  const [webPort] = await freePorts(1)
  const url = `http://localhost:${webPort}`
  const prosody = await startUpstream()
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${url}/jitsi/callback`], postLogoutRedirectUris: [`${url}/jitsi/signed-out`] })
  const config = loadConfig({
    MODE: mode,
    PUBLIC_URL: url,
    TRUSTED_PROXIES: '127.0.0.1/32',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_SCOPES: 'openid profile email groups',
    USE_RULE: "inGroup('jitsi-users')",
    JWT_APP_ID: 'demo-app',
    JWT_APP_SECRET: APP_SECRET,
    COOKIE_SECRET,
  })
  const { logs, sink } = logSink()
  const app = await createApp(config, createLogger('info', sink))
  server.on('request', app.handleRequest)
  server.on('upgrade', app.handleUpgrade)
  const web = await startJitsiWebNginx({ port: webPort!, sidecarPort, snippet: mode, prosodyUrl: prosody.url, tokenAuthUrl: `${url}${tokenAuthPath}`, ...(customConfig === undefined ? {} : { customConfig: customConfig.replaceAll('PUBLIC_URL', url) }) })
  return {
    web, app, idp, prosody, logs,
    async close() {
      await web.close()
      await closeServer(server)
      await app.close()
      await Promise.all([idp.close(), prosody.close()])
    },
  }
}

/** The stand-in app's room view: who, the claims, and that BOSH and the WebSocket went through. */
async function inRoom(t: Asserts, page: Page, path: string): Promise<Record<string, unknown>> {
  await page.waitForURL((u) => u.pathname === path && u.searchParams.has('jwt'))
  await page.locator('#who').waitFor()
  await page.waitForFunction("document.getElementById('bosh').textContent.startsWith('bosh ') && document.getElementById('ws').textContent.startsWith('ws ')")
  t.match(await page.locator('#bosh').innerText(), /^bosh POST \/http-bind\?prefix=/, 'BOSH went through nginx to Prosody')
  t.match(await page.locator('#ws').innerText(), /^ws <open\/>$/, 'the WebSocket too')
  return JSON.parse(await page.locator('#claims').innerText()) as Record<string, unknown>
}

/** Resolves once `p` has closed: a popup that posts its token may close before a listener is there. */
function closed(p: Page): Promise<unknown> {
  return p.isClosed() ? Promise.resolve() : p.waitForEvent('close')
}

/** The sidecar's request counts by route class, from its own metrics. */
async function routes(app: App): Promise<Record<string, number>> {
  const text = await app.metrics.registry.metrics()
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(/^jos_http_requests_total\{route="([^"]+)",status="\d+"\} (\d+)$/gm)) counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2])
  return counts
}

if (nginxMissing) {
  t.test('modes through nginx', { skip: nginxMissing }, async () => {})
} else {
  let browser: Browser
  t.before(async () => {
    browser = await launchChromium()
  })
  t.teardown(() => browser?.close())

  t.test('forward-auth: room URL → IdP → room with a token; the sidecar sees no asset, BOSH or WebSocket', async (t) => {
    const s = await startModeStack('forward-auth', '/jitsi/login?room={room}')
    t.teardown(() => s.close())
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await context.newPage()
    await page.goto(`${s.web.url}/acme/MyRoom?lang=de`)
    await signInAtIdp(page, s.idp.issuer, 'alice')
    const claims = await inRoom(t, page, '/acme/MyRoom')
    t.equal(claims.room, 'myroom')
    t.equal(new URL(page.url()).searchParams.get('lang'), 'de', 'the query came back')
    await screenshot(page, 'forward-auth-room')
    // Signed in: another room goes straight to it with a fresh token, without the IdP.
    const hops: string[] = []
    page.on('request', (r) => {
      if (r.isNavigationRequest()) hops.push(new URL(r.url()).origin)
    })
    await page.goto(`${s.web.url}/Other`)
    t.equal((await inRoom(t, page, '/Other')).room, 'other')
    t.notOk(hops.includes(s.idp.issuer), 'no visit to the IdP')
    const r = await routes(s.app)
    t.notOk(r.proxy, 'nothing proxied by the sidecar')
    t.notOk(r.room, 'no room page served by it')
    t.ok((r.auth ?? 0) >= 4, `room pages asked about: ${r.auth}`)
    t.ok(s.prosody.seen.some((q) => q.url?.startsWith('/http-bind')) && s.prosody.seen.some((q) => q.url?.startsWith('/xmpp-websocket')), 'Prosody saw BOSH and the WebSocket')
    t.notMatch(s.web.accessLog().filter((l) => l.includes('/_jitsi_oidc_auth')).join('\n'), /./, 'the question is an internal subrequest, not logged as a request')
    t.notOk(s.web.accessLog().some((l) => /^401 /.test(l)), 'nobody saw a 401: nginx turned it into the redirect')
  })

  t.test('forward-auth: a client\'s own X-Original-URI, X-Original-URL or X-Forwarded-Uri changes nothing', async (t) => {
    const s = await startModeStack('forward-auth', '/jitsi/login?room={room}')
    t.teardown(() => s.close())
    for (const header of ['X-Original-URI', 'X-Original-URL', 'X-Forwarded-Uri']) {
      const context = await browser.newContext({ extraHTTPHeaders: { [header]: header === 'X-Original-URL' ? `${s.web.url}/static/404.html` : '/static/404.html' } })
      const page = await context.newPage()
      await page.goto(`${s.web.url}/Spoofed`)
      await page.waitForURL((u) => u.origin === s.idp.issuer)
      t.pass(`with ${header}: sent to sign in`)
      await context.close()
    }
  })

  t.test('issuer: the web app\'s Join sends the person to TOKEN_AUTH_URL, and back into the room with a token', async (t) => {
    for (const [tokenAuthPath, path, want] of [
      ['/jitsi/login?room={room}', '/MyRoom', '/MyRoom'],
      ['/jitsi/login?state={state}', '/acme/Team%20Room', '/acme/Team%20Room'],
    ] as const) {
      const s = await startModeStack('issuer', tokenAuthPath)
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${s.web.url}${path}`)
      await page.locator('#prejoin').waitFor()
      await screenshot(page, `issuer-prejoin-${tokenAuthPath.includes('state') ? 'state' : 'room'}`)
      await page.locator('#join').click()
      await signInAtIdp(page, s.idp.issuer, 'alice')
      const claims = await inRoom(t, page, want)
      t.ok(claims.room, `${tokenAuthPath}: in ${want} with a token for ${String(claims.room)}`)
      if (tokenAuthPath.includes('state')) t.match(page.url(), /#config\.prejoinConfig\.enabled=false/, 'the pre-join page is not shown twice')
      const r = await routes(s.app)
      t.same(Object.keys(r).sort(), ['endpoint'], `the sidecar saw only its endpoints: ${JSON.stringify(r)}`)
      await context.close()
      await s.close()
    }
  })

  t.test('in the meeting: an expired token is replaced from the popup without leaving, and the quiet sign-out', async (t) => {
    const s = await startModeStack('issuer', '/jitsi/login?room={room}', "config.tokenAuthInline = true;\nconfig.tokenLogoutUrl = 'PUBLIC_URL/jitsi/logout';\n")
    t.teardown(() => s.close())
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await context.newPage()
    await page.goto(`${s.web.url}/MyRoom`)
    await page.locator('#join').click()
    await signInAtIdp(page, s.idp.issuer, 'alice')
    await inRoom(t, page, '/MyRoom')
    const meeting = page.url()
    const firstClaims = await page.locator('#claims').innerText()

    // The token expired (CONNECTION_TOKEN_EXPIRED): "log in" opens the popup, which the session answers at once.
    await page.locator('#expire').click()
    const idpVisits: string[] = []
    context.on('request', (r) => {
      if (r.url().startsWith(s.idp.issuer)) idpVisits.push(r.url())
    })
    const [popup] = await Promise.all([context.waitForEvent('page'), page.locator('#login').click()])
    await closed(popup)
    await page.waitForFunction("document.getElementById('tokens').textContent === '2'")
    t.equal(page.url(), meeting, 'still in the meeting: no navigation')
    t.same(idpVisits, [], 'the identity provider was not shown')
    const claims = JSON.parse(await page.locator('#claims').innerText()) as { room: string; exp: number }
    t.equal(claims.room, 'myroom', 'a token for this room')
    t.ok(claims.exp >= (JSON.parse(firstClaims) as { exp: number }).exp, 'as long-lived as a new one')
    t.match(await page.locator('#messages').innerText(), new RegExp(`^${s.web.url.replace(/[.]/g, '\\.')} "oauth-success";$`), 'one message, from our origin')
    await screenshot(page, 'inline-refreshed')

    // A page of another origin that opens our login popup gets nothing.
    const other = await context.newPage()
    await other.goto(`${s.idp.issuer}/.well-known/openid-configuration`)
    await other.evaluate(`window.got = []; window.addEventListener('message', (e) => window.got.push(e.origin))`)
    const [stolen] = await Promise.all([context.waitForEvent('page'), other.evaluate(`window.open(${JSON.stringify(`${s.web.url}/jitsi/login?room=MyRoom&nonce=x`)}, 'x')`)])
    await closed(stolen)
    t.same(await other.evaluate('window.got'), [], 'the token was posted to our origin only: nothing arrived')
    await other.close()

    // Silent sign-out in a hidden iframe; the next popup goes through the identity provider (whose own
    // session the quiet sign-out leaves: it answers at once) for the next token.
    await page.locator('#logout').click()
    await page.waitForFunction("document.getElementById('signed-out').textContent === 'signed out'")
    t.equal(page.url(), meeting, 'signed out without leaving the page')
    t.notOk((await context.cookies(s.web.url)).some((c) => c.name.includes('jos_session')), 'the session cookie is gone')
    await page.locator('#expire').click()
    idpVisits.length = 0
    const [again] = await Promise.all([context.waitForEvent('page'), page.locator('#login').last().click()])
    await closed(again)
    await page.waitForFunction("document.getElementById('tokens').textContent === '3'")
    t.ok(idpVisits.length > 0, 'without our session the popup went through the identity provider')
    t.equal(page.url(), meeting, 'and the meeting page stayed')
  })
}
