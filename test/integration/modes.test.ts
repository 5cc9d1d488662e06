/**
 * MODE=issuer and MODE=forward-auth against a real IdP, over real sockets: each forward-auth
 * caller's contract (nginx, ingress-nginx, Traefik, Envoy) asked the way that caller asks, the
 * sign-in it leads to, and what the sidecar refuses. The same flows through a real nginx and
 * Chromium are in test/e2e/modes.e2e.ts.
 */
import t from 'tap'
import { request } from 'undici'
import { loadConfig, ConfigError } from '../../src/config/load.js'
import { Browser } from '../fixtures/client.js'
import { rawRequest } from '../fixtures/raw.js'
import { jwtOf, verify } from '../fixtures/signin.js'
import { startStack, type Stack } from '../fixtures/stack.js'

/** Asks the sidecar's auth endpoint about `original` as `caller` would, with the browser's cookies. */
function ask(s: Stack, b: Browser, caller: 'nginx' | 'ingress-nginx' | 'traefik' | 'envoy', original: string, method = 'GET') {
  const auth = `${s.url}/jitsi/auth`
  switch (caller) {
    case 'nginx':
      return b.fetch(auth, { headers: { 'x-original-uri': original, 'x-original-method': method } })
    case 'ingress-nginx':
      return b.fetch(auth, { headers: { 'x-original-url': `https://meet.example.com${original}`, 'x-original-method': method, 'x-auth-request-redirect': original } })
    case 'traefik':
      return b.fetch(auth, { headers: { 'x-forwarded-uri': original, 'x-forwarded-method': method, 'x-forwarded-host': new URL(s.url).host, 'x-forwarded-proto': 'http' } })
    case 'envoy':
      return b.fetch(`${auth}${original}`, { method })
  }
}

/** Signs in at the IdP from its authorization URL and fetches our callback: the room URL with a token. */
async function finishAtIdp(s: Stack, b: Browser, idpUrl: string): Promise<string> {
  t.equal(new URL(idpUrl).origin, s.idp.issuer, 'sent to the IdP')
  const done = await b.fetch(await b.signInAtIdp(idpUrl, 'alice'))
  t.equal(done.status, 302)
  return done.location!
}

t.test('forward-auth', async (t) => {
  const s = await startStack({ env: { MODE: 'forward-auth', TRUSTED_PROXIES: '127.0.0.1/32' } })
  t.teardown(() => s.close())

  t.test('anything that is not a room page passes, without a session', async (t) => {
    const b = new Browser()
    for (const caller of ['nginx', 'ingress-nginx', 'traefik', 'envoy'] as const) {
      for (const [path, method] of [['/static/app.js', 'GET'], ['/http-bind', 'POST'], ['/xmpp-websocket?room=x', 'GET'], ['/config.js', 'GET'], ['/jitsi/callback', 'GET'], ['/a/b/c', 'GET']] as const) {
        const r = await ask(s, b, caller, path, method)
        t.equal(r.status, 200, `${caller} ${method} ${path}`)
        t.equal(r.headers['cache-control'], 'no-store')
      }
    }
    const fetchNotNavigation = await b.fetch(`${s.url}/jitsi/auth`, { headers: { 'x-original-uri': '/MyRoom', 'sec-fetch-mode': 'cors', accept: '*/*' } })
    t.equal(fetchNotNavigation.status, 200, 'a fetch of a room path is no page load')
  })

  t.test('nginx: 401 with where to go, the sign-in, then 200 for the room with its token', async (t) => {
    const b = new Browser()
    const no = await ask(s, b, 'nginx', '/acme/MyRoom?lang=de&jwt=forged')
    t.equal(no.status, 401)
    t.equal(no.headers['x-signin-url'], `${s.url}/jitsi/login?rd=${encodeURIComponent('/acme/MyRoom?lang=de')}`, 'to our login, the room without the bad token')
    t.same(no.setCookies, [], 'no cookie: nginx does not pass them on')
    const toIdp = await b.fetch(no.headers['x-signin-url'] as string)
    t.equal(toIdp.status, 302)
    const room = await finishAtIdp(s, b, toIdp.location!)
    t.match(room, `${s.url}/acme/MyRoom?lang=de&jwt=`)
    const claims = await verify(jwtOf(room))
    t.equal(claims.room, 'myroom')
    const yes = await ask(s, b, 'nginx', new URL(room).pathname + new URL(room).search)
    t.equal(yes.status, 200, 'the room page with its token loads')
    const again = await ask(s, b, 'nginx', '/Other')
    t.equal(again.status, 401, 'another room without a token')
    t.match(again.headers['x-signin-url'], `${s.url}/Other?jwt=`, 'with a session: straight to the room with a fresh token')
    t.equal((await verify(jwtOf(again.headers['x-signin-url'] as string))).room, 'other')
    t.equal((await ask(s, b, 'nginx', '/acme/MyRoom?jwt=' + jwtOf(room))).status, 200, 'the token is for its own room')
    t.equal((await ask(s, b, 'nginx', '/Elsewhere?jwt=' + jwtOf(room))).status, 401, 'and no other')
  })

  t.test('ingress-nginx: 401, then its auth-signin sends the person to login?rd=<full URL>', async (t) => {
    const b = new Browser()
    const no = await ask(s, b, 'ingress-nginx', '/MyRoom?x=1')
    t.equal(no.status, 401)
    t.equal(no.headers['x-signin-url'], undefined, 'ingress-nginx builds the sign-in URL itself')
    const rd = encodeURIComponent(`${s.url}/MyRoom?x=1`)
    const toIdp = await b.fetch(`${s.url}/jitsi/login?rd=${rd}`)
    const room = await finishAtIdp(s, b, toIdp.location!)
    t.match(room, `${s.url}/MyRoom?x=1&jwt=`)
    t.equal((await ask(s, b, 'ingress-nginx', new URL(room).pathname + new URL(room).search)).status, 200)
    const offSite = await b.fetch(`${s.url}/jitsi/login?rd=${encodeURIComponent('https://evil.example/MyRoom')}`)
    t.equal(offSite.status, 400, 'an rd on another host is refused')
    t.equal(offSite.location, undefined)
  })

  for (const caller of ['traefik', 'envoy'] as const) {
    t.test(`${caller}: the redirect itself, to the IdP and then straight to the room`, async (t) => {
      const b = new Browser()
      const no = await ask(s, b, caller, '/acme/MyRoom?lang=de')
      t.equal(no.status, 302)
      t.ok(no.setCookies.some((c) => c.includes('jos_tx_')), 'the login transaction cookie, for the caller to hand on')
      const room = await finishAtIdp(s, b, no.location!)
      t.match(room, `${s.url}/acme/MyRoom?lang=de&jwt=`)
      const yes = await ask(s, b, caller, new URL(room).pathname + new URL(room).search)
      t.equal(yes.status, 200)
      const other = await ask(s, b, caller, '/Other', 'HEAD')
      t.equal(other.status, 302)
      t.match(other.location, `${s.url}/Other?jwt=`, 'a session: to the room with a fresh token, absolute (Traefik rewrites relative ones)')
      t.equal((await verify(jwtOf(other.location))).room, 'other')
    })
  }

  t.test('a description a client added beside the caller\'s is refused, never believed', async (t) => {
    const b = new Browser()
    const traefik = await b.fetch(`${s.url}/jitsi/auth`, { headers: { 'x-forwarded-uri': '/MyRoom', 'x-forwarded-method': 'GET', 'x-original-url': `${s.url}/static/app.js` } })
    t.equal(traefik.status, 400, 'Traefik passes the client\'s X-Original-URL on')
    const envoy = await b.fetch(`${s.url}/jitsi/auth/MyRoom`, { headers: { 'x-original-uri': '/static/app.js' } })
    t.equal(envoy.status, 400, 'Envoy passes the client\'s X-Original-URI on')
    t.equal(traefik.location ?? envoy.location, undefined)
  })

  t.test('the questions are counted apart; nothing else is served', async (t) => {
    const metrics = await s.app.metrics.registry.metrics()
    t.match(metrics, /jos_http_requests_total\{route="auth",status="200"\} \d+/)
    t.match(metrics, /jos_http_requests_total\{route="auth",status="401"\} \d+/)
    t.notMatch(metrics, /route="proxy"/, 'nothing proxied')
    const b = new Browser()
    const page = await b.fetch(`${s.url}/MyRoom`)
    t.equal(page.status, 404, 'a room page routed here by mistake')
    t.match(s.logs.join('\n'), /MODE=forward-auth: only \/jitsi\/ is served here/)
    const ws = await rawRequest(Number(new URL(s.url).port), 'GET /xmpp-websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    t.match(ws.head, /^HTTP\/1.1 404/, 'no WebSocket either')
    const bad = await b.fetch(`${s.url}/jitsi/auth`)
    t.equal(bad.status, 400, 'a question that describes no request')
    t.match(s.logs.join('\n'), /forward-auth: no original request/)
  })
})

t.test('forward-auth: a question from a peer not in TRUSTED_PROXIES is refused, whatever it describes', async (t) => {
  const s = await startStack({ env: { MODE: 'forward-auth', TRUSTED_PROXIES: '10.0.0.0/8' } })
  t.teardown(() => s.close())
  const b = new Browser()
  for (const caller of ['nginx', 'ingress-nginx', 'traefik', 'envoy'] as const) {
    for (const path of ['/static/app.js', '/MyRoom']) {
      const r = await ask(s, b, caller, path)
      t.equal(r.status, 403, `${caller} ${path}`)
      t.equal(r.location, undefined)
    }
  }
  t.match(s.logs.join('\n'), /forward-auth question from 127\.0\.0\.1, not in TRUSTED_PROXIES/)
})

t.test('issuer: only the endpoints; TOKEN_AUTH_URL leads to the room with a token', async (t) => {
  const s = await startStack({ env: { MODE: 'issuer' } })
  t.teardown(() => s.close())
  const b = new Browser()
  t.equal((await b.fetch(`${s.url}/jitsi/auth`, { headers: { 'x-original-uri': '/MyRoom' } })).status, 404, 'no forward-auth endpoint')
  t.equal((await b.fetch(`${s.url}/MyRoom`)).status, 404)
  const start = await b.fetch(`${s.url}/jitsi/login?room=MyRoom`)
  const room = await finishAtIdp(s, b, start.location!)
  t.match(room, `${s.url}/MyRoom?jwt=`)
  const r = await request(`${s.url}/static/app.js`)
  t.equal(r.statusCode, 404)
  await r.body.dump()
  t.equal(s.upstream.seen.length, 0, 'jitsi-web never asked')
})

t.test('issuer: every endpoint works without the sidecar ever seeing a room page', async (t) => {
  const s = await startStack({ env: { MODE: 'issuer' } })
  t.teardown(() => s.close())
  const b = new Browser()
  const login = (room: string) => b.fetch(`${s.url}/jitsi/login?room=${room}`)
  await finishAtIdp(s, b, (await login('A')).location!)
  const session = await s.app.metrics.registry.metrics()
  t.match(session, /jos_logins_total\{outcome="succeeded",reason=""\} 1/)
  t.match((await login('B')).location, `${s.url}/B?jwt=`, 'with the session, TOKEN_AUTH_URL mints at once')

  // Front-channel logout ends the session; the next TOKEN_AUTH_URL visit signs in again.
  const { CookieCodec } = await import('../../src/signin/cookies.js')
  const codec = new CookieCodec([s.config.auth!.cookie.secrets[0]!], false)
  const sid = (await codec.openSession(b.cookies(s.url).get('jos_session')))?.idp?.sid
  t.ok(sid, 'the IdP session id')
  const frame = await new Browser().fetch(`${s.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(s.idp.issuer)}&sid=${encodeURIComponent(sid!)}`)
  t.equal(frame.status, 200)
  t.ok((await login('C')).location?.startsWith(s.idp.issuer), 'signed out: to the IdP again')

  // The IdP still knows the person (front-channel logout ended only our session): straight back.
  t.match((await b.follow((await login('D')).location!, (u) => u.startsWith(`${s.url}/D`))).url, `${s.url}/D?jwt=`)
  // Log out from our own pages: through the IdP to signed-out.
  const out = await b.fetch(`${s.url}/jitsi/logout`, { headers: { 'sec-fetch-site': 'same-origin' } })
  t.equal(out.status, 302)
  t.ok(out.location?.startsWith(s.idp.issuer), 'to the IdP\'s end-session endpoint')
  const back = await b.follow(out.location!, (u) => u.startsWith(`${s.url}/jitsi/signed-out`))
  const page = await b.fetch(back.url)
  t.equal(page.status, 200, 'the signed-out page')
  t.equal(b.cookies(s.url).get('jos_session'), undefined, 'the session cookie is gone')
  const backchannel = await new Browser().fetch(`${s.url}/jitsi/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'logout_token=not-a-token' })
  t.equal(backchannel.status, 400, 'back-channel logout answers (a bad token refused)')
  t.equal(s.upstream.seen.length, 0, 'jitsi-web never asked')
})

t.test('MODE is checked with what it needs', async (t) => {
  const base = { PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', JWT_APP_ID: 'app', JWT_APP_SECRET: 'x'.repeat(32), COOKIE_SECRET: 'y'.repeat(32) }
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env })
      return []
    } catch (err) {
      return (err as ConfigError).problems
    }
  }
  t.match(problems({ MODE: 'forward-auth' }), [/^TRUSTED_PROXIES: MODE=forward-auth needs the addresses of the proxies/])
  t.match(problems({ MODE: 'issuer', ENABLE_AUTH: '0' }), [/^MODE: issuer needs ENABLE_AUTH=1/])
  t.match(problems({ MODE: 'gateway' }), [/^MODE: must be one of proxy, issuer, forward-auth/])
  t.same(problems({ MODE: 'forward-auth', TRUSTED_PROXIES: '127.0.0.1/32' }), [])
  t.equal(loadConfig(base).mode, 'proxy', 'the proxy mode is the default')
})
