/**
 * Logouts that begin at the identity provider reach the sidecar: front-channel
 * (the IdP loads our page in an iframe with iss and sid) and back-channel (the
 * IdP posts a signed logout token). Afterwards the session mints no token.
 */
import t from 'tap'
import { Browser } from '../fixtures/client.js'
import { signIn } from '../fixtures/signin.js'
import { COOKIE_SECRET, startStack } from '../fixtures/stack.js'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { request } from 'undici'
import { createAdminServer } from '../../src/ops/admin.js'
import { createLogger } from '../../src/ops/log.js'
import { CookieCodec } from '../../src/signin/cookies.js'
import { eventually } from '../fixtures/eventually.js'

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
  const otherSid = await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=another-session`)
  t.equal(otherSid.status, 200, 'another IdP session: taken')
  t.equal((await alice.fetch(`${stack.url}/MyRoom`)).location?.includes('jwt='), true, 'but this one goes on: the sid decides')

  // The IdP's iframe, without our cookies (third-party frames often lack them).
  const frame = await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=${encodeURIComponent(sid!)}`)
  t.equal(frame.status, 200)
  t.ok(String(frame.headers['content-security-policy']).endsWith(`frame-ancestors ${new URL(stack.idp.issuer).origin}`), 'the IdP may frame it')
  t.equal(frame.headers['x-frame-options'], undefined)
  const after = await alice.fetch(`${stack.url}/MyRoom`)
  t.equal(after.status, 302)
  t.ok(after.location?.startsWith(stack.idp.issuer), 'after: sent to sign in again, no token')
  t.ok(stack.logs.some((l) => l.includes('"event":"idp_logout"') && l.includes('"channel":"front"')), 'logged')

  // With our cookie along (a first-party frame): the cookie is cleared too.
  const bob = new Browser()
  await signIn(stack, bob, '/MyRoom', 'carol')
  const bobSid = (await idpSessionOf(bob, stack.url)).sid!
  const withCookie = await bob.fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=${encodeURIComponent(bobSid)}`)
  t.equal(withCookie.status, 200)
  t.match(withCookie.setCookies.join('\n'), /jos_session=; Max-Age=0/, 'the session cookie is cleared')
})

t.test('back-channel logout from the real IdP: signing out there ends the session here', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const alice = new Browser()
  await signIn(stack, alice, '/MyRoom', 'alice')
  t.match((await alice.fetch(`${stack.url}/MyRoom`)).location, /[?&]jwt=/, 'before: the session mints')
  // Sign out at the IdP itself (its end-session page and confirmation form), not through the sidecar.
  const page = await alice.fetch(`${stack.idp.issuer}/session/end?client_id=${encodeURIComponent('jitsi-test')}`)
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1]
  t.ok(xsrf, 'the IdP asks to confirm')
  await alice.fetch(`${stack.idp.issuer}/session/end/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString() })
  t.ok(await eventually(() => stack.logs.some((l) => l.includes('"event":"idp_logout"') && l.includes('"channel":"back"'))), 'the IdP posted a logout token, and it held')
  const after = await alice.fetch(`${stack.url}/MyRoom`)
  t.ok(after.location?.startsWith(stack.idp.issuer), 'after: sent to sign in again, no token')
})

t.test('back-channel logout tokens are checked as the spec asks', async (t) => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const stack = await startStack({ idp: { extra: { jwks: { keys: [jwk] } } } })
  t.teardown(() => stack.close())
  const alice = new Browser()
  await signIn(stack, alice, '/MyRoom', 'alice')
  const { sid } = await idpSessionOf(alice, stack.url)
  const now = Math.floor(Date.now() / 1000)
  const event = { 'http://schemas.openid.net/event/backchannel-logout': {} }
  const token = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT({ iss: stack.idp.issuer, aud: 'jitsi-test', iat: now, jti: Math.random().toString(36), events: event, sid, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'logout+jwt', ...header })
      .sign(privateKey)
  const post = async (logoutToken: string) => (await new Browser().fetch(`${stack.url}/jitsi/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: logoutToken }).toString() })).status
  const bad: [string, string][] = [
    ['another audience', await token({ aud: 'someone-else' })],
    ['another issuer', await token({ iss: 'https://evil.example' })],
    ['a nonce (an ID token)', await token({ nonce: 'n' })],
    ['no events claim', await token({ events: undefined })],
    ['the wrong event', await token({ events: { 'http://schemas.openid.net/event/other': {} } })],
    ['neither sub nor sid', await token({ sid: undefined })],
    ['issued an hour ago', await token({ iat: now - 3600 })],
    ['signed with a key the IdP never published', await new SignJWT({ iss: stack.idp.issuer, aud: 'jitsi-test', iat: now, events: event, sid }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign((await generateKeyPair('RS256')).privateKey)],
    ['unsigned', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: stack.idp.issuer, aud: 'jitsi-test', iat: now, events: event, sid })).toString('base64url')}.`],
  ]
  t.equal(bad.length, 9)
  for (const [why, logoutToken] of bad) t.equal(await post(logoutToken), 400, why)
  t.equal(await post('not a jwt'), 400)
  t.match((await alice.fetch(`${stack.url}/MyRoom`)).location, /[?&]jwt=/, 'none of them ended the session')
  t.equal(await post(await token({ sid: 'another-session' })), 200, 'a valid one for another IdP session')
  t.match((await alice.fetch(`${stack.url}/MyRoom`)).location, /[?&]jwt=/, 'leaves this one: the sid decides')
  t.equal(await post(await token({})), 200, 'a valid one')
  t.ok((await alice.fetch(`${stack.url}/MyRoom`)).location?.startsWith(stack.idp.issuer), 'ends it')

  // By subject: every session that began before the logout; a later sign-in is not touched.
  const carol = new Browser()
  await signIn(stack, carol, '/MyRoom', 'carol')
  t.equal(await post(await token({ sid: undefined, sub: 'carol' })), 200)
  t.ok((await carol.fetch(`${stack.url}/MyRoom`)).location?.startsWith(stack.idp.issuer), 'sub: her earlier session is ended')
  const later = new Browser()
  t.ok((await signIn(stack, later, '/MyRoom', 'carol')).jwt, 'she signs in again')
  t.match((await later.fetch(`${stack.url}/MyRoom`)).location, /[?&]jwt=/, 'and that later session is not touched')
})

t.test('LOGOUT_PEERS: a logout one replica hears of ends the session on the others', async (t) => {
  const b = await startStack()
  t.teardown(() => b.close())
  const admin = createAdminServer(b.app, b.config, { shuttingDown: false }, createLogger('silent'))
  await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => admin.close(() => resolve())))
  const adminPort = (admin.address() as AddressInfo).port
  const a = await startStack({ env: { LOGOUT_PEERS: `127.0.0.1:${adminPort}` } })
  t.teardown(() => a.close())

  const alice = new Browser()
  await signIn(b, alice, '/MyRoom', 'alice')
  const { sid } = await idpSessionOf(alice, b.url)
  t.match((await alice.fetch(`${b.url}/MyRoom`)).location, /[?&]jwt=/, 'before: replica b mints')
  // The IdP's front-channel call lands on replica a.
  t.equal((await new Browser().fetch(`${a.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(a.idp.issuer)}&sid=${encodeURIComponent(sid!)}`)).status, 200)
  t.ok(await eventually(() => b.logs.some((l) => l.includes('"channel":"relay"'))), 'replica b heard of it')
  t.ok((await alice.fetch(`${b.url}/MyRoom`)).location?.startsWith(b.idp.issuer), 'after: replica b mints no token')

  const forged = await request(`http://127.0.0.1:${adminPort}/revocations`, { method: 'POST', body: JSON.stringify({ sub: 'carol', at: 1, sent: Math.floor(Date.now() / 1000) }), headers: { 'x-jos-signature': 'A'.repeat(43) } })
  await forged.body.dump()
  t.equal(forged.statusCode, 403, 'a message without the shared key is refused')
  const huge = await request(`http://127.0.0.1:${adminPort}/revocations`, { method: 'POST', body: 'x'.repeat(10_000), headers: { 'x-jos-signature': 'A'.repeat(43) } })
  await huge.body.dump()
  t.equal(huge.statusCode, 403, 'so is one too large to be ours')
})

t.test('LOGOUT_PEERS naming a replica that is down: a warning, and the logout still holds here', async (t) => {
  const closed = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
  const stack = await startStack({ env: { LOGOUT_PEERS: `127.0.0.1:${closed}` } })
  t.teardown(() => stack.close())
  const alice = new Browser()
  await signIn(stack, alice, '/MyRoom', 'alice')
  const { sid } = await idpSessionOf(alice, stack.url)
  t.equal((await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=${encodeURIComponent(sid!)}`)).status, 200)
  t.ok(await eventually(() => stack.logs.some((l) => l.includes('"event":"relay_failed"'))), 'the failed relay is logged')
  t.ok((await alice.fetch(`${stack.url}/MyRoom`)).location?.startsWith(stack.idp.issuer), 'the session ended on this replica all the same')
})

t.test('front-channel logout while the IdP cannot be discovered: an error page the IdP may still frame', async (t) => {
  const stack = await startStack({ idpDown: true })
  t.teardown(() => stack.close())
  const frame = await new Browser().fetch(`${stack.url}/jitsi/frontchannel-logout?iss=${encodeURIComponent(stack.idp.issuer)}&sid=s`)
  t.equal(frame.status, 503)
  t.ok(String(frame.headers['content-security-policy']).endsWith(`frame-ancestors ${new URL(stack.idp.issuer).origin}`))
  t.equal(frame.headers['x-frame-options'], undefined)
})
