/**
 * SIGTERM with real connections in flight: readiness drops at once, the
 * listener keeps serving for SHUTDOWN_DELAY_SECONDS, then stops accepting;
 * in-flight requests finish; WebSockets get a 1001 close; exit 0. A second
 * signal ends the process at once.
 */
import t from 'tap'
import http from 'node:http'
import type { ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { request } from 'undici'
import WebSocket from 'ws'
import type { Asserts } from '../fixtures/asserts.js'
import { eventually } from '../fixtures/eventually.js'
import { finish, run, serveEnv, waitForOutput } from '../fixtures/process.js'
import { accepts } from '../fixtures/raw.js'
import { startUpstream } from '../fixtures/upstream.js'

const get = async (url: string) => {
  const r = await request(url)
  return { status: r.statusCode, body: await r.body.text() }
}

/** Resolves once the sidecar has begun its stop (its shutdown_started line; standard output is batched, up to 100 ms). */
const stopBegun = (p: ChildProcess) => waitForOutput(p, /"event":"shutdown_started"/)

/** The sidecar as its own process in front of a fresh upstream, once listening: its ports, and its end. */
async function startSidecar(t: Asserts, more: Record<string, string> = {}) {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const p = run(['serve'], serveEnv(upstream.url, { SHUTDOWN_DELAY_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '10', ...more }))
  const result = finish(p)
  const [, port, adminPort] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\)/)
  return { p, result, upstream, port, adminPort }
}

t.test('graceful shutdown drops nobody', async (t) => {
  // A 3 s delay: the checks "during the delay" (two requests after the stop has begun) must fit in it
  // on a loaded machine.
  const { p, result, upstream, port, adminPort } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '3' })
  const base = `http://127.0.0.1:${port}`
  const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  const atUpstream = upstream.reached('/slow')
  const inFlight = get(`${base}/slow?ms=5000`) // outlives the 3 s delay
  await atUpstream
  const begun = stopBegun(p)
  const signalled = Date.now()
  p.kill('SIGTERM')
  await begun
  const ready = await request(`http://127.0.0.1:${adminPort}/readyz`)
  t.equal(ready.statusCode, 503, 'not ready at once')
  t.match(await ready.body.text(), /"notShuttingDown":false/)
  t.equal((await get(`${base}/config.js`)).status, 200, 'still serving during the delay')
  t.equal(await wsClosed, 1001, 'WebSockets get a clean close (1001 going away) after the delay')
  t.ok(Date.now() - signalled >= 2900, 'not before the delay')
  await t.rejects(request(`${base}/config.js`), /ECONNREFUSED/, 'no new connections after the delay')
  t.same(await inFlight, { status: 200, body: 'slow done' }, 'the in-flight request finished')
  const { code, stdout } = await result
  t.equal(code, 0)
  t.match(stdout, /"event":"shutdown_complete"/)
  t.equal(upstream.open(), 0)
})

t.test('in-flight requests are cut at SHUTDOWN_TIMEOUT_SECONDS', async (t) => {
  const { p, result, upstream, port } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '0', SHUTDOWN_TIMEOUT_SECONDS: '1' })
  const atUpstream = upstream.reached('/hang')
  const hanging = request(`http://127.0.0.1:${port}/hang`).then((r) => r.body.text())
  await atUpstream
  const signalled = Date.now()
  p.kill('SIGTERM')
  await t.rejects(hanging, 'the hanging request is cut')
  const { code, stdout } = await result
  t.equal(code, 0)
  // Unbounded, the stop would wait for ever; bounded, it takes the 1 s timeout and the exit (longer
  // on a loaded machine, where the exit writes this process's coverage).
  t.ok(Date.now() - signalled < 15_000, `bounded by the timeout (${Date.now() - signalled} ms)`)
  t.match(stdout, /"event":"shutdown_timeout"/)
})

t.test('a second signal stops at once', async (t) => {
  const { p, result } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '30' })
  const begun = stopBegun(p)
  p.kill('SIGTERM')
  await begun // the first signal was handled: the next one is the second
  const signalled = Date.now()
  p.kill('SIGINT')
  const { code } = await result
  t.equal(code, 1, 'exit status 1: not the graceful stop')
  // The graceful stop would take the 30 s delay; at once is well under a second idle, a few seconds
  // on a loaded machine (the exit writes this process's coverage).
  t.ok(Date.now() - signalled < 10_000, `stopped without the delay (${Date.now() - signalled} ms)`)
})

t.test('kept-alive connections close once answered: the stop waits for requests, not for idle clients', async (t) => {
  const { p, result, upstream, port } = await startSidecar(t, { SHUTDOWN_DELAY_SECONDS: '3', SHUTDOWN_TIMEOUT_SECONDS: '20' })
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
  const atUpstream = upstream.reached('/slow')
  const inFlight = get('/slow?ms=4500') // begun before the stop, answered after the 3 s delay
  // A download begun before the stop, answered keep-alive, read late: it must arrive whole (8 MB, more
  // than the socket buffers hold, so the sidecar is still sending it when connections start to close).
  let bigBytes = 0
  let readBig = () => {}
  let bigAnswered = () => {}
  const bigHead = new Promise<void>((resolve) => (bigAnswered = resolve))
  const big = new Promise<number>((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/big?mb=8`, { agent }, (res) => {
      res.pause()
      readBig = () => void res.resume()
      bigAnswered()
      res.on('data', (d: Buffer) => (bigBytes += d.length)).on('end', () => resolve(bigBytes)).on('error', reject)
    }).once('socket', (socket) => sockets.add(socket)).once('error', reject)
  })
  await Promise.all([atUpstream, bigHead])
  const begun = stopBegun(p)
  p.kill('SIGTERM')
  await begun
  const during = await get('/config.js')
  t.equal(during.status, 200, 'still serving during the delay')
  t.equal(during.connection, 'close', 'answers during the stop close their connection')
  // The download is read once the delay is over, when connections start to close: the listener refuses new ones.
  t.ok(await eventually(async () => !(await accepts(Number(port)))), 'the listener closed after the delay')
  readBig()
  t.same((await inFlight).body, 'slow done', 'the in-flight request finished')
  t.equal(await big, 8 * 1024 * 1024, 'the slowly read download arrived whole')
  t.equal(sockets.size, 3, 'three connections: the download, the slow request and one reused')
  t.ok(await eventually(() => [...sockets].every((socket) => socket.closed)), 'the sidecar closed every connection the client left open')
  const { code, stdout } = await result
  t.equal(code, 0)
  t.notMatch(stdout, /"event":"shutdown_timeout"/, 'no connection waited for the timeout')
})

