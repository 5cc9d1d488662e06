/**
 * A hostile token endpoint: the real oidc-provider runs the whole login, and
 * a middleware on its /token answer swaps the ID token for a crafted
 * one (re-signed with the IdP's own key, so only the crafted claim is wrong).
 * Each crafted token must end in the sign-in-failed page, with no Jitsi token
 * and no session; an untouched re-signed token must still work, so the
 * machinery itself is proven able to pass.
 */
import t from 'tap'
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { CLIENT_SECRET, startStack, type Stack } from '../fixtures/stack.js'

type Craft = (payload: JWTPayload, header: { alg: string; kid?: string }) => Promise<string>

let craft: Craft | undefined
/** How the IdP's key set endpoint misbehaves, if at all. */
let jwksFault: 'error' | 'hang' | undefined
let stack: Stack
let idpKey: CryptoKey
let otherKey: CryptoKey
const KID = 'idp-key-1'

t.before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true })
  idpKey = pair.privateKey
  otherKey = (await generateKeyPair('RS256')).privateKey
  const jwk: JWK = { ...(await exportJWK(pair.privateKey)), kid: KID, alg: 'RS256', use: 'sig' }
  stack = await startStack({ idp: { extra: { jwks: { keys: [jwk] } } } })
  rewriteIdpAnswers(stack.idp, '/token', async (body) => {
    if (craft && typeof body.id_token === 'string') body.id_token = await craft(decodeJwt(body.id_token), decodeProtectedHeader(body.id_token) as { alg: string; kid?: string })
  })
  stack.idp.onRequest = (req, res) => {
    if (!jwksFault || !(req.url ?? '').startsWith('/jwks')) return false
    if (jwksFault === 'error') res.writeHead(500).end('down')
    // 'hang': never answers
    return true
  }
})
t.teardown(() => stack.close())
t.afterEach(() => {
  craft = undefined
  jwksFault = undefined
})

const sign = (payload: JWTPayload, key: CryptoKey = idpKey, kid = KID) => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(key)
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

async function loginWith(t: Test, crafted: Craft | undefined): Promise<{ status: number; body: string; location?: string; cookies: string[]; jar: string[] }> {
  const b = new Browser()
  const start = await b.fetch(`${stack.url}/CraftedRoom`)
  t.equal(start.status, 302, 'the login starts')
  const callback = await b.signInAtIdp(start.location!, 'alice')
  craft = crafted
  const done = await b.fetch(callback)
  craft = undefined
  return { status: done.status, body: done.body, location: done.location, cookies: done.setCookies, jar: [...b.cookies(stack.url).keys()] }
}

t.test('control: the same ID token, re-signed with the IdP key, still signs in', async (t) => {
  const r = await loginWith(t, (p) => sign(p))
  t.equal(r.status, 302)
  t.match(r.location, /\/CraftedRoom\?jwt=/)
  t.ok(r.jar.includes('jos_session'), 'session set')
})

t.test('an IdP clock a few seconds ahead (nbf and iat in our future) still signs in', async (t) => {
  const r = await loginWith(t, (p) => sign({ ...p, iat: now() + 5, nbf: now() + 5, exp: now() + 3600 }))
  t.equal(r.status, 302)
  t.match(r.location, /\/CraftedRoom\?jwt=/)
})

const CASES: [string, Craft][] = [
  ['another issuer', (p) => sign({ ...p, iss: 'https://evil.example' })],
  ['another audience', (p) => sign({ ...p, aud: 'someone-else' })],
  ['another audience alongside ours, no azp', (p) => sign({ ...p, aud: [String(p.aud), 'someone-else'], azp: undefined })],
  ['expired', (p) => sign({ ...p, iat: now() - 7200, exp: now() - 3600 })],
  ['issued in the future', (p) => sign({ ...p, iat: now() + 3600, exp: now() + 7200 })],
  ['nonce mismatch', (p) => sign({ ...p, nonce: 'not-the-nonce-we-sent' })],
  ['no nonce', (p) => sign({ ...p, nonce: undefined })],
  ['alg none', async (p) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(p)}.`],
  ['alg none with the kid kept', async (p, h) => `${b64({ alg: 'none', kid: h.kid })}.${b64(p)}.`],
  ['signed by a key the IdP never published (same kid)', (p) => sign(p, otherKey)],
  ['signed by an unknown kid', (p) => sign(p, otherKey, 'rogue')],
  ['signature bits flipped', async (p) => { const s = await sign(p); return s.slice(0, -4) + (s.endsWith('AAAA') ? 'BBBB' : 'AAAA') }],
  ['for another subject, signed by a key the IdP never published', (p) => sign({ ...p, sub: 'carol' }, otherKey)],
  ['not a JWT at all', async () => 'garbage'],
]

for (const [name, crafted] of CASES) {
  t.test(`ID token ${name}: sign-in failed page, no token, no session`, async (t) => {
    const before = stack.logs.length
    const r = await loginWith(t, crafted)
    t.equal(r.status, 400, 'a client error, the IdP itself is up')
    t.match(r.body, /Sign-in failed/)
    t.match(r.body, /Try again/)
    t.equal(r.location, undefined, 'no redirect')
    t.notMatch(r.body, /jwt=/)
    t.notOk(r.jar.includes('jos_session'), 'no session cookie')
    const lines = stack.logs.slice(before).join('\n')
    t.match(lines, /LOGIN_FAILED/, 'the operator sees why')
    t.notMatch(lines, /eyJ/, 'no token in the log')
  })
}

t.test('ID token HS256 with the client secret while the IdP offers RS256 only: no token, and the operator learns the algorithm', async (t) => {
  const before = stack.logs.length
  const r = await loginWith(t, async (p) => new SignJWT(p).setProtectedHeader({ alg: 'HS256', kid: KID }).sign(new TextEncoder().encode(CLIENT_SECRET)))
  t.equal(r.status, 502)
  t.match(r.body, /not set up correctly/)
  t.match(r.body, /ID token algorithm HS256; expected RS256/)
  t.equal(r.location, undefined, 'no redirect')
  t.notOk(r.jar.includes('jos_session'), 'no session cookie')
  t.match(stack.logs.slice(before).join('\n'), /IDP_MISCONFIGURED.*signed the ID token with HS256/)
})

t.test('a new kid while the key set endpoint fails: the IdP is unavailable (503), no token', async (t) => {
  jwksFault = 'error'
  const r = await loginWith(t, (p) => sign(p, otherKey, 'rotated-1'))
  t.equal(r.status, 503)
  t.match(r.body, /cannot be reached/)
  t.notOk(r.jar.includes('jos_session'), 'no session cookie')
})

t.test('a new kid while the key set endpoint hangs: 504 within the timeout, no token', async (t) => {
  jwksFault = 'hang'
  const started = Date.now()
  const r = await loginWith(t, (p) => sign(p, otherKey, 'rotated-2'))
  t.equal(r.status, 504)
  t.match(r.body, /did not answer in time/)
  t.ok(Date.now() - started < 8000, 'bounded by OIDC_TIMEOUT_SECONDS (2 s) plus the 1 s refetch cooldown')
  t.notOk(r.jar.includes('jos_session'), 'no session cookie')
})
