/**
 * Jitsi's inline sign-in (tokenAuthInline): TOKEN_AUTH_URL opened in a popup with `&nonce=` ends on
 * the page that posts a fresh token to the opener, at once with a session, after the IdP without.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { Browser } from '../fixtures/client.js'
import { signIn, verify } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'
import { renderTokenPage } from '../../src/pages/post-message.js'

/** The values the page hands its script. */
function posted(body: string): { origin: string; token: string; room: string } {
  const m = /<script type="application\/json" id="jos-token">([^<]*)<\/script>/.exec(body)
  if (!m) throw new Error(`no token block in ${body.slice(0, 200)}`)
  return JSON.parse(m[1]!) as { origin: string; token: string; room: string }
}

t.test('the popup gets the token page: at once with a session, after the IdP without', async (t) => {
  const s = await startStack()
  t.teardown(() => s.close())
  const b = new Browser()
  const nonce = 'a'.repeat(64)
  const start = await b.fetch(`${s.url}/jitsi/login?room=MyRoom&nonce=${nonce}`)
  t.equal(start.status, 302)
  t.ok(start.location?.startsWith(s.idp.issuer), 'no session: to the IdP')
  const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
  t.equal(done.status, 200, 'the callback ends on the page, not a redirect')
  t.ok(done.setCookies.some((c) => c.startsWith('jos_session=')), 'with the session cookie')
  const first = posted(done.body)
  t.equal(first.origin, s.url, 'posted to PUBLIC_URL\'s origin only')
  t.equal((await verify(first.token)).room, 'myroom')
  t.equal(first.room, `${s.url}/MyRoom?jwt=${first.token}`, 'without a popup: on to the room')

  const again = await b.fetch(`${s.url}/jitsi/login?room=MyRoom&nonce=${nonce}`)
  t.equal(again.status, 200, 'with a session: the page at once, no IdP')
  const second = posted(again.body)
  t.equal((await verify(second.token)).room, 'myroom')
  const csp = String(again.headers['content-security-policy'])
  const script = /<script>([^<]*)<\/script>/.exec(again.body)![1]!
  t.ok(csp.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`), 'the one script, allowed by its hash')
  t.match(csp, /default-src 'none'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(again.headers['cache-control'], 'no-store')
  t.equal(again.headers['referrer-policy'], 'no-referrer')
  t.match(script, /postMessage\(\{type:'oauth-success',accessToken:d\.token\},d\.origin\)/, 'Jitsi\'s message, to the exact origin')

  const head = await b.fetch(`${s.url}/jitsi/login?room=MyRoom&nonce=${nonce}`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.body, '')
  const plain = await b.fetch(`${s.url}/jitsi/login?room=MyRoom`)
  t.equal(plain.status, 302, 'without nonce: the redirect into the room, as before')
  t.match(plain.location, `${s.url}/MyRoom?jwt=`)
  t.notOk(s.logs.some((l) => l.includes(first.token) || l.includes(second.token)), 'no token in the logs')
})

t.test('the page carries nothing that can end its script block', async (t) => {
  const page = renderTokenPage('https://meet.example.com', 'a</script><script>alert(1)</script>', 'https://meet.example.com/R?jwt=x\u2028')
  t.notMatch(page, /a<\/script>/)
  t.equal(page.match(/<script/g)?.length, 2)
  t.same(posted(page).token, 'a</script><script>alert(1)</script>')
})

t.test('a signed-in session through the fixture works the same', async (t) => {
  const s = await startStack()
  t.teardown(() => s.close())
  const b = new Browser()
  await signIn(s, b, '/MyRoom')
  const r = await b.fetch(`${s.url}/jitsi/login?state=${encodeURIComponent(JSON.stringify({ room: 'Team', tenant: 'acme' }))}&nonce=n`)
  t.equal(r.status, 200)
  const p = posted(r.body)
  t.equal((await verify(p.token)).room, 'team')
  t.equal(p.room, `${s.url}/acme/Team?jwt=${p.token}`, 'the tenant from Jitsi\'s {state}')
})

t.test('silent sign-out: Jitsi\'s tokenLogoutUrl in a hidden iframe of its own origin, and nobody else\'s', async (t) => {
  const s = await startStack()
  t.teardown(() => s.close())
  const b = new Browser()
  await signIn(s, b, '/MyRoom')
  const framed = (site: string) => ({ headers: { 'sec-fetch-dest': 'iframe', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': site } })

  const elsewhere = await b.fetch(`${s.url}/jitsi/logout`, framed('cross-site'))
  t.not(elsewhere.status, 302)
  t.notMatch(String(elsewhere.headers['content-security-policy']), /frame-ancestors 'self'/, 'another site\'s frame shows nothing of ours')
  t.equal(elsewhere.headers['x-frame-options'], 'DENY')
  t.equal(b.cookies(s.url).has('jos_session'), true, 'and signs nobody out')

  const out = await b.fetch(`${s.url}/jitsi/logout`, framed('same-origin'))
  t.equal(out.status, 200, 'no trip to the IdP, which would refuse to be framed')
  t.match(String(out.headers['content-security-policy']), /frame-ancestors 'self'/)
  t.match(out.body, /window\.parent\.postMessage\(\{type:'logout-success'\},d\.origin\)/)
  t.match(out.body, new RegExp(`"origin":"${s.url.replace(/[.]/g, '\\.')}"`), 'to our origin exactly')
  t.equal(b.cookies(s.url).has('jos_session'), false, 'the session cookie cleared')
  t.ok((await b.fetch(`${s.url}/MyRoom`)).location?.startsWith(s.idp.issuer), 'signed out: the next room load signs in')
  t.match(s.logs.join('\n'), /"silent":true/)

  const again = await b.fetch(`${s.url}/jitsi/logout`, framed('same-origin'))
  t.equal(again.status, 200, 'signed out already: the same answer')
  t.match(again.body, /logout-success/)
})

t.test('by Prosody\'s rules: a reconnect with the expired token is refused, with the one from the popup accepted', async (t) => {
  const s = await startStack({ env: { JWT_TTL_SECONDS: '30' } })
  t.teardown(() => s.close())
  const b = new Browser()
  await signIn(s, b, '/MyRoom')
  const { KeyStore } = await import('../../src/token/keys.js')
  const { TokenSigner } = await import('../../src/token/sign.js')
  const { prosodyRefuses } = await import('../fixtures/prosody-rules.js')
  const jwt = s.config.auth!.jwt
  const prosody = { secret: jwt.secret, appId: jwt.appId }
  // The token the meeting started with, 31 s ago: minted as the sidecar mints, with the clock back.
  const signer = new TokenSigner(await KeyStore.load(jwt), jwt)
  const identity = { user: { id: 'alice', name: 'Alice Example' }, moderator: false, features: {} }
  const old = await signer.mint(identity, 'MyRoom', undefined, Date.now() - 31_000)
  const { exp } = JSON.parse(Buffer.from(old.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }
  t.equal(prosodyRefuses(old, 'myroom', prosody, exp - 1), undefined, 'it was good while it lived')
  t.equal(prosodyRefuses(old, 'myroom', prosody, exp), 'Not acceptable by exp', 'and not a second longer: no leeway')
  t.equal(prosodyRefuses(old, 'myroom', prosody), 'Not acceptable by exp', 'the reconnect with it is refused')
  const popup = await b.fetch(`${s.url}/jitsi/login?room=MyRoom&nonce=n`)
  const fresh = posted(popup.body).token
  t.equal(prosodyRefuses(fresh, 'myroom', prosody), undefined, 'the popup\'s token is accepted at connect and join')
  t.equal(prosodyRefuses(fresh, 'otherroom', prosody), 'room', 'for its room only')
})
