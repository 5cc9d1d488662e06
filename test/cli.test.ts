/**
 * The command as operators run it: a real process, real signals. The demo
 * is driven through a complete sign-in, as a person would.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { Browser } from './fixtures/client.js'
import { freePorts } from './fixtures/ports.js'
import { eventually } from './fixtures/eventually.js'
import { cliBuilt, finish, run, serveEnv, waitForOutput } from './fixtures/process.js'
import { signIn } from './fixtures/signin.js'
import { startUpstream } from './fixtures/upstream.js'

t.test('help and unknown commands', async (t) => {
  const [help, bad] = await Promise.all([finish(run(['help'])), finish(run(['frobnicate']))])
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: jitsi-oidc-sidecar/)
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown command "frobnicate"/)
})

t.test('operator commands as processes: exit statuses', async (t) => {
  const { tempDir } = await import('./fixtures/keys.js')
  const out = `${tempDir()}/key.pem`
  const gen = await finish(run(['keygen', '--out', out, '--bits', '2048']))
  t.equal(gen.code, 0, gen.stderr)
  t.match(gen.stdout, /^kid: /m)
  // The rest only read the key file: one process each, side by side.
  const env = { PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', JWT_APP_ID: 'a', JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: out, COOKIE_SECRET: 'x'.repeat(32) }
  const [again, je, jeBad, chk, badArg] = await Promise.all([
    finish(run(['keygen', '--out', out])),
    finish(run(['jitsi-env', '--keyserver-url', 'http://jitsi-web.meet.svc:8080'], env)),
    finish(run(['jitsi-env'], { ...env, JWT_PRIVATE_KEY_FILE: '/nonexistent' })),
    finish(run(['check'], { ...env, OIDC_ISSUER: 'http://127.0.0.1:9', OIDC_TIMEOUT_SECONDS: '1' })),
    finish(run(['keygen', '--nope'])),
  ])
  t.equal(again.code, 1)
  t.match(again.stderr, /exists/)
  t.equal(je.code, 0, je.stderr)
  t.match(je.stdout, /^JWT_ASAP_KEYSERVER=http:\/\/jitsi-web\.meet\.svc:8080\/jitsi\/asap$/m)
  t.equal(jeBad.code, 2)
  t.match(jeBad.stderr, /JWT_PRIVATE_KEY_FILE/)
  t.equal(chk.code, 1)
  t.match(chk.stdout, /^FAIL {2}identity provider/m)
  t.equal(badArg.code, 1)
  t.match(badArg.stderr, /Unknown option '--nope'/)
})

t.test('a bad configuration stops start-up with every problem listed', async (t) => {
  const r = await finish(run(['serve'], { PUBLIC_URL: 'https://meet.example.com/x', JWT_ALG: 'ES256', OIDC_ISSUER: '', COOKIE_SECRET: '' }))
  t.equal(r.code, 2)
  t.match(r.stderr, /invalid configuration:/)
  t.match(r.stderr, /PUBLIC_URL: must be an origin only/)
  t.match(r.stderr, /JWT_ALG: must be one of HS256, HS384, HS512, RS256, RS384, RS512/)
  t.match(r.stderr, /OIDC_ISSUER: required/)
  t.match(r.stderr, /COOKIE_SECRET: required/)
})

t.test('serve: listens, proxies, logs its configuration without secrets, stops on SIGTERM', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const p = run(['serve'], serveEnv(upstream.url, {
    SHUTDOWN_TIMEOUT_SECONDS: '60', OIDC_CLIENT_SECRET: 'SUPER-SECRET-CLIENT', JWT_APP_SECRET: 'SUPER-SECRET-APP-0123456789abcdefgh', COOKIE_SECRET: 'SUPER-SECRET-COOKIE-0123456789abcdef',
  }))
  const result = finish(p)
  const [, port] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+)/)
  const r = await request(`http://127.0.0.1:${port}/config.js`)
  await r.body.text()
  t.equal(r.statusCode, 200)
  // An open WebSocket (a meeting in progress) must not hold the process up.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const wsClosed = new Promise((resolve) => ws.once('close', resolve))
  const stopped = Date.now()
  p.kill('SIGTERM')
  const { code, stdout } = await result
  await wsClosed
  // Held by the WebSocket, the stop would last until SHUTDOWN_TIMEOUT_SECONDS (60 s); a stop takes well
  // under a second, a few on a loaded machine (the exit writes the coverage of the process).
  t.ok(Date.now() - stopped < 15_000, `stopped promptly with a WebSocket open (${Date.now() - stopped} ms)`)
  t.equal(code, 0)
  t.match(stdout, /"event":"started"/)
  t.match(stdout, /"clientSecret":"\[set\]"/)
  t.notMatch(stdout, /SUPER-SECRET/)
})

t.test('serve: a standard output nobody reads any more (a closed pipe) does not keep it from stopping', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const p = run(['serve'], serveEnv(upstream.url))
  const exited = new Promise<number | null>((resolve) => p.once('exit', resolve))
  const [, port] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+)/)
  p.stdout!.destroy() // the reader goes away: the next write gets EPIPE
  // Access lines pending in the logger's batch when the signal comes.
  for (let i = 0; i < 3; i++) await (await request(`http://127.0.0.1:${port}/config.js`)).body.text()
  const stopped = Date.now()
  p.kill('SIGTERM')
  // Held by the closed pipe, it would never stop; it stops within the logger's 1 s bounded flush.
  // A guard, not an ordering: a process that hangs is killed, and fails the check below.
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000)
  const code = await exited
  clearTimeout(timer)
  t.ok(Date.now() - stopped < 15_000, `stopped in ${Date.now() - stopped} ms`)
  t.equal(code, 0)
})

t.test('serve loads only what serving needs: no operator command, demo IdP or pretty printer', async (t) => {
  const { tempDir } = await import('./fixtures/keys.js')
  const file = `${tempDir()}/modules.txt`
  const hook = new URL('./fixtures/record-modules.mjs', import.meta.url).pathname
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const p = spawn(process.execPath, [`--import=${hook}`, cliBuilt(), 'serve'], {
    env: { ...process.env, RECORD_MODULES_FILE: file, ...serveEnv(upstream.url) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const result = finish(p)
  const [, , adminPort] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\)/)
  // Registered just after listening, yet there for the very first scrape.
  const m = await request(`http://127.0.0.1:${adminPort}/metrics`)
  const metrics = await m.body.text()
  t.match(metrics, /^process_cpu_user_seconds_total /m, 'default process metrics')
  t.match(metrics, /^nodejs_eventloop_lag_seconds /m)
  t.match(metrics, /^# TYPE jos_http_requests_total counter$/m)
  p.kill('SIGTERM')
  t.equal((await result).code, 0)
  const loaded = readFileSync(file, 'utf8')
  t.match(loaded, /\/src\/ops\/start\.[jt]s$/m, 'the record works: the server was loaded')
  t.match(loaded, /\/node_modules\/pino\//m)
  for (const [name, re] of [
    ['check', /\/src\/commands\/check\.[jt]s$/m], ['keygen', /\/src\/commands\/keygen\.[jt]s$/m], ['jitsi-env', /\/src\/commands\/jitsi-env\.[jt]s$/m], ['the demo', /\/src\/demo\//m],
    ['oidc-provider', /\/node_modules\/oidc-provider\//m], ['pino-pretty', /\/node_modules\/pino-pretty\//m],
    ["prom-client's index (Pushgateway, cluster)", /\/node_modules\/prom-client\/index\.js$/m],
  ] as const) t.notMatch(loaded, re, `serve does not load ${name}`)
})

t.test('demo: a person signs in as alice and sees the token in the stand-in room', async (t) => {
  const [aPort, bPort] = await freePorts(2)
  const a = { port: aPort! }
  const b = { port: bPort! }
  const p = run(['demo'], { DEMO_PORT: String(a.port), DEMO_IDP_PORT: String(b.port), DEMO_ADMIN_PORT: '0' })
  let stdout = ''
  p.stdout!.on('data', (d: Buffer) => (stdout += d))
  const result = finish(p)
  t.teardown(() => {
    p.kill('SIGTERM')
    return result
  })
  await waitForOutput(p, /Press Ctrl\+C to stop/)
  const browser = new Browser()
  const base = `http://localhost:${a.port}`
  const start = await browser.fetch(`${base}/MyRoom`)
  const login = await browser.fetch(start.location!)
  t.match((await browser.fetch(login.location!)).body, /alice/, 'the IdP page names the demo accounts')
  const callback = await browser.signInAtIdp(start.location!, 'alice')
  const done = await browser.fetch(callback)
  const room = await browser.fetch(done.location!)
  t.equal(room.status, 200)
  t.match(room.body, /Signed in as Alice Example/)
  t.match(room.body, /&#34;room&#34;: &#34;myroom&#34;/)

  const denied = await signIn({ url: base }, new Browser(), '/MyRoom', 'bob')
  t.equal(denied.done.status, 403)
  t.equal(denied.jwt, undefined)
  // The terminal: lines for people, the sign-ins in words, no JSON and no access line per asset.
  await browser.fetch(`${base}/config.js`)
  t.ok(await eventually(() => /login denied by USE_RULE/.test(stdout)), 'the denial in words')
  t.match(stdout, /INFO: login succeeded \{.*"user":"alice"/, 'the sign-in in words, one line')
  t.notMatch(stdout, /"config"|"clientSecret"/, 'no configuration dump')
  t.notMatch(stdout, /^\{"level"/m, 'no JSON lines')
  t.notMatch(stdout, /config\.js/, 'no access line for an asset (ACCESS_LOG=errors)')
  t.match(stdout, /Ports: DEMO_PORT=\d+, DEMO_IDP_PORT=\d+, DEMO_ADMIN_PORT=0/, 'the banner names the port variables')
})

t.test('demo on a busy port: the message names the variable to change', async (t) => {
  const { createServer } = await import('node:net')
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => busy.close())
  const taken = (busy.address() as { port: number }).port
  const [free1, free2] = await freePorts(2)
  for (const [variable, env] of [
    ['DEMO_PORT', { DEMO_PORT: String(taken), DEMO_IDP_PORT: String(free1), DEMO_ADMIN_PORT: '0' }],
    ['DEMO_IDP_PORT', { DEMO_PORT: String(free1), DEMO_IDP_PORT: String(taken), DEMO_ADMIN_PORT: '0' }],
    ['DEMO_ADMIN_PORT', { DEMO_PORT: String(free1), DEMO_IDP_PORT: String(free2), DEMO_ADMIN_PORT: String(taken) }],
  ] as const) {
    const r = await finish(run(['demo'], env))
    t.equal(r.code, 1, `${variable}: exit status 1`)
    t.match(r.stderr, new RegExp(`port ${taken} is in use .*choose a free one with ${variable}, e\\.g\\. ${variable}=${taken + 100} npm run demo`), variable)
    t.notMatch(r.stderr, /\n\s+at /, `${variable}: no stack trace`)
  }
  const bad = await finish(run(['demo'], { DEMO_PORT: 'eighty' }))
  t.match(bad.stderr, /DEMO_PORT must be a port number from 1 to 65535, got "eighty"/)
})
