/**
 * SIGTERM with real connections in flight: readiness drops at once, the
 * listener keeps serving for SHUTDOWN_DELAY_SECONDS, then stops accepting;
 * in-flight requests finish; WebSockets get a 1001 close; exit 0. A second
 * signal ends the process at once.
 */
import t from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import type { Socket } from 'node:net'
import { request } from 'undici'
import WebSocket from 'ws'
import { finish, run, waitForOutput } from '../fixtures/process.js'
import { startUpstream } from '../fixtures/upstream.js'

function env(upstream: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    PUBLIC_URL: 'https://meet.example.com', UPSTREAM_URL: upstream, LISTEN_ADDRESS: '127.0.0.1:0', ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
    OIDC_ISSUER: 'http://127.0.0.1:9', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', JWT_APP_ID: 'a', JWT_APP_SECRET: 'secret-secret-secret',
    COOKIE_SECRET: 'x'.repeat(32), SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '10', ...more,
  }
}

const get = async (url: string) => {
  const r = await request(url)
  return { status: r.statusCode, body: await r.body.text() }
}

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

/** The sidecar as its own process in front of a fresh upstream, once listening: its ports, and its end. */
async function startSidecar(t: Test, more: Record<string, string> = {}) {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const p = run(['serve'], env(upstream.url, more))
  const result = finish(p)
  const [, port, adminPort] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\)/)
  return { p, result, upstream, port, adminPort }
}

t.test('graceful shutdown drops nobody', async (t) => {
  const { p, result, upstream, port, adminPort } = await startSidecar(t)
  const base = `http://127.0.0.1:${port}`
  const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  const inFlight = get(`${base}/slow?ms=2000`) // outlives the 1 s delay
  await new Promise((r) => setTimeout(r, 100))
  const signalled = Date.now()
  p.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 200))
  const ready = await request(`http://127.0.0.1:${adminPort}/readyz`)
  t.equal(ready.statusCode, 503, 'not ready at once')
  t.match(await ready.body.text(), /"notShuttingDown":false/)
  t.equal((await get(`${base}/config.js`)).status, 200, 'still serving during the delay')
  t.equal(await wsClosed, 1001, 'WebSockets get a clean close (1001 going away) after the delay')
  t.ok(Date.now() - signalled >= 900, 'not before the delay')
  await t.rejects(request(`${base}/config.js`), /ECONNREFUSED/, 'no new connections after the delay')
  t.same(await inFlight, { status: 200, body: 'slow done' }, 'the in-flight request finished')
  const { code, stdout } = await result
  t.equal(code, 0)
  t.match(stdout, /"event":"shutdown_complete"/)
  t.equal(upstream.open(), 0)
})

t.test('in-flight requests are cut at SHUTDOWN_TIMEOUT_SECONDS', async (t) => {
  const { p, result, port } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '0', SHUTDOWN_TIMEOUT_SECONDS: '1' })
  const hanging = request(`http://127.0.0.1:${port}/hang`).then((r) => r.body.text())
  await new Promise((r) => setTimeout(r, 100))
  const signalled = Date.now()
  p.kill('SIGTERM')
  await t.rejects(hanging, 'the hanging request is cut')
  const { code, stdout } = await result
  t.equal(code, 0)
  t.ok(Date.now() - signalled < 4000, 'bounded by the timeout')
  t.match(stdout, /"event":"shutdown_timeout"/)
})

t.test('a second signal stops at once', async (t) => {
  const { p, result } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '30' })
  p.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 300))
  const signalled = Date.now()
  p.kill('SIGINT')
  const { code } = await result
  t.equal(code, 1)
  t.ok(Date.now() - signalled < 2000)
})

t.test('kept-alive connections close once answered: the stop waits for requests, not for idle clients', async (t) => {
  const { p, result, port } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '20' })
  // A client that keeps idle connections open for ever, as a browser or a load balancer may.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  t.teardown(() => agent.destroy())
  const sockets = new Set<Socket>()
  const get = (path: string) => new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    const req = http.get(`http://127.0.0.1:${port}${path}`, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }))
    })
    req.once('socket', (socket) => sockets.add(socket))
    req.once('error', reject)
  })
  const before = await get('/config.js')
  t.equal(before.connection, 'keep-alive', 'before the stop: kept alive')
  const inFlight = get('/slow?ms=1500') // begun before the stop, answered after it
  // A download begun before the stop, answered keep-alive, read late: it must arrive whole (8 MB, more
  // than the socket buffers hold, so the sidecar is still sending it when connections start to close).
  let bigBytes = 0
  const big = new Promise<number>((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/big?mb=8`, { agent }, (res) => {
      res.pause()
      setTimeout(() => res.resume(), 1800) // past the delay, when connections start to close
      res.on('data', (d: Buffer) => (bigBytes += d.length)).on('end', () => resolve(bigBytes)).on('error', reject)
    }).once('socket', (socket) => sockets.add(socket)).once('error', reject)
  })
  await new Promise((r) => setTimeout(r, 100))
  p.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 200))
  const during = await get('/config.js')
  t.equal(during.status, 200, 'still serving during the delay')
  t.equal(during.connection, 'close', 'answers during the stop close their connection')
  t.same((await inFlight).body, 'slow done', 'the in-flight request finished')
  t.equal(await big, 8 * 1024 * 1024, 'the slowly read download arrived whole')
  t.equal(sockets.size, 3, 'three connections: the download, the slow request and one reused')
  await Promise.all([...sockets].map((socket) => (socket.destroyed ? undefined : once(socket, 'close'))))
  t.pass('the sidecar closed every connection the client left open')
  const { code, stdout } = await result
  t.equal(code, 0)
  t.notMatch(stdout, /"event":"shutdown_timeout"/, 'no connection waited for the timeout')
})

