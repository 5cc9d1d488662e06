/**
 * The outcome table at work: what a sign-in ends in is logged, counted and
 * answered once, from the same row; our endpoints answer 404/405 from the
 * endpoint table; a WebSocket to an endpoint gets a status line, not a hang.
 */
import t from 'tap'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { rawRequest } from '../fixtures/raw.js'
import { signIn } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'

async function logins(stack: Awaited<ReturnType<typeof startStack>>): Promise<Record<string, number>> {
  const metric = await stack.app.metrics.logins.get()
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.outcome}/${v.labels.reason}`, v.value]))
}

t.test('each sign-in outcome is counted once, as the table says', async (t) => {
  const stack = await startStack() // USE_RULE: alice is in jitsi-users, bob is not
  t.teardown(() => stack.close())
  const b = new Browser()
  const noState = await b.fetch(`${stack.url}/jitsi/callback?code=x`)
  t.equal(noState.status, 400)
  t.same(await logins(stack), { 'failed/LOGIN_STATE_INVALID': 1 }, 'a callback without state is a failed sign-in')

  const alice = await signIn(stack, b, '/MyRoom', 'alice')
  t.equal(alice.done.status, 302)
  t.ok(alice.jwt, 'a token')
  t.same(await logins(stack), { 'failed/LOGIN_STATE_INVALID': 1, 'started/': 1, 'succeeded/': 1 })

  const { done: denied } = await signIn(stack, new Browser(), '/MyRoom', 'bob')
  t.equal(denied.status, 403)
  t.same(await logins(stack), { 'failed/LOGIN_STATE_INVALID': 1, 'started/': 2, 'succeeded/': 1, 'denied/': 1 })

  const lines = stack.logs.map((l) => JSON.parse(l) as { event?: string; requestId?: string; code?: string })
  t.equal(lines.filter((l) => l.event === 'login_succeeded').length, 1)
  const deniedLine = lines.find((l) => l.event === 'login_denied')
  t.ok(deniedLine?.requestId, 'the denial is logged with the request id')
  t.match(denied.body, deniedLine!.requestId!, 'and the page shows that id')
  t.equal(lines.filter((l) => l.requestId === deniedLine!.requestId).length, 1, 'one line for the denial, not two')
})

t.test('the endpoint table: 404 for unknown names, 405 with Allow', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const b = new Browser()
  const cases: [string, string, number, string | undefined][] = [
    ['GET', '/jitsi/nope', 404, undefined],
    ['GET', '/jitsi/jwks.json', 404, undefined],
    ['GET', '/jitsi/asap/x.pem', 404, undefined],
    ['POST', '/jitsi/login?room=R', 405, 'GET, HEAD'],
    ['POST', '/jitsi/callback', 405, 'GET'],
    ['DELETE', '/jitsi/logout', 405, 'GET, HEAD, POST'],
  ]
  for (const [method, path, status, allow] of cases) {
    const r = await b.fetch(`${stack.url}${path}`, { method })
    t.equal(r.status, status, `${method} ${path}`)
    t.equal(r.headers.allow, allow, `${method} ${path}: Allow`)
  }
})

t.test('a WebSocket upgrade to an endpoint is answered with a 404 status line', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const upgrade = 'GET /jitsi/login HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
  const r = await rawRequest(Number(new URL(stack.url).port), upgrade, { untilClose: true })
  t.match(r.text, /^HTTP\/1\.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n$/)
  t.ok(await eventually(() => stack.logs.some((l) => l.includes('"code":"NOT_FOUND"') && l.includes('websocket upgrade to an endpoint'))), 'logged from the table, like a page')
})
