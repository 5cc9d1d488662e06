/**
 * Several replicas behave as one: three built sidecars (as the image runs them) behind a real nginx
 * balancing per request, sharing one COOKIE_SECRET and one key folder laid out as the kubelet lays out
 * a mounted Secret, in front of one stand-in jitsi-web and the embedded IdP. Proven here:
 * - sign-ins whose steps land on three different replicas succeed (200 at once, zero failures);
 * - an RS256 key rotation through the shared folder, done as docs/jitsi.md says: every token any
 *   replica mints verifies against the key server of every replica, during and after, and no kid
 *   ever maps to two keys (Prosody caches a key per kid for good);
 * - a rolling restart under load as the Deployment performs it (a new pod first, maxSurge 1; then
 *   SIGTERM to an old one, whose readiness fails at once; the endpoints update takes it out of the
 *   balancer; it finishes what it has): zero failed requests, zero failed sign-ins, WebSockets on the
 *   stopping replica closed with 1001;
 * - a cookie-secret rotation rolled out in two steps (the new secret added second, then moved
 *   first): everyone signed in before is still signed in, on every replica, throughout.
 * Run by `npm run test:cluster`; figures (LOAD lines) are in docs/kubernetes.md.
 */
import t, { type Test } from 'tap'
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request, setGlobalDispatcher } from 'undici'
import WebSocket from 'ws'
import { decodeProtectedHeader } from 'jose'
import { verifyLikeProsody } from '../../src/commands/check.js'
import { kidFileName, thumbprintKid } from '../../src/token/rsa-keys.js'
import { startBalancer, nginxMissing, type Balancer } from '../fixtures/balancer.js'
import { startBuilt, type Built } from '../fixtures/built.js'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { startTestIdp } from '../fixtures/idp.js'
import { copyTree, injected, kubectl, noKubectl, render } from '../fixtures/k8s/render.js'
import { ProjectedFolder } from '../fixtures/kubelet.js'
import { freePorts } from '../fixtures/ports.js'
import { CLIENT_ID, CLIENT_SECRET } from '../fixtures/secrets.js'
import { startUpstream } from '../fixtures/upstream.js'

// No kept-alive connections from the test's clients: an nginx reload closes its old workers' idle
// connections, and a request racing that close fails in a client that does not retry (browsers retry it).
setGlobalDispatcher(new Agent({ pipelining: 0, connections: 512 }))

const REPLICAS = 3
const LOGINS = 200
const skip = nginxMissing ?? (kubectl ? false : noKubectl)

/** The sidecar's shutdown timings as the manifests set them (serving, not ready, while the endpoints update). */
function manifestShutdown(): { SHUTDOWN_DELAY_SECONDS: string; SHUTDOWN_TIMEOUT_SECONDS: string } {
  const tree = copyTree()
  try {
    const { env } = injected(render(join(tree.dir, 'base')))
    return { SHUTDOWN_DELAY_SECONDS: env.SHUTDOWN_DELAY_SECONDS!, SHUTDOWN_TIMEOUT_SECONDS: env.SHUTDOWN_TIMEOUT_SECONDS! }
  } finally {
    tree.remove()
  }
}

type Keys = { pem: string; spki: string; kid: string }
async function newKey(): Promise<Keys> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pub = createPublicKey(privateKey)
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), spki: pub.export({ type: 'spki', format: 'pem' }).toString(), kid: await thumbprintKid(pub) }
}
const file = (text: string) => ({ text, mode: 0o644 })


interface Replica extends Built {
  readonly port: number
  output(): string
}

t.test('three replicas behind a balancer', { skip }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'jos-replicas-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  const k1 = await newKey()
  const keyFolder = new ProjectedFolder(join(scratch, 'key'), undefined)
  keyFolder.write(new Map([['key.pem', file(k1.pem)]]))
  const publicFolder = new ProjectedFolder(join(scratch, 'public'), undefined)
  publicFolder.write(new Map())
  const lbPort = (await freePorts(1))[0]!
  const shutdown = manifestShutdown()
  t.match(shutdown, { SHUTDOWN_DELAY_SECONDS: /^[1-9]\d*$/ }, `the manifests' shutdown timings: ${JSON.stringify(shutdown)}`)
  const publicUrl = `http://127.0.0.1:${lbPort}`
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${publicUrl}/jitsi/callback`], extra: { ttl: { Session: 3600, Grant: 3600, Interaction: 600, IdToken: 600, AccessToken: 600, AuthorizationCode: 120 } } })
  t.teardown(() => idp.close())
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const oldCookie = randomBytes(32).toString('base64url')

  const env = (cookie: string) => ({
    PUBLIC_URL: publicUrl, UPSTREAM_URL: upstream.url, OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_SCOPES: 'openid profile email groups', OIDC_TIMEOUT_SECONDS: '20', JWT_APP_ID: 'jitsi', JWT_ALG: 'RS256',
    JWT_PRIVATE_KEY_FILE: join(keyFolder.path, 'key.pem'), JWT_PUBLIC_KEYS_DIR: publicFolder.path, JWT_KEY_RELOAD_SECONDS: '1',
    COOKIE_SECRET: cookie, ...shutdown, LOG_LEVEL: 'warn',
  })
  const everyone = new Set<Replica>()
  const startReplica = async (cookie: string): Promise<Replica> => {
    const b = await startBuilt({ ...env(cookie), LOG_LEVEL: 'info' })
    let out = ''
    b.process.stdout?.on('data', (d: Buffer) => void (out += d.toString()))
    b.process.stderr?.on('data', (d: Buffer) => void (out += d.toString()))
    const r = Object.assign(b, { port: Number(new URL(b.url).port), output: () => out })
    everyone.add(r)
    t.ok(await eventually(() => readiness(r).then((s) => s === 200), { timeoutMs: 30_000 }), `replica ${r.port} ready`)
    return r
  }
  t.teardown(async () => void (await Promise.all([...everyone].map((r) => r.stop()))))
  let replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startReplica(oldCookie)))
  const lb: Balancer = await startBalancer(lbPort, replicas.map((r) => r.port))
  t.teardown(() => lb.close())

  /** A sign-in; with `at`, its first step, callback and room load go to those replicas (ports). */
  const login = async (i: number, at?: readonly number[], b = new Browser()): Promise<{ jwt: string; b: Browser }> => {
    const via = (k: number): Record<string, string> => (at ? { 'x-replica': String(at[k % at.length]) } : {})
    const start = await b.fetch(`${publicUrl}/Room${i}`, { headers: via(0) })
    if (!start.location?.startsWith(idp.issuer)) throw new Error(`start: ${start.status} ${start.location ?? start.body.slice(0, 120)}`)
    const callback = await b.signInAtIdp(start.location, 'alice')
    const done = await b.fetch(callback, { headers: via(1) })
    const jwt = done.location && new URL(done.location).searchParams.get('jwt')
    if (!jwt) throw new Error(`callback: ${done.status} ${done.body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 160)}`)
    await roomWithSession(b, i, via(2))
    return { jwt, b }
  }
  /** A room load with the session cookie only: answered at once with a fresh token, and the room itself. */
  const roomWithSession = async (b: Browser, i: number, headers: Record<string, string> = {}) => {
    const again = await b.fetch(`${publicUrl}/Room${i}`, { headers })
    const jwt = again.location && new URL(again.location, publicUrl).searchParams.get('jwt')
    if (again.status !== 302 || !jwt || again.location?.startsWith(idp.issuer)) throw new Error(`room load with a session: ${again.status} ${again.location ?? ''} (signed out?)`)
    const page = await b.fetch(new URL(again.location!, publicUrl).href, { headers })
    if (page.status !== 200) throw new Error(`room page: ${page.status}`)
    return jwt
  }
  const settle = async <T>(n: number, f: (i: number) => Promise<T>) => {
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => f(i)))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    return { ok: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])), failed: failed.map((f) => String(f.reason)) }
  }

  await t.test(`${LOGINS} sign-ins at once, each step on another replica`, async (t) => {
    const ports = replicas.map((r) => r.port)
    const started = Date.now()
    const { ok, failed } = await settle(LOGINS, (i) => login(i, [ports[i % 3]!, ports[(i + 1) % 3]!, ports[(i + 2) % 3]!]))
    const secs = (Date.now() - started) / 1000
    t.equal(failed.length, 0, `failed: ${failed.slice(0, 3).join('; ')}`)
    t.equal(ok.length, LOGINS)
    // Every replica started, finished and answered a third of them: the steps really were spread.
    for (const r of replicas) {
      const m = await (await request(`${r.adminUrl}/metrics`)).body.text()
      t.match(m, new RegExp(`jos_logins_total\\{outcome="started",reason=""\\} ${Math.round(LOGINS / 3)}\\b|jos_logins_total\\{outcome="started",reason=""\\} ${Math.floor(LOGINS / 3)}\\b`), `replica ${r.port} started its third`)
    }
    t.comment(`${LOGINS} sign-ins across ${REPLICAS} replicas in ${secs.toFixed(1)} s`)
    console.log(`LOAD replicas=${REPLICAS} logins=${LOGINS} seconds=${secs.toFixed(1)} failed=${failed.length}`)
  })

  await t.test('RS256 key rotation through the shared folder, as docs/jitsi.md says', async (t) => {
    const k2 = await newKey()
    /** kid → every public key any replica's key server answered for it. */
    const seen = new Map<string, Set<string>>()
    const fetchText = async (url: string) => {
      const r = await request(url)
      const body = await r.body.text()
      if (r.statusCode === 200) {
        const hash = /\/([0-9a-f]{64})\.pem$/.exec(url)![1]!
        const kid = [k1.kid, k2.kid].find((k) => createHash('sha256').update(k).digest('hex') === hash) ?? hash
        seen.set(kid, (seen.get(kid) ?? new Set()).add(createPublicKey(body).export({ format: 'der', type: 'spki' }).toString('base64')))
      }
      return { status: r.statusCode, body }
    }
    const everywhere = async (jwt: string) => {
      for (const r of replicas) await verifyLikeProsody(jwt, { alg: 'RS256', issuers: ['jitsi'], audiences: ['jitsi'], keyserver: `${r.url}/jitsi/asap`, fetchText })
    }
    const asap = (r: Replica, kid: string) => request(`${r.url}/jitsi/asap/${createHash('sha256').update(kid).digest('hex')}.pem`).then(async (x) => (await x.body.dump(), x.statusCode))
    // Step 2: both public keys in the public-keys folder; every replica publishes K2 before it signs with it.
    publicFolder.write(new Map([[kidFileName(k1.kid), file(k1.spki)], [kidFileName(k2.kid), file(k2.spki)]]))
    t.ok(await eventually(async () => (await Promise.all(replicas.map((r) => asap(r, k2.kid)))).every((s) => s === 200)), 'every replica publishes K2')
    // Step 3: the private key swapped as the kubelet swaps a Secret; sign-ins go on all along.
    const rotated = replicas.map((r) => eventually(() => /"event":"key_rotated"/.test(r.output()), { timeoutMs: 30_000 }))
    let rotating = true
    const during: string[] = []
    const failures: string[] = []
    const traffic = (async () => {
      for (let i = 0; rotating || i < 6; i++) {
        await settle(6, (j) => login(1000 + i * 6 + j)).then(({ ok, failed }) => {
          failures.push(...failed)
          during.push(...ok.map((o) => o.jwt))
        })
      }
    })()
    keyFolder.write(new Map([['key.pem', file(k2.pem)]]))
    t.ok((await Promise.all(rotated)).every(Boolean), 'every replica logged key_rotated')
    rotating = false
    await traffic
    t.equal(failures.length, 0, `no sign-in failed during the rotation: ${failures.slice(0, 2).join('; ')}`)
    const kids = new Set(during.map((j) => decodeProtectedHeader(j).kid))
    t.ok(kids.has(k2.kid), `tokens of K2 were minted during the rotation (${[...kids].join(', ')})`)
    const bad: string[] = []
    for (const jwt of during) await everywhere(jwt).catch((e: Error) => bad.push(`${decodeProtectedHeader(jwt).kid}: ${e.message}`))
    t.same(bad, [], `all ${during.length} tokens minted during the rotation verify on every replica's key server`)
    const after = await login(2000)
    t.equal(decodeProtectedHeader(after.jwt).kid, k2.kid, 'after it, K2 signs')
    await t.resolves(everywhere(after.jwt))
    for (const [kid, keys] of seen) t.equal(keys.size, 1, `kid ${kid.slice(0, 12)}… maps to one key on every replica`)
    t.ok(seen.size >= 2, 'both kids were fetched')
  })

  await t.test('a rolling restart under load: nothing fails, WebSockets get 1001', async (t) => {
    const r = await roll(t, oldCookie)
    t.equal(r.failedRequests, 0, `failed requests: ${r.errors.slice(0, 3).join('; ')}`)
    t.equal(r.failedLogins, 0, `failed sign-ins: ${r.loginErrors.slice(0, 3).join('; ')}`)
    t.ok(r.requests > 100 && r.logins > 10, `${r.requests} requests and ${r.logins} sign-ins during the restart`)
    t.equal(r.closes1001, r.sockets, `all ${r.sockets} WebSockets on the stopped replicas were closed with 1001 (going away)`)
    t.ok(r.sockets >= REPLICAS, 'some were open on each')
    console.log(`LOAD rolling-restart requests=${r.requests} logins=${r.logins} failed=${r.failedRequests + r.failedLogins} websockets-closed-1001=${r.closes1001}/${r.sockets} seconds=${r.seconds.toFixed(1)}`)
  })

  await t.test('a cookie-secret rotation, rolled out in two steps: nobody is signed out', async (t) => {
    const signedIn = (await settle(12, (i) => login(3000 + i))).ok.map((o) => o.b)
    t.equal(signedIn.length, 12)
    const newCookie = randomBytes(32).toString('base64url')
    // Step 1: the new secret accepted (second) everywhere; step 2: it encrypts (first), the old one still read.
    for (const [step, cookie] of [[1, `${oldCookie},${newCookie}`], [2, `${newCookie},${oldCookie}`]] as const) {
      const r = await roll(t, cookie, signedIn)
      t.equal(r.failedRequests + r.failedLogins, 0, `step ${step}: nothing failed: ${[...r.errors, ...r.loginErrors].slice(0, 3).join('; ')}`)
      t.equal(r.signedOut, 0, `step ${step}: nobody signed out (${r.sessionChecks} room loads with an old session, on every replica)`)
    }
    // The check can fail: a replica without the sessions' key sends the same people back to the IdP.
    const stranger = await startReplica(randomBytes(32).toString('base64url'))
    await lb.setBackends([...lb.backends, stranger.port])
    await t.rejects(roomWithSession(signedIn[0]!, 1, { 'x-replica': String(stranger.port) }), /signed out/, 'a replica lacking the key does not read the session')
    await lb.setBackends(lb.backends.filter((p) => p !== stranger.port))
    t.equal(await stranger.stop(), 0)
  })

  /**
   * Replaces every replica as a Deployment does (surge one, then stop one), under steady load:
   * asset requests, sign-ins, room loads of `sessions` (people already signed in), WebSockets.
   */
  async function roll(t: Test, cookie: string, sessions: readonly Browser[] = []) {
    const errors: string[] = []
    const loginErrors: string[] = []
    let requests = 0
    let logins = 0
    let signedOut = 0
    let sessionChecks = 0
    let sockets = 0
    let closes1001 = 0
    let running = true
    const started = Date.now()
    const assets = Array.from({ length: 4 }, async () => {
      while (running) {
        try {
          const res = await request(`${publicUrl}/libs/app.bundle.min.js`)
          await res.body.dump()
          requests++
          if (res.statusCode !== 200) errors.push(`asset: ${res.statusCode}`)
        } catch (e) {
          errors.push(`asset: ${(e as Error).message}`)
        }
      }
    })
    const signIns = (async () => {
      for (let i = 0; running; i++) {
        await login(4000 + i).then(() => void logins++, (e: Error) => void loginErrors.push(e.message))
        for (const b of sessions) {
          sessionChecks++
          await roomWithSession(b, 9000 + (sessionChecks % 50)).catch((e: Error) => {
            signedOut++
            errors.push(e.message)
          })
        }
      }
    })()
    for (const old of [...replicas]) {
      const fresh = await startReplica(cookie)
      await lb.setBackends([...lb.backends, fresh.port])
      // WebSockets pinned to the replica about to stop: each must get 1001, none anything else.
      const open = await Promise.all(Array.from({ length: 3 }, () => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${publicUrl.replace('http', 'ws')}/xmpp-websocket`, { headers: { 'x-replica': String(old.port) } })
        ws.once('open', () => resolve(ws))
        ws.once('error', reject)
      })))
      sockets += open.length
      const closed = open.map((ws) => new Promise<void>((resolve) => ws.once('close', (code) => {
        if (code === 1001) closes1001++
        resolve()
      })))
      old.process.kill('SIGTERM')
      // Readiness fails at once; the endpoints controller then takes the pod out of the balancer.
      t.ok(await eventually(() => readiness(old).then((s) => s !== 200)), `replica ${old.port}: not ready right after SIGTERM`)
      await lb.setBackends(lb.backends.filter((p) => p !== old.port))
      t.equal(await old.exited, 0, `replica ${old.port} stopped cleanly`)
      await Promise.all(closed)
      replicas = replicas.filter((r) => r !== old).concat(fresh)
    }
    running = false
    await Promise.all([...assets, signIns])
    return { errors, loginErrors, requests, logins, signedOut, sessionChecks, sockets, closes1001, failedRequests: errors.length, failedLogins: loginErrors.length, seconds: (Date.now() - started) / 1000 }
  }
})

async function readiness(r: { adminUrl: string }): Promise<number> {
  try {
    const res = await request(`${r.adminUrl}/readyz`)
    await res.body.dump()
    return res.statusCode
  } catch {
    return 0
  }
}
