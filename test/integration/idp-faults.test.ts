/**
 * The identity provider misbehaving: down at start-up, hanging, answering
 * garbage, gone in the middle of a login. People get a 503/504 page with a
 * retry link, proxying goes on, and the sidecar recovers without a restart.
 */
import t from 'tap'
import { signIn } from '../fixtures/signin.js'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startIdp } from '../../src/demo/idp.js'
import { loadConfig, type OidcConfig } from '../../src/config/load.js'
import { DISCOVERY_RETRY_MS, OidcClient } from '../../src/oidc/client.js'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { eventually } from '../fixtures/eventually.js'
import { startTestIdp } from '../fixtures/idp.js'
import { CLIENT_ID, CLIENT_SECRET, startStack } from '../fixtures/stack.js'

/** The sidecar's OIDC settings for an IdP at `issuer`, for a client made by the test itself. */
function oidcConfig(issuer: string): OidcConfig {
  return loadConfig({
    PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: issuer, OIDC_ALLOW_HTTP: '1', OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET,
    JWT_APP_ID: 'app', JWT_APP_SECRET: 'x'.repeat(32).repeat(32), COOKIE_SECRET: 'y'.repeat(32),
  }).auth!.oidc
}

t.test('IdP down at start-up: 503 page, proxy works, recovers when the IdP comes back', async (t) => {
  const s = await startStack({ idpDown: true })
  t.teardown(() => s.close())
  const b = new Browser()
  const r = await b.fetch(`${s.url}/MyRoom?lang=de`)
  t.equal(r.status, 503)
  t.match(r.body, /Sign-in is unavailable/)
  t.match(r.body, new RegExp(`href="${s.url}/MyRoom\\?lang=de">Try again`))
  t.equal(s.app.oidc?.ready, false)
  t.equal((await b.fetch(`${s.url}/config.js`)).status, 200, 'proxying continues')
  t.match(s.logs.join('\n'), /"code":"IDP_UNAVAILABLE"/)

  const port = Number(new URL(s.idp.issuer).port)
  const idp = await startIdp({ port, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${s.url}/jitsi/callback`] })
  t.teardown(() => idp.close())
  // Discovery is tried again DISCOVERY_RETRY_MS after the failure (the next test checks that pause on a clock of its own): ask until then.
  let again = await b.fetch(`${s.url}/MyRoom`)
  t.ok(await eventually(async () => (again = await b.fetch(`${s.url}/MyRoom`)).status === 302), 'discovery retried, login starts')
  t.equal(new URL(again.location!).origin, idp.issuer)
  t.equal(s.app.oidc?.ready, true)
})

t.test("a failed discovery is the answer until DISCOVERY_RETRY_MS has passed on the client's clock, then the IdP is asked again", async (t) => {
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: ['https://meet.example.com/jitsi/callback'] })
  t.teardown(() => idp.close())
  let down = true
  let discoveries = 0
  idp.onRequest = (req, res) => {
    if (!(req.url ?? '').startsWith('/.well-known/openid-configuration')) return false
    discoveries++
    if (down) res.writeHead(503).end('down')
    return down
  }
  let now = Date.now()
  const oidc = new OidcClient(oidcConfig(idp.issuer), undefined, { now: () => now })
  t.teardown(() => oidc.close())
  await t.rejects(oidc.configuration(), { code: 'IDP_UNAVAILABLE' })
  t.equal(discoveries, 1)
  down = false
  now += DISCOVERY_RETRY_MS - 1
  await t.rejects(oidc.configuration(), { code: 'IDP_UNAVAILABLE' }, 'the same failure, from memory')
  t.equal(discoveries, 1, 'without asking the IdP')
  now += 1
  t.equal((await oidc.configuration()).serverMetadata().issuer, idp.issuer, 'then discovered')
  t.equal(discoveries, 2)
  t.equal(oidc.ready, true)
})

t.test('IdP hangs: 504 page within the timeout, nobody waits forever', async (t) => {
  const sockets: Socket[] = []
  const tcp = createTcpServer((sock) => sockets.push(sock)) // accepts, never answers
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    tcp.close()
  })
  const issuer = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`
  const s = await startStack({ env: { OIDC_ISSUER: issuer, OIDC_TIMEOUT_SECONDS: '1' } })
  t.teardown(() => s.close())
  const started = Date.now()
  const r = await new Browser().fetch(`${s.url}/MyRoom`)
  const took = Date.now() - started
  t.equal(r.status, 504)
  t.match(r.body, /did not answer in time/)
  t.ok(took < 5000, `answered after ${took} ms`)
})

t.test('OIDC_ISSUER names something that is not an IdP: the page says so is not set up, the log names URL and status', async (t) => {
  const junk = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<html>maintenance</html>')
  })
  await new Promise<void>((resolve) => junk.listen(0, '127.0.0.1', resolve))
  t.teardown(() => junk.close())
  const s = await startStack({ env: { OIDC_ISSUER: `http://127.0.0.1:${(junk.address() as AddressInfo).port}` } })
  t.teardown(() => s.close())
  const r = await new Browser().fetch(`${s.url}/MyRoom`)
  t.equal(r.status, 502, 'not "unreachable": something answers, and it is no IdP')
  t.match(r.body, /not set up correctly/)
  t.match(s.logs.join('\n'), /discovery: http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration answered HTTP 200, not an OpenID Provider configuration: check OIDC_ISSUER/)
})

t.test('IdP gone during the code exchange: 503 page, no token, no session', async (t) => {
  const s = await startStack()
  t.teardown(() => s.close())
  const b = new Browser()
  const start = await b.fetch(`${s.url}/MyRoom`)
  const callback = await b.signInAtIdp(start.location!, 'alice')
  await s.idp.close()
  const r = await b.fetch(callback)
  t.equal(r.status, 503)
  t.notMatch(r.setCookies.join('\n'), /jos_session=[^;]/)
  t.match(r.body, /Try again/)
})

t.test('an IdP that signs ID tokens only with HS256 (the client secret): sign-in works', async (t) => {
  const s = await startStack({ idp: { idTokenAlg: 'HS256', extra: { enabledJWA: { idTokenSigningAlgValues: ['HS256'] } } } })
  t.teardown(() => s.close())
  const { done } = await signIn(s, new Browser(), '/MyRoom', 'alice')
  t.equal(done.status, 302)
  t.match(done.location, /[?&]jwt=/)
})

for (const [name, rewrite, message] of [
  ['publishes no jwks_uri', (body: Record<string, unknown>) => { delete body.jwks_uri }, /publishes no jwks_uri, so ID token signatures cannot be checked/],
  ['publishes its keys at a non-https jwks_uri', (body: Record<string, unknown>) => { body.jwks_uri = 'ftp://127.0.0.1/jwks' }, /the jwks_uri is not https \(ftp:\)/],
] as const) {
  t.test(`an IdP that ${name}: 503 page, the log says why`, async (t) => {
    const s = await startStack()
    t.teardown(() => s.close())
    rewriteIdpAnswers(s.idp, '/.well-known/openid-configuration', rewrite)
    const r = await new Browser().fetch(`${s.url}/MyRoom`)
    t.equal(r.status, 503)
    t.match(r.body, /Sign-in is unavailable/)
    t.match(s.logs.join('\n'), message)
  })
}

t.test('closed while the first discovery is under way: no IdP request, a clear error', async (t) => {
  let requests = 0
  const idp = createServer((_req, res) => {
    requests++
    res.writeHead(500).end()
  })
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => idp.close())
  const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`
  const oidc = new OidcClient(oidcConfig(issuer))
  const discovery = oidc.configuration()
  await oidc.close()
  await t.rejects(discovery, { code: 'IDP_UNAVAILABLE', message: /discovery: the client is closed/ })
  t.equal(requests, 0, 'the IdP was never asked')
  t.equal(oidc.ready, false)
})
