/**
 * Everything that is not a sign-in goes to jitsi-web untouched: assets, BOSH,
 * WebSockets; forwarding headers are the truth; failures give a 502 and
 * nothing leaks when clients leave early.
 */
import t from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { eventually } from '../fixtures/eventually.js'
import { abortedRequest, rawSend } from '../fixtures/raw.js'
import { BIG_SIZE, startUpstream } from '../fixtures/upstream.js'
import { startStack, type Stack } from '../fixtures/stack.js'

let stack: Stack
t.before(async () => {
  stack = await startStack()
})
t.teardown(() => stack.close())

function wsOpen(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)))
  })
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(d.toString())))
}

t.test('assets, config.js and non-navigation requests pass through unchanged', async (t) => {
  for (const path of ['/config.js', '/static/close.svg', '/libs/app.bundle.min.js', '/acme/config.js', '/', '/favicon.ico']) {
    const r = await request(`${stack.url}${path}`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } })
    await r.body.text()
    t.equal(r.headers['x-upstream'], 'yes', path)
  }
  const fetchRoom = await request(`${stack.url}/MyRoom`, { headers: { 'sec-fetch-mode': 'cors' } })
  await fetchRoom.body.text()
  t.equal(fetchRoom.statusCode, 200, 'a fetch() of a room path is not a navigation')
  const post = await request(`${stack.url}/MyRoom`, { method: 'POST', body: 'x', headers: { accept: 'text/html' } })
  await post.body.text()
  t.equal(post.statusCode, 200, 'POST passes')
})

t.test('forwarding headers are replaced with the truth', async (t) => {
  const r = await request(`${stack.url}/echo?a=1`, {
    headers: {
      host: 'meet.example.com',
      'x-forwarded-for': '6.6.6.6',
      'X-Forwarded-Proto': 'https',
      'x-forwarded-host': 'evil.example',
      x_forwarded_for: '7.7.7.7',
      forwarded: 'for=8.8.8.8',
      'x-real-ip': '9.9.9.9',
      'x-custom': 'kept',
    },
  })
  const echo = (await r.body.json()) as { url: string; headers: Record<string, string> }
  t.equal(echo.url, '/echo?a=1')
  t.equal(echo.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(echo.headers['x-forwarded-proto'], 'http')
  t.equal(echo.headers['x-forwarded-host'], 'meet.example.com')
  t.equal(echo.headers.host, 'meet.example.com', 'Host kept for jitsi-web')
  t.equal(echo.headers.x_forwarded_for, undefined)
  t.equal(echo.headers.forwarded, undefined)
  t.equal(echo.headers['x-real-ip'], undefined)
  t.equal(echo.headers['x-custom'], 'kept')
})

t.test('bodies stream both ways intact', async (t) => {
  const body = Buffer.alloc(5 * 1024 * 1024, 'b')
  const r = await request(`${stack.url}/http-bind`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } })
  const echo = (await r.body.json()) as { bodyLength: number }
  t.equal(echo.bodyLength, body.length, 'BOSH-style POST body arrives whole')
  const big = await request(`${stack.url}/big`)
  t.equal((await big.body.arrayBuffer()).byteLength, BIG_SIZE, '1 MB download arrives whole')
})

t.test('WebSocket upgrades are proxied', async (t) => {
  const ws = await wsOpen(`${stack.url.replace('http', 'ws')}/xmpp-websocket?room=x`, { 'x-forwarded-for': '6.6.6.6' })
  ws.send('hello')
  t.equal(await nextMessage(ws), 'hello')
  ws.send('headers')
  const headers = JSON.parse(await nextMessage(ws)) as Record<string, string>
  t.equal(headers['x-forwarded-for'], '127.0.0.1')
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.send('close-me')
  t.equal(await closed, 4000, 'the upstream’s close reaches the client')
  await t.rejects(wsOpen(`${stack.url.replace('http', 'ws')}/jitsi/callback`), /unexpected 404/, 'no upgrades on our endpoints')
})

t.test('a client leaving mid-download does not leave the upstream request open', async (t) => {
  for (let i = 0; i < 5; i++) await abortedRequest(Number(new URL(stack.url).port), 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', 'answered')
  t.ok(await eventually(() => stack.upstream.open() === 0), `upstream requests still open: ${stack.upstream.open()}`)
})

t.test('a client leaving mid-upload does not leave the upstream request open', async (t) => {
  const before = stack.upstream.seen.length
  for (let i = 0; i < 5; i++) {
    // The upload leaves once it is in flight to the upstream.
    const atUpstream = stack.upstream.reached('/http-bind')
    const s = await rawSend(Number(new URL(stack.url).port), `POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(1000)}`)
    await atUpstream
    s.destroy()
  }
  t.equal(stack.upstream.seen.length, before + 5, 'the uploads reached the upstream')
  t.ok(await eventually(() => stack.upstream.open() === 0), `upstream requests still open: ${stack.upstream.open()}`)
})

t.test('WebSocket clients that reset or leave mid-handshake crash nothing and leak nothing', async (t) => {
  const port = Number(new URL(stack.url).port)
  /** Sends the handshake; once the sidecar has acted on it (`handled`), resets or leaves. */
  const attempt = async (path: string, how: 'reset' | 'leave', handled: 'passed to the upstream' | 'answered') => {
    const atUpstream = handled === 'passed to the upstream' ? stack.upstream.reached(path) : undefined
    const s = await rawSend(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    await (atUpstream ?? new Promise((resolve) => s.once('data', resolve)))
    if (how === 'reset') s.resetAndDestroy()
    else s.end()
  }
  // Ours (/jitsi/x) the sidecar answers itself; the others it passes on, where /hang-ws never completes.
  for (const [path, handled] of [['/hang-ws', 'passed to the upstream'], ['/jitsi/x', 'answered'], ['/xmpp-websocket', 'passed to the upstream']] as const) {
    await attempt(path, 'reset', handled)
    await attempt(path, 'leave', handled)
  }
  t.ok(await eventually(() => stack.upstream.open() === 0), `upstream handshakes still open: ${stack.upstream.open()}`)
  const r = await request(`${stack.url}/config.js`)
  await r.body.text()
  t.equal(r.statusCode, 200, 'still serving')
})

t.test('an upstream dying mid-response ends the client’s response instead of leaving it hanging', async (t) => {
  const started = Date.now()
  const r = await request(`${stack.url}/die`, { bodyTimeout: 5000 })
  await t.rejects(r.body.arrayBuffer(), 'the client sees the response cut short')
  t.ok(Date.now() - started < 3000, 'promptly')
})

t.test('the sidecar’s cookies are not sent to jitsi-web; others are', async (t) => {
  const r = await request(`${stack.url}/echo`, { headers: { cookie: 'jos_session=SECRET; a=1; __Host-jos_tx_abc=SECRET2; jos_tx_x=S; b=2' } })
  const echo = (await r.body.json()) as { headers: Record<string, string> }
  t.equal(echo.headers.cookie, 'a=1; b=2')
  const only = await request(`${stack.url}/echo`, { headers: { cookie: 'jos_session=SECRET' } })
  t.equal(((await only.body.json()) as { headers: Record<string, string> }).headers.cookie, undefined)
})

t.test('upstream down: 502 page, the sidecar stays up, and recovers when it returns', async (t) => {
  const s = await startStack()
  t.teardown(() => s.close())
  const port = s.upstream.port
  await s.upstream.close()
  const r = await request(`${s.url}/config.js`, { headers: { accept: 'text/html' } })
  t.equal(r.statusCode, 502)
  const html = await r.body.text()
  t.match(html, /The meeting service is unavailable/)
  t.match(html, /Request id: <code>[0-9a-f-]{36}<\/code>/)
  t.match(s.logs.join('\n'), /"level":"error".*"code":"UPSTREAM_UNAVAILABLE".*"detail":"upstream unavailable: ECONNREFUSED"/)
  await t.rejects(wsOpen(`${s.url.replace('http', 'ws')}/xmpp-websocket`), /unexpected 502/, 'WebSocket gets a 502 status line')
  const back = await startUpstream(port)
  t.teardown(() => back.close())
  const again = await request(`${s.url}/config.js`)
  await again.body.text()
  t.equal(again.statusCode, 200, 'normal service again without a restart')
})

t.test('ENABLE_AUTH=0 is a plain proxy', async (t) => {
  const s = await startStack({ env: { ENABLE_AUTH: '0' } })
  t.teardown(() => s.close())
  for (const path of ['/MyRoom', '/jitsi/login?room=x', '/jitsi/callback']) {
    const r = await request(`${s.url}${path}`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } })
    await r.body.text()
    t.equal(r.headers['x-upstream'], 'yes', path)
  }
})
