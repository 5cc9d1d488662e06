/**
 * The IdP's key set endpoint failing while the rest of the IdP works: the
 * real oidc-provider runs every login against the sidecar's OIDC client, and
 * its /jwks answers are switched to an error, to silence or to a dropped
 * connection. Keys fetched before keep verifying (with a warning) and no login
 * waits for the refetch; the client does not ask again at every login while
 * the endpoint is down; a kid those keys lack, or keys a day old, still fail
 * as the IdP's outage; once the endpoint is back it is fetched again.
 *
 * Time is the client's own clock, which each test moves on by hand: nothing
 * here waits for keys to age, and the process's Date.now is left alone.
 */
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'
import { fetch } from 'undici'
import { loadConfig, type OidcConfig } from '../../src/config/load.js'
import { OidcClient, type IdpFetch, type LoginResult } from '../../src/oidc/client.js'
import { JWKS_COOLDOWN_MS, JWKS_REFRESH_RETRY_MS, JWKS_STALE_MAX_MS } from '../../src/oidc/key-set.js'
import type { Asserts } from '../fixtures/asserts.js'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { startTestIdp, type TestIdp } from '../fixtures/idp.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { signIn } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'
import { APP_SECRET, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET } from '../fixtures/secrets.js'

const PUBLIC_URL = 'https://meet.example.com'
const REDIRECT_URI = `${PUBLIC_URL}/jitsi/callback`
const REFRESH_MS = 60_000
/** While the jwks_uri fails, the next background try comes this much later. */
const RETRY_MS = Math.min(JWKS_REFRESH_RETRY_MS, REFRESH_MS)

let idp: TestIdp
let cfg: OidcConfig
let idpKey: CryptoKey
/** A key the IdP never published. */
let otherKey: CryptoKey
/** How the IdP's /jwks answers, if not as the IdP would. */
let fault: 'error' | 'hang' | 'reset' | undefined
let jwksRequests = 0
/** Requests to /jwks left unanswered ('hang'), until a test answers them. */
const held: ServerResponse[] = []
/** When set, the token endpoint's ID token is re-signed after this change (with the IdP's key, unless the change names another). */
let resign: ((payload: JWTPayload) => Promise<string>) | undefined

t.before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true })
  idpKey = pair.privateKey
  otherKey = (await generateKeyPair('RS256')).privateKey
  const jwk: JWK = { ...(await exportJWK(pair.privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' }
  idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], extra: { jwks: { keys: [jwk] } } })
  idp.onRequest = (req, res) => {
    if (!(req.url ?? '').startsWith('/jwks')) return false
    jwksRequests++
    if (fault === 'error') res.writeHead(503).end('down')
    else if (fault === 'hang') held.push(res)
    else if (fault === 'reset') req.socket.destroy() // a network error, not an HTTP answer
    return fault !== undefined
  }
  rewriteIdpAnswers(idp, '/token', async (body) => {
    if (resign && typeof body.id_token === 'string') body.id_token = await resign(decodeJwt(body.id_token))
  })
  const config = loadConfig({
    PUBLIC_URL, OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_SCOPES: 'openid profile email groups',
    // Long: no test here waits for a timeout of the client's own (one brings its own fetch for that).
    OIDC_TIMEOUT_SECONDS: '10', OIDC_JWKS_REFRESH_SECONDS: String(REFRESH_MS / 1000),
    JWT_APP_ID: 'test-app', JWT_APP_SECRET: APP_SECRET, COOKIE_SECRET,
  })
  cfg = config.auth!.oidc
  // Loads the client's modules and warms the IdP, so each test's time is its own.
  const warm = new OidcClient(cfg)
  await login({ oidc: warm })
  await warm.close()
})
t.teardown(() => idp.close())
t.afterEach(() => {
  fault = undefined
  resign = undefined
})

/** The IdP's own ID token with `change` applied, signed with `key` under `kid` (the IdP's key and kid unless given). */
const signed = (change: (p: JWTPayload) => JWTPayload, key = idpKey, kid = 'idp-key-1') => (p: JWTPayload) => new SignJWT(change(p)).setProtectedHeader({ alg: 'RS256', kid }).sign(key)

type Fetched = { keys: number } | { stale: string } | 'nothing within 10 s'

interface Client {
  readonly oidc: OidcClient
  /** Moves the client's clock on by `ms`. */
  advance(ms: number): void
  /** The warnings of failed background refetches, in order. */
  readonly warnings: string[]
  /** What the next fetch of the key set ends in: the number of keys, or the warning (call it before the login that fetches). */
  nextFetch(): Promise<Fetched>
}

/** An OIDC client of the sidecar on a clock of the test's, starting now and moving only when told. */
function client(t: Asserts, send?: IdpFetch): Client {
  let ms = Date.now()
  const warnings: string[] = []
  let waiting: ((f: Fetched) => void)[] = []
  const settle = (f: Fetched) => {
    for (const resolve of waiting.splice(0)) resolve(f)
  }
  const oidc = new OidcClient(cfg, undefined, {
    now: () => ms,
    fetch: send,
    onStaleKeys: (reason) => {
      warnings.push(reason)
      settle({ stale: reason })
    },
    onKeysFetched: (keys) => settle({ keys }),
  })
  t.teardown(async () => {
    // An agent closes only once its requests are done: end those the IdP still holds.
    for (const res of held.splice(0)) res.destroy()
    await oidc.close()
  })
  return {
    oidc,
    advance: (by) => void (ms += by),
    warnings,
    nextFetch: () =>
      new Promise<Fetched>((resolve) => {
        waiting.push(resolve)
        // A bound for a fetch that never ends, so the test fails instead of hanging.
        setTimeout(() => resolve('nothing within 10 s'), 10_000).unref()
      }),
  }
}

/** A whole login at the IdP as alice, ended by the client's code exchange and ID-token checks. */
async function login(c: { readonly oidc: OidcClient }): Promise<LoginResult> {
  const start = await c.oidc.startLogin()
  const callback = await new Browser().signInAtIdp(start.url, 'alice')
  return c.oidc.finishLogin(new URL(callback).search.slice(1), start)
}

/** A client that has signed someone in once, so it holds the IdP's keys. */
async function withKeys(t: Asserts, send?: IdpFetch): Promise<Client> {
  const c = client(t, send)
  const fetched = c.nextFetch()
  const before = jwksRequests
  t.equal((await login(c)).claims.sub, 'alice', 'a first login')
  t.same(await fetched, { keys: 1 }, 'fetched the key set')
  t.equal(jwksRequests, before + 1, 'once')
  return c
}

t.test('a first login fetches the key set; while it is younger than the refresh time it is used as it is', async (t) => {
  const c = await withKeys(t)
  const before = jwksRequests
  c.advance(REFRESH_MS - 1)
  t.equal((await login(c)).claims.sub, 'alice')
  t.equal(jwksRequests, before, 'not fetched again')
})

t.test('the key set is older than the refresh time: the login is verified with it, the set refetched beside it', async (t) => {
  const c = await withKeys(t)
  const before = jwksRequests
  c.advance(REFRESH_MS)
  const refetched = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice')
  t.same(await refetched, { keys: 1 }, 'refetched')
  t.equal(jwksRequests, before + 1, 'once')
  t.same(c.warnings, [], 'no warning: the refetch worked')
})

t.test('the jwks_uri fails after the keys were fetched: the earlier keys verify, with one warning, and the next try waits', async (t) => {
  const c = await withKeys(t)
  c.advance(REFRESH_MS)
  fault = 'error'
  const before = jwksRequests
  const refetched = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice', 'signed in, not refused')
  t.match(await refetched, { stale: /^IDP_UNAVAILABLE: ID token keys: Expected 200 OK/ }, 'the operator is told, with the reason')
  t.equal(jwksRequests, before + 1, 'one refetch was tried')
  t.notMatch(c.warnings.join('\n'), /eyJ/, 'no token in the warning')

  c.advance(RETRY_MS - 1)
  t.equal((await login(c)).claims.sub, 'alice', 'the next login signs in too')
  t.equal(jwksRequests, before + 1, 'without asking the failing endpoint again before the retry time')
  t.equal(c.warnings.length, 1, 'and without another warning')

  c.advance(1)
  const again = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice')
  t.match(await again, { stale: /Expected 200 OK/ }, 'at the retry time it is asked again, and still fails')
  t.equal(jwksRequests, before + 2)
  t.equal(c.warnings.length, 2)
})

t.test('a kid the earlier keys lack, while the jwks_uri fails: the IdP is unavailable, no login', async (t) => {
  const c = await withKeys(t)
  c.advance(JWKS_COOLDOWN_MS)
  fault = 'error'
  // The token endpoint answers with an ID token signed by a key the client has never been shown.
  resign = signed((p) => p, otherKey, 'rotated')
  const before = jwksRequests
  await t.rejects(login(c), { code: 'IDP_UNAVAILABLE', message: /ID token keys: Expected 200 OK/ })
  t.equal(jwksRequests, before + 1, 'the unknown kid made the client ask the IdP, once')
  t.same(c.warnings, [], 'a refusal, not a warning: no earlier keys were used')
})

t.test('a hanging jwks_uri: the login does not wait for it', async (t) => {
  const c = await withKeys(t)
  c.advance(REFRESH_MS)
  fault = 'hang'
  const refetched = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice', 'signed in')
  // Nothing ends the refetch but the IdP's answer (the client's timeout is 10 s): the login came first.
  t.same(c.warnings, [], 'before the refetch ended')
  t.ok(await eventually(() => held.length === 1), 'the refetch is still waiting for the IdP')
  held.shift()!.writeHead(503).end('down')
  t.match(await refetched, { stale: /Expected 200 OK/ }, 'then the warning')
})

t.test('a jwks_uri that does not answer in time: the warning says so', async (t) => {
  // A real timer ends the real request, short only for the refetch: the client's fetch seam.
  let timeoutMs: number | undefined
  const send: IdpFetch = (url, init) => fetch(url, { ...init, signal: timeoutMs === undefined || !url.endsWith('/jwks') ? init.signal : AbortSignal.any([init.signal!, AbortSignal.timeout(timeoutMs)]) } as Parameters<typeof fetch>[1]) as unknown as Promise<Response>
  const c = await withKeys(t, send)
  c.advance(REFRESH_MS)
  fault = 'hang'
  timeoutMs = 50
  const refetched = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice', 'signed in')
  t.match(await refetched, { stale: /^IDP_TIMEOUT: ID token keys: the jwks_uri did not answer in time/ })
})

t.test('a jwks_uri whose connection drops: the earlier keys verify, and the warning says the IdP is unreachable', async (t) => {
  const c = await withKeys(t)
  c.advance(REFRESH_MS)
  fault = 'reset'
  const refetched = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice', 'signed in')
  t.match(await refetched, { stale: /^IDP_UNAVAILABLE: ID token keys: identity provider unreachable/ })
})

t.test('keys fetched a day ago are not used while the jwks_uri fails: the IdP is unavailable', async (t) => {
  const c = await withKeys(t)
  c.advance(JWKS_STALE_MAX_MS)
  fault = 'error'
  // The IdP's clock a day on as well: its ID token is new for the client's clock.
  resign = signed((p) => ({ ...p, iat: p.iat! + JWKS_STALE_MAX_MS / 1000, exp: p.exp! + JWKS_STALE_MAX_MS / 1000 }))
  const before = jwksRequests
  await t.rejects(login(c), { code: 'IDP_UNAVAILABLE', message: /ID token keys:/ })
  t.equal(jwksRequests, before + 1, 'the IdP was asked')
  t.same(c.warnings, [], 'a refusal, not a warning')
})

t.test('keys fetched a day ago are fetched again before the login is verified', async (t) => {
  const c = await withKeys(t)
  c.advance(JWKS_STALE_MAX_MS)
  resign = signed((p) => ({ ...p, iat: p.iat! + JWKS_STALE_MAX_MS / 1000, exp: p.exp! + JWKS_STALE_MAX_MS / 1000 }))
  const before = jwksRequests
  let fetchedFirst = false
  const refetched = c.nextFetch().then(() => (fetchedFirst = true))
  const { claims } = await login(c)
  t.ok(fetchedFirst, 'the keys were fetched before the login was verified, not beside it')
  t.equal(claims.sub, 'alice')
  await refetched
  t.equal(jwksRequests, before + 1, 'once')
})

t.test("openid-client checks the ID token's times on the client's clock", async (t) => {
  const later = client(t)
  later.advance(JWKS_STALE_MAX_MS)
  const expired = await login(later).then(() => undefined, (err: unknown) => err)
  t.match(expired, { code: 'LOGIN_FAILED', message: /JWT timestamp claim value failed validation/ }, 'a token the IdP issued a day earlier is refused')
  t.match((expired as Error | undefined)?.cause, { cause: { message: /"exp" \(expiration time\) claim value, expiration is past/ } }, 'as expired')
  const earlier = client(t)
  earlier.advance(-3600_000)
  await t.rejects(login(earlier), { code: 'LOGIN_FAILED', message: /the ID token was issued 3[56]\d\d s in the future/ }, 'a token from an hour ahead is refused')
})

t.test('the jwks_uri is back: it is fetched again and no warning follows', async (t) => {
  const c = await withKeys(t)
  c.advance(REFRESH_MS)
  fault = 'error'
  const failed = c.nextFetch()
  await login(c)
  t.match(await failed, { stale: /Expected 200 OK/ })
  fault = undefined
  c.advance(RETRY_MS)
  const before = jwksRequests
  const back = c.nextFetch()
  t.equal((await login(c)).claims.sub, 'alice')
  t.same(await back, { keys: 1 }, 'refetched, and the refetch worked')
  t.equal(jwksRequests, before + 1)
  t.equal(c.warnings.length, 1, 'no new warning')
})

t.test('through the whole sidecar: a failed refetch is one idp_keys_stale line and one count, and the login goes on', async (t) => {
  let clock = Date.now()
  const stack = await startStack({ app: { oidc: { now: () => clock } }, env: { OIDC_JWKS_REFRESH_SECONDS: String(REFRESH_MS / 1000) } })
  t.teardown(() => stack.close())
  t.ok((await signIn(stack, new Browser(), '/MyRoom', 'alice')).jwt, 'keys fetched with the first login')
  stack.idp.onRequest = (req, res) => {
    if (!(req.url ?? '').startsWith('/jwks')) return false
    res.writeHead(503).end('down')
    return true
  }
  clock += REFRESH_MS + 1000
  const later = await signIn(stack, new Browser(), '/MyRoom', 'alice')
  t.ok(later.jwt, 'the login goes on with the keys fetched before')
  t.ok(await eventually(() => stack.logs.some((l) => l.includes('"event":"idp_keys_stale"'))), 'logged')
  // Another login within the retry pause: no second refetch, so no second line or count.
  t.ok((await signIn(stack, new Browser(), '/MyRoom', 'alice')).jwt, 'logins go on')
  t.equal(stack.logs.filter((l) => l.includes('"event":"idp_keys_stale"')).length, 1, 'once')
  t.equal((await stack.app.metrics.staleKeys.get()).values[0]?.value, 1, 'counted once')
})
