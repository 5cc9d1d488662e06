/**
 * The sign-in flow end to end against a real oidc-provider, a real upstream
 * and the sidecar on loopback, driven like a browser with a cookie jar.
 */
import t from 'tap'
import { decodeProtectedHeader } from 'jose'
import { KeyStore } from '../../src/token/keys.js'
import { TokenSigner } from '../../src/token/sign.js'
import { Browser } from '../fixtures/client.js'
import { rawRequest } from '../fixtures/raw.js'
import { jwtOf, signIn, verify } from '../fixtures/signin.js'
import { APP_SECRET, COOKIE_SECRET, CLIENT_SECRET, startStack, type Stack } from '../fixtures/stack.js'

/** Everything secret that went over the wire in a login: none of it may be logged. */
function secretsIn(values: (string | undefined)[]): string[] {
  return values.filter((v): v is string => typeof v === 'string' && v.length >= 8)
}

let stack: Stack
t.before(async () => {
  stack = await startStack()
})
t.teardown(() => stack.close())

t.test('an allowed account signs in and lands in the room with a valid token', async (t) => {
  const b = new Browser()
  const start = await b.fetch(`${stack.url}/MyRoom?lang=de&jwt=not-a-token`)
  t.equal(start.status, 302)
  const auth = new URL(start.location!)
  t.equal(auth.origin, stack.idp.issuer)
  t.equal(auth.searchParams.get('code_challenge_method'), 'S256')
  t.equal(auth.searchParams.get('redirect_uri'), `${stack.url}/jitsi/callback`)
  t.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'), 'state and nonce')
  t.match(start.setCookies.join('\n'), /jos_tx_[\w-]+=.+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax/)

  const callback = await b.signInAtIdp(start.location!, 'alice')
  const cb = new URL(callback)
  t.equal(cb.searchParams.get('iss'), stack.idp.issuer, 'RFC 9207 iss in the response')
  const done = await b.fetch(callback)
  t.equal(done.status, 302)
  const target = new URL(done.location!)
  t.equal(target.origin, stack.url)
  t.equal(target.pathname, '/MyRoom')
  t.equal(target.searchParams.get('lang'), 'de', 'other query parameters kept')
  t.equal(target.searchParams.getAll('jwt').length, 1, 'the old jwt parameter was replaced')
  t.equal(done.headers['referrer-policy'], 'no-referrer')
  t.match(done.setCookies.join('\n'), /jos_session=.+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Lax/)
  t.match(done.setCookies.join('\n'), /jos_tx_[\w-]+=; Max-Age=0/, 'transaction cleared')

  const token = jwtOf(done.location)
  t.same(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' })
  const claims = await verify(token)
  t.match(claims, { iss: 'test-app', aud: 'test-app', sub: '*', room: 'myroom', context: { user: { id: 'alice', name: 'Alice Example', email: 'alice@example.org' } } })
  const now = Math.floor(Date.now() / 1000)
  t.ok((claims.nbf as number) < now && (claims.nbf as number) >= now - 40, 'nbf a little in the past')
  t.ok((claims.exp as number) > now + 290 && (claims.exp as number) <= now + 301, 'exp after JWT_TTL_SECONDS')

  const room = await b.fetch(done.location!)
  t.equal(room.status, 200, 'a valid token passes through to jitsi-web')
  t.equal(room.headers['x-upstream'], 'yes')

  t.test('session reuse: another room gets a token straight away, without the IdP', async (t) => {
    const again = await b.fetch(`${stack.url}/acme/Other%20Room`)
    t.equal(again.status, 302)
    t.equal(new URL(again.location!).origin, stack.url)
    t.equal(new URL(again.location!).pathname, '/acme/Other%20Room')
    t.match(await verify(jwtOf(again.location)), { room: 'other%20room', context: { user: { id: 'alice' } } })
  })

  t.test("TOKEN_AUTH_URL entry with a session goes straight to the room", async (t) => {
    const r = await b.fetch(`${stack.url}/jitsi/login?room=${encodeURIComponent('Täst Raum')}`)
    t.equal(r.status, 302)
    t.equal(r.location, `${stack.url}/T%C3%A4st%20Raum?jwt=${jwtOf(r.location)}`)
    t.equal((await verify(jwtOf(r.location))).room, 't%c3%a4st%20raum')
  })

  t.test('a token of ours that expired, or was for another room, is replaced', async (t) => {
    const signer = new TokenSigner(await KeyStore.load(stack.config.auth!.jwt), stack.config.auth!.jwt)
    const who = { user: { id: 'alice' }, moderator: false, features: {} }
    const old = await signer.mint(who, 'MyRoom', undefined, Date.now() - 3_600_000)
    const r1 = await b.fetch(`${stack.url}/MyRoom?jwt=${old}`)
    t.equal(r1.status, 302)
    t.not(jwtOf(r1.location), old)
    const other = await signer.mint(who, 'OtherRoom', undefined)
    const r2 = await b.fetch(`${stack.url}/MyRoom?jwt=${other}`)
    t.equal(r2.status, 302)
    t.equal((await verify(jwtOf(r2.location))).room, 'myroom')
  })

  t.test('two jwt parameters: neither is trusted, one fresh token replaces both', async (t) => {
    const r = await b.fetch(`${stack.url}/MyRoom?jwt=${token}&a=1&jwt=${token}`)
    t.equal(r.status, 302)
    t.equal(new URL(r.location!).searchParams.getAll('jwt').length, 1)
    t.equal(new URL(r.location!).searchParams.get('a'), '1')
  })

  t.test('nothing secret reached the log', async (t) => {
    const logs = stack.logs.join('\n')
    const session = b.cookies(stack.url).get('jos_session')
    const bad = secretsIn([token, session, cb.searchParams.get('code') ?? undefined, cb.searchParams.get('state') ?? undefined, APP_SECRET, COOKIE_SECRET, CLIENT_SECRET, auth.searchParams.get('nonce') ?? undefined])
    t.ok(bad.length >= 7)
    for (const s of bad) t.notOk(logs.includes(s), `log does not contain ${s.slice(0, 6)}…`)
    t.match(logs, /"event":"login_succeeded".*"user":"alice"/)
  })
})

t.test('a denied account gets the 403 page and no token or session', async (t) => {
  const b = new Browser()
  const { done, jwt } = await signIn(stack, b, '/MyRoom', 'bob')
  t.equal(done.status, 403)
  t.equal(jwt, undefined)
  t.match(done.body, /not allowed to use this video conference service/)
  t.match(done.headers['content-type'], /text\/html/)
  t.notMatch(done.setCookies.join('\n'), /jos_session=[^;]/)
  t.notMatch(done.body, /jwt|eyJ/)
  t.match(stack.logs.join('\n'), /"event":"login_denied".*"user":"bob".*"ruleResult":false/)
  const again = await b.fetch(`${stack.url}/MyRoom`)
  t.equal(new URL(again.location!).origin, stack.idp.issuer, 'still no session')
})

t.test('parallel logins in two tabs both land in their rooms', async (t) => {
  const b = new Browser()
  const a = await b.fetch(`${stack.url}/RoomA`)
  const c = await b.fetch(`${stack.url}/RoomB?x=1`)
  t.equal(b.cookies(stack.url).size >= 2, true)
  const cbA = await b.signInAtIdp(a.location!, 'alice')
  // The IdP has a session now: tab B goes straight back to the callback.
  const cbB = (await b.follow(c.location!, (u) => u.includes('/callback?'))).url
  const doneB = await b.fetch(cbB)
  const doneA = await b.fetch(cbA)
  t.equal(doneA.status, 302)
  t.equal(doneB.status, 302)
  t.equal(new URL(doneA.location!).pathname, '/RoomA')
  t.equal(new URL(doneB.location!).search.startsWith('?x=1&jwt='), true)
  t.equal((await verify(jwtOf(doneA.location))).room, 'rooma')
  t.equal((await verify(jwtOf(doneB.location))).room, 'roomb')
})

t.test('a code survives thousands of IdP records written before its exchange (the demo IdP keeps its own store)', async (t) => {
  const b = new Browser()
  const callback = await b.signInAtIdp((await b.fetch(`${stack.url}/BusyRoom`)).location!, 'alice')
  // oidc-provider's default store drops records after 1,000 to 2,000 writes: about 200 sign-ins at once.
  const { Grant } = stack.idp.provider
  for (let i = 0; i < 2500; i++) await new Grant({ clientId: 'jitsi-test', accountId: 'carol' }).save()
  const done = await b.fetch(callback)
  t.equal(done.status, 302, 'the code is still there')
  t.equal((await verify(jwtOf(done.location))).room, 'busyroom')
})

t.test('TOKEN_AUTH_URL entry without a session signs in and returns to the named room', async (t) => {
  const { start, done } = await signIn(stack, new Browser(), '/jitsi/login?room=Caf%C3%A9')
  t.equal(new URL(start.location!).origin, stack.idp.issuer)
  t.equal(new URL(done.location!).pathname, '/Caf%C3%A9')
  t.equal((await verify(jwtOf(done.location))).room, 'caf%c3%a9')
})

t.test('bad input gets a clear page, no token, no crash', async (t) => {
  const b = new Browser()
  const expectPage = async (url: string, status: number, text: RegExp, init?: Parameters<Browser['fetch']>[1]) => {
    const r = await b.fetch(url, init)
    t.equal(r.status, status, `${url} → ${status}`)
    t.match(r.body, text, url)
    t.notMatch(r.body, /eyJ|stack|at .*\.js/, 'no token or stack trace')
    t.equal(r.headers['content-security-policy']?.toString().includes("default-src 'none'"), true)
    return r
  }
  await expectPage(`${stack.url}/jitsi/callback`, 400, /Sign-in expired/)
  await expectPage(`${stack.url}/jitsi/callback?code=abc&state=unknown`, 400, /Sign-in expired/)
  await expectPage(`${stack.url}/jitsi/callback?state=${'x'.repeat(300)}`, 400, /Sign-in expired/)
  await expectPage(`${stack.url}/jitsi/callback?code=abc&state=s`, 405, /Not allowed/, { method: 'POST' })
  await expectPage(`${stack.url}/jitsi/login`, 400, /not a valid meeting link/)
  await expectPage(`${stack.url}/jitsi/login?room=a%2Fb`, 400, /not a valid meeting link/)
  await expectPage(`${stack.url}/jitsi/login?room=${encodeURIComponent('//evil.example')}`, 400, /not a valid meeting link/)
  await expectPage(`${stack.url}/jitsi/login?room=ok&tenant=${encodeURIComponent('a/b')}`, 400, /not a valid meeting link/)
  const r405 = await expectPage(`${stack.url}/jitsi/login?room=x`, 405, /Not allowed/, { method: 'DELETE' })
  t.equal(r405.headers.allow, 'GET, HEAD')
  await expectPage(`${stack.url}/jitsi/nothing-here`, 404, /Not found/)
  await expectPage(`${stack.url}/MyRoom?${'a=1&'.repeat(600)}`, 414, /too long/)

  t.test('a room link whose login transaction would not fit in a cookie gets 414', async (t) => {
    // Quotes double in the transaction's JSON: short enough as a URL, too big as a cookie.
    const r = await rawRequest(Number(new URL(stack.url).port), `GET /MyRoom?q=${'"'.repeat(1900)} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n`, { untilClose: true })
    t.match(r.text, /^HTTP\/1\.1 414 /)
    t.equal(r.responses.length, 1)
    t.match(r.body, /too long/)
  })

  t.test('tampered transaction cookie: the sign-in starts again for the same room, once', async (t) => {
    const b2 = new Browser()
    const start = await b2.fetch(`${stack.url}/MyRoom?lang=de`)
    const callback = await b2.signInAtIdp(start.location!, 'alice')
    const jar = b2.cookies(stack.url)
    for (const [k, v] of jar) if (k.startsWith('jos_tx_')) jar.set(k, v.slice(0, -4) + 'AAAA')
    const r = await b2.fetch(callback)
    t.equal(r.status, 302, 'no error page: a new login')
    t.ok(r.location!.startsWith(`${stack.idp.issuer}/auth?`), 'to the IdP again')
    t.notMatch(r.setCookies.join('\n'), /jos_session=[^;]/, 'no session from a transaction that did not open')
    t.match(stack.logs.join('\n'), /"event":"login_started","room":"MyRoom".*"restarted":true/)
    // The IdP still knows alice: straight back, and into the room.
    const back = await b2.follow(r.location!, (u) => u.startsWith(stack.url) && !u.includes('/jitsi/'))
    t.match(back.url, new RegExp(`^${stack.url}/MyRoom\\?jwt=`), 'in the room with a token')
  })

  t.test('a callback opened again (Back, reload): with the session, on to the room; without, a new sign-in', async (t) => {
    const b3 = new Browser()
    const start = await b3.fetch(`${stack.url}/MyRoom`)
    const callback = await b3.signInAtIdp(start.location!, 'alice')
    const kept = new Map(b3.cookies(stack.url))
    t.equal((await b3.fetch(callback)).status, 302)
    const again = await b3.fetch(callback)
    t.equal(again.status, 302, 'second hit: no error page')
    t.match(again.location!, new RegExp(`^${stack.url}/MyRoom\\?jwt=`), 'the session takes the person to the room')
    t.match(stack.logs.join('\n'), /"event":"callback_repeated"/)
    // The code itself is never exchanged twice: a browser holding the spent transaction cookie.
    const attacker = new Browser()
    for (const [k, v] of kept) attacker.cookies(stack.url).set(k, v)
    const replay = await attacker.fetch(callback)
    t.equal(replay.status, 400, 'the IdP refuses a used code')
    t.match(replay.body, /Sign-in failed/)
    t.match(replay.body, /href="http:\/\/127\.0\.0\.1:\d+\/MyRoom">Try again/, 'the retry leads to the room')
    t.notMatch(replay.setCookies.join('\n'), /jos_session=[^;]/)
  })

  t.test('login CSRF: a callback without this browser’s transaction cookie never signs it in', async (t) => {
    const victim = new Browser()
    const attacker = new Browser()
    const start = await attacker.fetch(`${stack.url}/MyRoom`)
    const callback = await attacker.signInAtIdp(start.location!, 'alice')
    const r = await victim.fetch(callback)
    t.equal(r.status, 302, 'a new sign-in of the victim\'s own, for the room the link named')
    t.ok(r.location!.startsWith(`${stack.idp.issuer}/auth?`))
    t.not(new URL(r.location!).searchParams.get('state'), new URL(callback).searchParams.get('state'), 'with a state of its own')
    t.equal(victim.cookies(stack.url).has('jos_session'), false, 'the attacker\'s code was not used')
    t.notOk(stack.logs.join('\n').includes(new URL(callback).searchParams.get('code')!), 'the code is not logged')
  })

  t.test('a restarted sign-in that loses its transaction again (cookies blocked): the page, its button to the room', async (t) => {
    const b = new Browser()
    const start = await b.fetch(`${stack.url}/Room2`)
    const callback = await b.signInAtIdp(start.location!, 'alice')
    // The IdP shares the host (and so the jar) here: only the sidecar's cookies go.
    const dropOurs = () => { for (const k of [...b.cookies(stack.url).keys()]) if (k.startsWith('jos_')) b.cookies(stack.url).delete(k) }
    dropOurs()
    const restarted = await b.fetch(callback)
    const callback2 = (await b.follow(restarted.location!, (u) => u.includes('/jitsi/callback?'))).url
    dropOurs()
    const r = await b.fetch(callback2)
    t.equal(r.status, 400)
    t.match(r.body, /Sign-in expired/)
    t.match(r.body, /cookies/, 'the page names the likely cause')
    t.match(r.body, /href="http:\/\/127\.0\.0\.1:\d+\/Room2">Try again/, 'Try again leads to the room')
    t.match(stack.logs.join('\n'), /"code":"LOGIN_STATE_INVALID".*again after a restart: are cookies blocked\?/)
  })

  t.test('an IdP error for a sign-in whose transaction is gone: the page, not a new round trip, Try again to the room', async (t) => {
    const b = new Browser()
    const start = await b.fetch(`${stack.url}/ErrRoom`)
    const state = new URL(start.location!).searchParams.get('state')!
    for (const k of [...b.cookies(stack.url).keys()]) if (k.startsWith('jos_tx_')) b.cookies(stack.url).delete(k)
    const r = await b.fetch(`${stack.url}/jitsi/callback?error=access_denied&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(stack.idp.issuer)}`)
    t.equal(r.status, 400, 'no restart: the IdP already said no')
    t.match(r.body, /Sign-in expired/)
    t.match(r.body, /href="http:\/\/127\.0\.0\.1:\d+\/ErrRoom">Try again/)
  })

  t.test('a state that is not ours: the plain page, its button to the start page', async (t) => {
    const r = await new Browser().fetch(`${stack.url}/jitsi/callback?code=x&state=forged-state&iss=${encodeURIComponent(stack.idp.issuer)}`)
    t.equal(r.status, 400)
    t.match(r.body, /href="http:\/\/127\.0\.0\.1:\d+\/">Try again/)
  })

  t.test('IdP error responses', async (t) => {
    const b4 = new Browser()
    const start = await b4.fetch(`${stack.url}/MyRoom`)
    const state = new URL(start.location!).searchParams.get('state')!
    const r = await b4.fetch(`${stack.url}/jitsi/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(stack.idp.issuer)}`)
    t.equal(r.status, 403)
    t.match(r.body, /cancelled or refused/)
    t.match(r.body, /href="http:\/\/127\.0\.0\.1:\d+\/MyRoom">Try again/)
    const start2 = await b4.fetch(`${stack.url}/MyRoom`)
    const state2 = new URL(start2.location!).searchParams.get('state')!
    const r2 = await b4.fetch(`${stack.url}/jitsi/callback?error=server_error&error_description=%3Cscript%3E&state=${state2}&iss=${encodeURIComponent(stack.idp.issuer)}`)
    t.equal(r2.status, 400)
    t.notMatch(r2.body, /<script>/)
  })

  t.test('mix-up: an iss value from another issuer', async (t) => {
    const b5 = new Browser()
    const start = await b5.fetch(`${stack.url}/MyRoom`)
    const callback = new URL(await b5.signInAtIdp(start.location!, 'alice'))
    callback.searchParams.set('iss', 'https://evil.example')
    const r = await b5.fetch(callback.href)
    t.equal(r.status, 400)
    t.match(r.body, /Sign-in failed/)
  })

  t.test('forged or stale session cookie: a new login starts and the cookie is cleared', async (t) => {
    const b6 = new Browser()
    b6.cookies(stack.url).set('jos_session', 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC')
    const r = await b6.fetch(`${stack.url}/MyRoom`)
    t.equal(new URL(r.location!).origin, stack.idp.issuer)
    t.match(r.setCookies.join('\n'), /jos_session=; Max-Age=0/)
  })

  t.test('old transactions are pruned: at most 5 per browser', async (t) => {
    const b7 = new Browser()
    for (let i = 0; i < 8; i++) await b7.fetch(`${stack.url}/Room${i}`)
    const tx = [...b7.cookies(stack.url).keys()].filter((k) => k.startsWith('jos_tx_'))
    t.ok(tx.length <= 5, `${tx.length} transaction cookies`)
  })

  t.test('garbage cookies do not break anything', async (t) => {
    const r = await b.fetch(`${stack.url}/MyRoom`, { headers: { cookie: `jos_tx_x=${'A'.repeat(5000)}; jos_session=%%%; ${Array.from({ length: 100 }, (_, i) => `c${i}=v`).join('; ')}` } })
    t.equal(r.status, 302)
  })

  t.equal((await b.fetch(`${stack.url}/config.js`)).status, 200, 'still serving')
})
