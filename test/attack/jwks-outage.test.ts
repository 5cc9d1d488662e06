/**
 * The IdP's key set endpoint failing while the rest of the IdP works: the
 * real oidc-provider runs every login, and its /jwks answers are switched to
 * an error or to silence. Keys fetched before keep verifying (with a warning),
 * the sidecar does not ask again at every login while the endpoint is down,
 * a kid those keys lack still fails as the IdP's outage, and once the
 * endpoint is back it is fetched again.
 */
import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { startStack, type Stack } from '../fixtures/stack.js'

const REFRESH_SECONDS = 3
let fault: 'error' | 'hang' | undefined
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

t.test('a first login fetches the key set', async (t) => {
  const r = await login(t)
  t.equal(r.status, 302)
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.ok(jwksRequests >= 1, 'the jwks_uri was fetched')
})

t.test('the jwks_uri fails after the keys were fetched: the earlier keys verify, with one warning', async (t) => {
  await letKeysAge()
  fault = 'error'
  const before = jwksRequests
  const r = await login(t)
  t.equal(r.status, 302, 'signed in, not 503')
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.equal(jwksRequests, before + 1, 'one refetch was tried')
  const warnings = staleWarnings()
  t.equal(warnings.length, 1, 'the operator is told')
  t.match(warnings[0], /"level":"warn"/)
  t.match(warnings[0], /Expected 200 OK/, 'with the reason')
  t.notMatch(stack.logs.join('\n'), /eyJ/, 'no token in the log')

  const again = await login(t)
  t.equal(again.status, 302, 'the next login signs in too')
  t.equal(jwksRequests, before + 1, 'without asking the failing endpoint again at once')
  t.equal(staleWarnings().length, 1, 'and without another warning')
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
  t.ok(jwksRequests > before, 'the unknown kid made the sidecar ask the IdP again, stale window or not')
})

t.test('a hanging jwks_uri: the earlier keys verify once the refetch times out', async (t) => {
  fault = undefined
  await letKeysAge()
  fault = 'hang'
  const r = await login(t)
  t.equal(r.status, 302)
  t.match(r.location, /\/KeyRoom\?jwt=/)
  t.match(staleWarnings().at(-1), /ERR_JWKS_TIMEOUT|did not answer/)
})

t.test('the jwks_uri is back: it is fetched again and no warning follows', async (t) => {
  fault = undefined
  await letKeysAge()
  const before = jwksRequests
  const warned = staleWarnings().length
  const r = await login(t)
  t.equal(r.status, 302)
  t.equal(jwksRequests, before + 1, 'refetched')
  t.equal(staleWarnings().length, warned, 'no new warning')
})
