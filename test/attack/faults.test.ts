/**
 * Faults with real processes and servers: the IdP rotating its signing keys,
 * a sidecar stopped in the middle of a login (another instance finishes it),
 * and clients aborting in bulk without leaving sockets or memory behind.
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { startTestIdp } from '../fixtures/idp.js'
import { finish, run, waitForOutput } from '../fixtures/process.js'
import { abortedRequest } from '../fixtures/raw.js'
import { jwtOf, signIn, verify } from '../fixtures/signin.js'
import { APP_ID, APP_SECRET, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, listenServer, startStack } from '../fixtures/stack.js'
import { startUpstream } from '../fixtures/upstream.js'

function signingJwks() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: `k-${Math.random().toString(36).slice(2)}`, use: 'sig', alg: 'RS256' }] }
}

t.test('the IdP rotates its signing keys: the next login still verifies', async (t) => {
  const s = await startStack({ idp: { extra: { jwks: signingJwks() as never } } })
  t.teardown(() => s.close())
  const first = (await signIn(s, new Browser(), '/RoomA')).done
  t.equal(first.status, 302)
  // Same issuer and port, new signing key (and a fresh IdP session).
  const port = Number(new URL(s.idp.issuer).port)
  await s.idp.close()
  const rotated = await startTestIdp({ port, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${s.url}/jitsi/callback`], extra: { jwks: signingJwks() as never } })
  t.teardown(() => rotated.close())
  const second = (await signIn(s, new Browser(), '/RoomB')).done
  t.equal(second.status, 302, 'an ID token signed with an unknown kid makes the sidecar refetch the JWKS at once')
  t.match(second.location, /\/RoomB\?jwt=/)
})

t.test('a sidecar stopped mid-login: another instance with the same secrets finishes it', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const reserved = await listenServer()
  const port = reserved.port
  await new Promise((r) => reserved.server.close(r))
  const url = `http://127.0.0.1:${port}`
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${url}/jitsi/callback`] })
  t.teardown(() => idp.close())
  const env = {
    PUBLIC_URL: url, UPSTREAM_URL: upstream.url, LISTEN_ADDRESS: `127.0.0.1:${port}`, ADMIN_LISTEN_ADDRESS: '127.0.0.1:0',
    OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_SCOPES: 'openid profile email groups',
    JWT_APP_ID: APP_ID, JWT_APP_SECRET: APP_SECRET, COOKIE_SECRET, USE_RULE: "inGroup('jitsi-users')", SHUTDOWN_DELAY_SECONDS: '0',
  }
  const a = run(['serve'], env)
  const aDone = finish(a)
  await waitForOutput(a, /listening on/)
  const b = new Browser()
  const start = await b.fetch(`${url}/MyRoom`)
  t.equal(new URL(start.location!).origin, idp.issuer)
  a.kill('SIGTERM')
  t.equal((await aDone).code, 0, 'the first instance stopped cleanly mid-login')
  const callback = await b.signInAtIdp(start.location!, 'alice')
  const second = run(['serve'], env)
  const secondDone = finish(second)
  t.teardown(() => {
    second.kill('SIGTERM')
    return secondDone
  })
  await waitForOutput(second, /listening on/)
  const done = await b.fetch(callback)
  t.equal(done.status, 302, 'the login transaction lives in the browser, not in the process')
  t.equal((await verify(jwtOf(done.location))).room, 'myroom')
})

t.test('1,000 clients aborting mid-download and mid-upload leave nothing behind', async (t) => {
  const s = await startStack({ env: { LOG_LEVEL: 'warn' } })
  t.teardown(() => s.close())
  const port = Number(new URL(s.url).port)
  const conns = () => new Promise<number>((resolve) => s.server.getConnections((_e, n) => resolve(n)))
  const heapBefore = process.memoryUsage().heapUsed
  for (let round = 0; round < 50; round++) {
    await Promise.all([
      ...Array.from({ length: 10 }, () => abortedRequest(port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', 'answered')),
      ...Array.from({ length: 10 }, () => abortedRequest(port, `POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(5000)}`, 'sent')),
    ])
  }
  await eventually(async () => s.upstream.open() === 0 && (await conns()) === 0)
  t.equal(s.upstream.open(), 0, 'no upstream request left open')
  t.equal(await conns(), 0, 'no client connection left open')
  const growth = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024
  t.comment(`heap growth after 1,000 aborts: ${growth.toFixed(1)} MB (test process, sidecar in process)`)
  t.ok(growth < 50, 'no runaway memory')
})
