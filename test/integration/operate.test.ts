/**
 * What operators run on: the admin listener (health, readiness, metrics),
 * access logs, trusted proxies, and the Referrer-Policy of token pages.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import WebSocket from 'ws'
import { createAdminServer, probeUpstream, type AdminOptions, type Lifecycle } from '../../src/ops/admin.js'
import { createLogger, prettyStream } from '../../src/ops/log.js'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { startStack, type Stack } from '../fixtures/stack.js'

async function admin(t: { teardown(fn: () => unknown): void }, stack: Stack, lifecycle: Lifecycle = { shuttingDown: false }, opts: AdminOptions = {}) {
  const server = createAdminServer(stack.app, stack.config, lifecycle, createLogger('silent'), opts)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const get = async (path: string, method = 'GET') => {
    const r = await request(`${base}${path}`, { method: method as 'GET' })
    return { status: r.statusCode, type: String(r.headers['content-type']), body: await r.body.text() }
  }
  return { get, lifecycle }
}

t.test('health and readiness', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  // Every readiness answer probes jitsi-web afresh: the cache has a test of its own.
  const a = await admin(t, stack, undefined, { upstreamCacheMs: 0 })
  t.same(await a.get('/healthz'), { status: 200, type: 'text/plain', body: 'ok\n' })
  const first = await a.get('/readyz')
  t.equal(first.status, 503, 'not ready before the IdP was discovered')
  t.match(JSON.parse(first.body), { ready: false, checks: { config: true, identityProvider: false, upstream: true } })
  let ready = first
  t.ok(await eventually(async () => (ready = await a.get('/readyz')).status === 200), 'readiness discovers the IdP by itself')
  t.match(JSON.parse(ready.body), { ready: true, checks: { config: true, identityProvider: true, upstream: true, notShuttingDown: true } })
  a.lifecycle.shuttingDown = true
  t.match(JSON.parse((await a.get('/readyz')).body), { ready: false, checks: { notShuttingDown: false } })
  a.lifecycle.shuttingDown = false
  await stack.upstream.close()
  const down = await a.get('/readyz')
  t.equal(down.status, 503)
  t.match(JSON.parse(down.body), { checks: { upstream: false } })
  t.equal((await a.get('/nope')).status, 404)
  t.equal((await a.get('/healthz', 'POST')).status, 405)
  t.equal((await a.get('/healthz', 'HEAD')).body, '')
  t.equal(await probeUpstream(new URL('http://127.0.0.1:9'), 500), false)
})

t.test('readiness reuses its answer about jitsi-web for the cache time', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const a = await admin(t, stack, undefined, { upstreamCacheMs: 3600_000 })
  t.match(JSON.parse((await a.get('/readyz')).body), { checks: { upstream: true } })
  await stack.upstream.close()
  t.match(JSON.parse((await a.get('/readyz')).body), { checks: { upstream: true } }, 'the answer from before jitsi-web stopped')
  const fresh = await admin(t, stack, undefined, { upstreamCacheMs: 0 })
  t.match(JSON.parse((await fresh.get('/readyz')).body), { checks: { upstream: false } }, 'while a probe now finds it down')
})

t.test('metrics count requests, logins, tokens, IdP latency, WebSockets and upstream errors', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const a = await admin(t, stack)
  const b = new Browser()
  const start = await b.fetch(`${stack.url}/MyRoom`)
  const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
  await b.fetch(done.location!)
  const denied = new Browser()
  const s2 = await denied.fetch(`${stack.url}/MyRoom`)
  await denied.fetch(await denied.signInAtIdp(s2.location!, 'bob'))
  await b.fetch(`${stack.url}/jitsi/callback?state=nope`)
  await (await request(`${stack.url}/config.js`)).body.text()
  const ws = new WebSocket(`${stack.url.replace('http', 'ws')}/xmpp-websocket`)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const m = await a.get('/metrics')
  ws.close()
  t.equal(m.status, 200)
  t.match(m.type, /text\/plain; version=0\.0\.4/)
  const body = m.body
  t.match(body, /jos_http_requests_total\{route="proxy",status="200"\} [1-9]/)
  t.match(body, /jos_http_requests_total\{route="room",status="302"\} [1-9]/)
  t.match(body, /jos_http_requests_total\{route="endpoint",status="400"\} 1/)
  t.match(body, /jos_logins_total\{outcome="started",reason=""\} 2/)
  t.match(body, /jos_logins_total\{outcome="succeeded",reason=""\} 1/)
  t.match(body, /jos_logins_total\{outcome="denied",reason=""\} 1/)
  t.match(body, /jos_logins_total\{outcome="failed",reason="LOGIN_STATE_INVALID"\} 1/)
  t.match(body, /jos_tokens_issued_total\{alg="HS256"\} 1/)
  t.match(body, /jos_idp_request_duration_seconds_count\{operation="discovery",outcome="ok"\} 1/)
  t.match(body, /jos_idp_request_duration_seconds_count\{operation="token_endpoint",outcome="ok"\} 2/)
  t.match(body, /jos_websocket_connections 1/)
  t.match(body, /process_cpu_user_seconds_total/, 'default process metrics')
  await stack.upstream.close()
  await (await request(`${stack.url}/config.js`)).body.text()
  t.match((await a.get('/metrics')).body, /jos_upstream_errors_total\{kind="http"\} 1/)
})

t.test('health cannot be spoofed on the public port', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const r = await request(`${stack.url}${path}`, { headers: { 'user-agent': 'kube-probe/1.30', 'x-health-check': '1' } })
    const body = await r.body.text()
    t.equal(r.headers['x-upstream'], 'yes', `${path} is jitsi-web's business`)
    t.notMatch(body, /jos_|"ready"/)
  }
})

t.test('access lines: one per request, redacted, with timings and bytes', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const b = new Browser()
  const start = await b.fetch(`${stack.url}/MyRoom`)
  const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
  const room = await b.fetch(done.location!)
  t.equal(room.headers['referrer-policy'], 'same-origin', 'a room page opened with a token sends no Referer off-site')
  const asset = await request(`${stack.url}/config.js`)
  await asset.body.text()
  t.equal(asset.headers['referrer-policy'], undefined, 'other responses are as jitsi-web sent them')
  const lines = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'access')
  const jwtLine = lines.find((l) => String(l.url).startsWith('/MyRoom?jwt='))
  t.match(jwtLine, { route: 'room', method: 'GET', url: '/MyRoom?jwt=[redacted]', status: 200, ms: Number, bytes: Number, upstreamMs: Number, client: '127.0.0.1' })
  t.ok((jwtLine?.bytes as number) > 50)
  t.match(lines.find((l) => String(l.url).startsWith('/jitsi/callback')), { route: 'endpoint', url: /code=\[redacted\]&state=\[redacted\]/, status: 302 })
  t.notMatch(stack.logs.join('\n'), new RegExp(new URL(done.location!).searchParams.get('jwt')!.slice(-20)))
})

t.test('ACCESS_LOG=errors keeps only the lines of failed answers; off keeps none, and both still count every request', async (t) => {
  for (const mode of ['errors', 'off']) {
    const stack = await startStack({ env: { ACCESS_LOG: mode } })
    t.teardown(() => stack.close())
    await (await request(`${stack.url}/config.js`)).body.dump()
    await (await request(`${stack.url}/jitsi/nothing-here`)).body.dump()
    const lines = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'access')
    t.same(lines.map((l) => [l.url, l.status]), mode === 'errors' ? [['/jitsi/nothing-here', 404]] : [], mode)
    t.match(await stack.app.metrics.text(), /route="proxy",status="200"\} 1/, `${mode}: the metric counts the 200`)
  }
})

t.test('TRUSTED_PROXIES: an ingress’s forwarding headers are kept and extended', async (t) => {
  const stack = await startStack({ env: { TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' } })
  t.teardown(() => stack.close())
  const r = await request(`${stack.url}/echo`, { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'meet.example.com', x_forwarded_for: '6.6.6.6' } })
  const echo = (await r.body.json()) as { headers: Record<string, string> }
  t.equal(echo.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1')
  t.equal(echo.headers['x-forwarded-proto'], 'https')
  t.equal(echo.headers['x-forwarded-host'], 'meet.example.com')
  t.equal(echo.headers.x_forwarded_for, undefined)
  const access = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'access' && l.url === '/echo')
  t.equal(access?.client, '203.0.113.7', 'the log names the real client')
  // What the client itself wrote sits left of what the ingress appended: it never names the client.
  for (const [xff, client] of [['6.6.6.6, 203.0.113.8', '203.0.113.8'], ['6.6.6.6, 203.0.113.9, 10.1.2.3', '203.0.113.9'], ['10.9.9.9', '10.9.9.9']]) {
    await (await request(`${stack.url}/echo?${client}`, { headers: { 'x-forwarded-for': xff! } })).body.dump()
    const line = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'access' && l.url === `/echo?${client}`)
    t.equal(line?.client, client, `X-Forwarded-For ${xff}`)
  }
  const bare = await request(`${stack.url}/echo`, { headers: { 'x-forwarded-proto': 'gopher' } })
  t.match(((await bare.body.json()) as { headers: Record<string, string> }).headers, { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' })
})

t.test('LOG_FORMAT=pretty writes lines for people', async (t) => {
  let out = ''
  const log = createLogger('info', await prettyStream(new Writable({ write(c, _e, cb) { out += c.toString(); cb() } })))
  log.info({ event: 'x' }, 'hello operator')
  t.match(out, /INFO.*hello operator/)
  t.notMatch(out, /^\{/)
})
