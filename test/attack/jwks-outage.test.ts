/**
 * The IdP's key set endpoint failing while the rest of the IdP works: the
 * real oidc-provider runs every login, and its /jwks answers are switched to
 * an error or to silence. Keys fetched before keep verifying (with a warning)
 * and no login waits for the refetch; the sidecar does not ask again at every
 * login while the endpoint is down; a kid those keys lack, or keys a day old,
 * still fail as the IdP's outage; once the endpoint is back it is fetched again.
 */
import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { startStack, type Stack } from '../fixtures/stack.js'

const REFRESH_SECONDS = 5
let fault: 'error' | 'hang' | 'reset' | undefined
let jwksRequests = 0
let stack: Stack
/** When set, the ID token is re-signed with this key under a new kid. */
let swapKey: CryptoKey | undefined

t.before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true })
  const jwk: JWK = { ...(await exportJWK(pair.privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' }
  stack = await startStack({ env: { OIDC_JWKS_REFRESH_SECONDS: String(REFRESH_SECONDS) }, idp: { extra: { jwks: { keys: [jwk] } } } })
  const server = stack.idp.server
  const [serve] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[]
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!(req.url ?? '').startsWith('/jwks')) return serve!(req, res)
    jwksRequests++
    if (fault === 'error') return res.writeHead(503).end('down')
    if (fault === 'hang') return // never answers: the sidecar's OIDC_TIMEOUT_SECONDS (2 s here) ends it
    if (fault === 'reset') return req.socket.destroy() // the connection drops: a network error, not an HTTP answer
    serve!(req, res)
  })
  rewriteIdpAnswers(stack.idp, '/token', async (body) => {
    if (swapKey && typeof body.id_token === 'string') body.id_token = await new SignJWT(decodeJwt(body.id_token)).setProtectedHeader({ alg: 'RS256', kid: 'rotated' }).sign(swapKey)
  })
})
t.teardown(() => stack.close())

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

async function login(t: Test, room = 'KeyRoom'): Promise<{ status: number; body: string; location?: string }> {
  const b = new Browser()
  const start = await b.fetch(`${stack.url}/${room}`)
  t.equal(start.status, 302, 'the login starts')
  const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
  return { status: done.status, body: done.body, location: done.location }
}

/** Until the keys fetched last are older than OIDC_JWKS_REFRESH_SECONDS, so the next login refetches. */
const letKeysAge = () => sleep(REFRESH_SECONDS * 1000 + 200)

const staleWarnings = () => stack.logs.filter((l) => l.includes('"event":"idp_keys_stale"'))

/** Waits (up to 10 s) until `check` holds: for what the sidecar does in the background of a login. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(20)) if (check()) return true
  return check()
}

t.test('a first login fetches the key set', async (t) => {
  const r = await login(t)
  t.equal(r.status, 302)
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.ok(jwksRequests >= 1, 'the jwks_uri was fetched')
})

t.test('the key set is older than the refresh time: the login is verified at once, the set refetched beside it', async (t) => {
  await letKeysAge()
  const before = jwksRequests
  const r = await login(t)
  t.equal(r.status, 302)
  t.ok(await eventually(() => jwksRequests === before + 1), 'refetched once')
  t.same(staleWarnings(), [], 'no warning: the refetch worked')
})

t.test('the jwks_uri fails after the keys were fetched: the earlier keys verify, with one warning', async (t) => {
  await letKeysAge()
  fault = 'error'
  const before = jwksRequests
  const started = Date.now()
  const r = await login(t)
  t.equal(r.status, 302, 'signed in, not 503')
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.ok(await eventually(() => staleWarnings().length === 1), 'the operator is told')
  t.equal(jwksRequests, before + 1, 'one refetch was tried')
  const warning = staleWarnings()[0]
  t.match(warning, /"level":"warn"/)
  t.match(warning, /Expected 200 OK/, 'with the reason')
  t.notMatch(stack.logs.join('\n'), /eyJ/, 'no token in the log')
  t.match(await stack.app.metrics.registry.metrics(), /^jos_idp_keys_stale_total 1$/m, 'and counted for alerts')

  const again = await login(t)
  t.equal(again.status, 302, 'the next login signs in too')
  // The next try comes after min(30 s, OIDC_JWKS_REFRESH_SECONDS): only checkable if this login was quicker.
  if (Date.now() - started < REFRESH_SECONDS * 1000) {
    t.equal(jwksRequests, before + 1, 'without asking the failing endpoint again at once')
    t.equal(staleWarnings().length, 1, 'and without another warning')
  } else t.comment('the second login took longer than the retry time: no check of the retry pause')
})

t.test('a kid the earlier keys lack, while the jwks_uri fails: the IdP is unavailable (503), no token', async (t) => {
  fault = 'error'
  // The token endpoint answers with an ID token signed by a key the sidecar has never been shown.
  swapKey = (await generateKeyPair('RS256')).privateKey
  const before = jwksRequests
  const r = await login(t)
  swapKey = undefined
  t.equal(r.status, 503)
  t.match(r.body, /cannot be reached/)
  t.equal(r.location, undefined, 'no redirect, no token')
  t.ok(jwksRequests > before, 'the unknown kid made the sidecar ask the IdP')
})

t.test('a hanging jwks_uri: the login does not wait for it', async (t) => {
  fault = undefined
  await letKeysAge()
  fault = 'hang'
  const warned = staleWarnings().length
  const r = await login(t)
  t.equal(r.status, 302)
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.equal(staleWarnings().length, warned, 'signed in before the refetch gave up (OIDC_TIMEOUT_SECONDS, 2 s)')
  t.ok(await eventually(() => staleWarnings().length === warned + 1), 'then the warning')
  t.match(staleWarnings().at(-1), /ERR_JWKS_TIMEOUT|did not answer/)
})

t.test('a jwks_uri whose connection drops: the earlier keys verify, and the warning says the IdP is unreachable', async (t) => {
  fault = undefined
  await letKeysAge()
  fault = 'reset'
  const warned = staleWarnings().length
  const r = await login(t)
  t.equal(r.status, 302)
  t.ok(await eventually(() => staleWarnings().length === warned + 1), 'the warning')
  t.match(staleWarnings().at(-1), /ID token keys: identity provider unreachable/)
})

t.test('keys fetched more than a day ago are not used while the jwks_uri fails: 503', async (t) => {
  fault = 'error'
  // The whole stack runs in this process: a day later for the sidecar, the IdP and the browser alike.
  const realNow = Date.now
  Date.now = () => realNow() + 25 * 3600_000
  t.teardown(() => {
    Date.now = realNow
  })
  const r = await login(t)
  t.equal(r.status, 503)
  t.equal(r.location, undefined, 'no token')
})

t.test('the jwks_uri is back: it is fetched again and no warning follows', async (t) => {
  fault = undefined
  await letKeysAge()
  const before = jwksRequests
  const warned = staleWarnings().length
  const r = await login(t)
  t.equal(r.status, 302)
  t.ok(await eventually(() => jwksRequests === before + 1), 'refetched')
  await sleep(100)
  t.equal(staleWarnings().length, warned, 'no new warning')
})
