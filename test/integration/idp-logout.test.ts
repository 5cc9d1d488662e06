/**
 * Logouts that begin at the identity provider reach the sidecar: front-channel
 * (the IdP loads our page in an iframe with iss and sid) and back-channel (the
 * IdP posts a signed logout token). Afterwards the session mints no token.
 */
import t from 'tap'
import { Browser } from '../fixtures/client.js'
import { signIn } from '../fixtures/signin.js'
import { COOKIE_SECRET, startStack } from '../fixtures/stack.js'
import { CookieCodec } from '../../src/signin/cookies.js'

const codec = new CookieCodec([COOKIE_SECRET], false)

async function idpSessionOf(b: Browser, url: string): Promise<{ sub: string; sid?: string }> {
  const session = await codec.openSession(b.cookies(url).get('jos_session'))
  if (!session?.idp) throw new Error('no session, or one without the IdP session')
  return session.idp
}

t.test('front-channel logout: iss and sid end the session, with or without our cookies', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const alice = new Browser()
  await signIn(stack, alice, '/MyRoom', 'alice')
  const { sub, sid } = await idpSessionOf(alice, stack.url)
  t.equal(sub, 'alice')
  t.ok(sid, 'the session keeps the IdP session id')
  const again = await alice.fetch(`${stack.url}/MyRoom`)
  t.match(again.location, /[?&]jwt=/, 'before: the session mints')

  const bad = await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent('https://evil.example')}&sid=${sid}`)
  t.equal(bad.status, 400, 'another issuer: refused')
  t.equal((await alice.fetch(`${stack.url}/MyRoom`)).location?.includes('jwt='), true, 'and nothing was revoked')

  // The IdP's iframe, without our cookies (third-party frames often lack them).
  const frame = await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=${encodeURIComponent(sid!)}`)
  t.equal(frame.status, 200)
  t.match(frame.headers['content-security-policy'], new RegExp(`frame-ancestors ${new URL(stack.idp.issuer).origin}$`), 'the IdP may frame it')
  t.equal(frame.headers['x-frame-options'], undefined)
  const after = await alice.fetch(`${stack.url}/MyRoom`)
  t.equal(after.status, 302)
  t.ok(after.location?.startsWith(stack.idp.issuer), 'after: sent to sign in again, no token')
  t.ok(stack.logs.some((l) => l.includes('"event":"idp_logout"')), 'logged')
})
