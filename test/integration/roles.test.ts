/**
 * Jitsi roles and rooms against a real oidc-provider: moderators, features,
 * avatars, groups, userinfo-only claims, tenants and Unicode rooms, Jitsi's
 * {state} round trip, the desktop app, guests, and logout.
 */
import t from 'tap'
import { request } from 'undici'
import type { Asserts } from '../fixtures/asserts.js'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { jwtOf, signIn, verify } from '../fixtures/signin.js'
import { startStack, type Stack, type StackOptions } from '../fixtures/stack.js'

async function stackWith(t: Asserts, opts: StackOptions): Promise<Stack> {
  const s = await startStack(opts)
  t.teardown(() => s.close())
  return s
}

const rolesEnv = {
  MODERATOR_RULE: "inGroup('staff')",
  JWT_FEATURES: "recording=inGroup('staff'),livestreaming=false,create-polls=true",
  JWT_GROUP: 'claim:org',
}

t.test('moderator, member and denied accounts get exactly their claims', async (t) => {
  const stack = await stackWith(t, { env: rolesEnv })
  const alice = await verify(jwtOf((await signIn(stack, new Browser(), '/MyRoom', 'alice')).done.location))
  t.same(alice.context, {
    user: { id: 'alice', name: 'Alice Example', email: 'alice@example.org', avatar: 'https://example.org/alice.png', moderator: 'true', affiliation: 'owner' },
    features: { recording: 'true', livestreaming: 'false', 'create-polls': 'true' },
  }, 'alice: moderator, recording, no org claim so no group')
  const carol = await verify(jwtOf((await signIn(stack, new Browser(), '/MyRoom', 'carol')).done.location))
  t.same(carol.context, {
    user: { id: 'carol', name: 'Carol Example', email: 'carol@example.org', affiliation: 'member' },
    features: { recording: 'false', livestreaming: 'false', 'create-polls': 'true' },
    group: 'acme',
  }, 'carol: member, no moderator field, group from her org claim')
  const bob = (await signIn(stack, new Browser(), '/MyRoom', 'bob')).done
  t.equal(bob.status, 403)
  t.match(stack.logs.join('\n'), /"event":"login_succeeded".*"user":"alice".*"moderator":true/)
})

t.test('claims only in userinfo (LemonLDAP::NG, Entra ID): fetched by default when a rule or the mapping needs them', async (t) => {
  const never = await stackWith(t, { idp: { claimsInIdToken: false }, env: { OIDC_USERINFO: '0', ...rolesEnv } })
  t.equal((await signIn(never, new Browser(), '/MyRoom', 'alice')).done.status, 403, 'OIDC_USERINFO=0: no groups in the ID token, the rule fails closed')
  t.match(never.logs.join('\n'), /"event":"claims_missing".*"claims":\["groups",.*"name".*"email"\]/, 'and the log names the missing claims')
  t.match(never.logs.join('\n'), /"event":"login_denied".*"missingClaims":\["groups"/, 'the denial says which claim was missing')
  const auto = await stackWith(t, { idp: { claimsInIdToken: false }, env: rolesEnv })
  const done = (await signIn(auto, new Browser(), '/MyRoom', 'alice')).done
  t.equal(done.status, 302, 'the default (auto) fetches userinfo')
  t.match((await verify(jwtOf(done.location))).context, { user: { id: 'alice', name: 'Alice Example', email: 'alice@example.org', moderator: 'true' } })
  t.match(auto.logs.join('\n'), /"event":"login_succeeded".*"userinfo":true/)
  // alice has every claim the default mapping and rule read (sub, name, email, picture, groups).
  const inToken = await stackWith(t, {})
  await signIn(inToken, new Browser(), '/MyRoom', 'alice')
  t.match(inToken.logs.join('\n'), /"event":"login_succeeded".*"userinfo":false/, 'everything in the ID token: no userinfo request')
  const always = await stackWith(t, { env: { OIDC_USERINFO: '1' } })
  await signIn(always, new Browser(), '/MyRoom', 'alice')
  t.match(always.logs.join('\n'), /"event":"login_succeeded".*"userinfo":true/, 'OIDC_USERINFO=1: always')
})

t.test('a claim neither source has is named once per login, at warn level', async (t) => {
  const stack = await stackWith(t, { env: { USE_RULE: "inGroup('jitsi-users') && claims.department == 'it'" } })
  const done = (await signIn(stack, new Browser(), '/MyRoom', 'alice')).done
  t.equal(done.status, 403)
  const lines = stack.logs.map((l) => JSON.parse(l) as { event?: string; level?: string; claims?: string[] })
  const missing = lines.filter((l) => l.event === 'claims_missing')
  t.equal(missing.length, 1)
  t.same(missing[0]?.claims, ['department'])
  t.equal(missing[0]?.level, 'warn')
})

t.test('tenants and Unicode rooms end to end', async (t) => {
  const stack = await stackWith(t, { env: { JWT_SUBJECT: '{tenant}', JWT_SUBJECT_DEFAULT: 'meet.jitsi' } })
  const b = new Browser()
  const done = (await signIn(stack, b, '/Acme/T%C3%A4st%20Raum?lang=de', 'alice')).done
  const url = new URL(done.location!)
  t.equal(url.origin + url.pathname, `${stack.url}/Acme/T%C3%A4st%20Raum`, 'back on the same tenant path')
  t.match(await verify(jwtOf(done.location)), { room: 't%c3%a4st%20raum', sub: 'acme' })
  const room = await b.fetch(done.location!)
  t.equal(room.status, 200, 'the token is accepted for that room (no loop)')
  const plain = await b.fetch(`${stack.url}/%C3%9Cn%C3%AFc%C3%B8d%C3%A9`)
  t.match(await verify(jwtOf(plain.location)), { room: '%c3%bcn%c3%afc%c3%b8d%c3%a9', sub: 'meet.jitsi' })
  const parens = await b.fetch(`${stack.url}/Room(1)`)
  t.equal((await verify(jwtOf(parens.location))).room, 'room1', 'the web app drops ( ) and so does the claim')
  t.equal((await b.fetch(parens.location!)).status, 200)
})

t.test('JWT_ROOM_CLAIM=* gives one token for every room', async (t) => {
  const stack = await stackWith(t, { env: { JWT_ROOM_CLAIM: '*' } })
  const b = new Browser()
  const token = jwtOf((await signIn(stack, b, '/RoomA', 'alice')).done.location)
  t.equal((await verify(token)).room, '*')
  t.equal((await b.fetch(`${stack.url}/RoomB?jwt=${token}`)).status, 200, 'the same token opens another room')
})

t.test("Jitsi's {state} round trip keeps harmless overrides and drops hostile ones", async (t) => {
  const stack = await stackWith(t, {})
  const state = JSON.stringify({
    room: 'T%C3%A4st', roomSafe: 't%c3%a4st', tenant: 'acme', refreshToken: 'NOT-A-SECRET-WE-KEEP',
    'config.startWithAudioMuted': true, 'config.prejoinConfig.enabled': false, 'interfaceConfig.SHOW_JITSI_WATERMARK': 'false',
    'config.websocket': '"wss://evil.example/xmpp-websocket"', 'config.hosts.domain': '"evil.example"', 'config.nested': '{"a":1}',
  })
  const b = new Browser()
  const { start, done } = await signIn(stack, b, `/jitsi/login?state=${encodeURIComponent(state)}`)
  t.equal(new URL(start.location!).origin, stack.idp.issuer)
  const url = new URL(done.location!)
  t.equal(url.origin + url.pathname, `${stack.url}/acme/T%C3%A4st`)
  t.equal(url.hash, '#config.startWithAudioMuted=true&config.prejoinConfig.enabled=false&interfaceConfig.SHOW_JITSI_WATERMARK=false')
  t.equal((await verify(jwtOf(done.location))).room, 't%c3%a4st')
  t.notMatch(stack.logs.join('\n'), /NOT-A-SECRET-WE-KEEP/)
  const again = await b.fetch(`${stack.url}/jitsi/login?state=${encodeURIComponent(JSON.stringify({ room: 'Other', 'config.startWithVideoMuted': true }))}`)
  t.match(again.location, new RegExp(`^${stack.url}/Other\\?jwt=[^#]+#config\\.startWithVideoMuted=true$`), 'with a session: straight back, overrides kept')
  for (const bad of ['{', JSON.stringify({ room: '//evil.example' }), JSON.stringify({ tenant: 'x' })]) {
    t.equal((await b.fetch(`${stack.url}/jitsi/login?state=${encodeURIComponent(bad)}`)).status, 400, bad)
  }
})

t.test('the desktop app gets its jitsi-meet:// link', async (t) => {
  const stack = await stackWith(t, {})
  const { done } = await signIn(stack, new Browser(), `/jitsi/login?state=${encodeURIComponent(JSON.stringify({ room: 'MyRoom', electron: true }))}`)
  t.equal(done.status, 200)
  t.match(done.body, /Continue in the Jitsi Meet app/)
  const link = /href="(jitsi-meet:\/\/[^"]+)"/.exec(done.body)?.[1]?.replace(/&#38;/g, '&')
  t.match(link, new RegExp(`^jitsi-meet://127\\.0\\.0\\.1:\\d+/MyRoom\\?jwt=`))
  t.equal((await verify(jwtOf(link))).room, 'myroom')
  t.match(done.setCookies.join('\n'), /jos_session=/)
  t.equal(done.headers['cache-control'], 'no-store')
})

t.test('GUEST_ACCESS=1: guests pass, hosts still sign in', async (t) => {
  const stack = await stackWith(t, { env: { GUEST_ACCESS: '1' } })
  const b = new Browser()
  const guest = await b.fetch(`${stack.url}/MyRoom`)
  t.equal(guest.status, 200)
  t.equal(guest.headers['x-upstream'], 'yes', 'a room load without a session goes to jitsi-web untouched')
  const { done } = await signIn(stack, b, '/jitsi/login?room=MyRoom')
  t.equal((await verify(jwtOf(done.location))).room, 'myroom')
  const host = await b.fetch(`${stack.url}/Other`)
  t.equal(host.status, 302, 'with a session, room loads get a token')
})

t.test('sessions made under other rules sign in again; hostile login targets are refused', async (t) => {
  const a = await stackWith(t, {})
  const b = new Browser()
  await signIn(a, b, '/MyRoom', 'alice')
  t.equal((await b.fetch(`${a.url}/Other`)).status, 302)
  t.equal(new URL((await b.fetch(`${a.url}/Other`)).location!).origin, a.url, 'same rules: a token at once')
  // Another sidecar with the same cookie key but a tightened MODERATOR_RULE (cookies ignore the port).
  const tightened = await stackWith(t, { env: { MODERATOR_RULE: "inGroup('staff')" } })
  const r = await b.fetch(`${tightened.url}/Other`)
  t.equal(new URL(r.location!).origin, tightened.idp.issuer, 'the old session does not carry the old decision')
  t.match(r.setCookies.join('\n'), /jos_session=; Max-Age=0/)

  for (const path of ['/jitsi/login?room=x&tenant=etherpad', '/jitsi/login?room=config.js', `/jitsi/login?state=${encodeURIComponent('{"room":"\\ud800"}')}`, `/jitsi/login?state=${encodeURIComponent('{"room":"x","tenant":"static"}')}`]) {
    const res = await b.fetch(`${a.url}${path}`)
    t.equal(res.status, 400, path)
  }
  const withSession = await b.fetch(`${a.url}/jitsi/logout?csrf=%C3%A9${'A'.repeat(42)}`)
  t.equal(withSession.status, 200, 'a non-ASCII anti-forgery value only gets the confirmation page')
})

t.test('long or odd claims never break the session cookie', async (t) => {
  const big = { password: 'big', claims: { name: 'n'.repeat(5000), email: 'e@x.org', picture: `https://example.org/${'a'.repeat(3500)}`, groups: ['jitsi-users'], org: 'o'.repeat(300) } }
  const stack = await stackWith(t, { idp: { accounts: { big } }, env: { ...rolesEnv } })
  const done = (await signIn(stack, new Browser(), '/MyRoom', 'big')).done
  t.equal(done.status, 302)
  const cookie = done.setCookies.find((c) => c.startsWith('jos_session='))!
  t.ok(cookie.length < 4096, `session cookie of ${cookie.length} bytes`)
  t.same((await verify(jwtOf(done.location))).context, { user: { id: 'big', email: 'e@x.org', affiliation: 'member' }, features: { recording: 'false', livestreaming: 'false', 'create-polls': 'true' } }, 'over-long values are left out')
})

t.test('logout: confirmation, anti-forgery, RP-initiated logout at the IdP', async (t) => {
  const stack = await stackWith(t, {})
  const b = new Browser()
  await signIn(stack, b, '/MyRoom', 'alice')
  t.ok(b.cookies(stack.url).has('jos_session'))

  const confirm = await b.fetch(`${stack.url}/jitsi/logout`)
  t.equal(confirm.status, 200)
  t.match(confirm.body, /Sign out\?/)
  const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)?.[1]
  t.ok(csrf, 'the form carries the anti-forgery value')
  t.ok(b.cookies(stack.url).has('jos_session'), 'a plain GET signs nobody out')
  t.notMatch(confirm.headers['content-security-policy'], /form-action/, "the button's POST may be redirected on to the end_session_endpoint and wherever that sends the browser")
  t.match(confirm.headers['content-security-policy'], /default-src 'none'/, 'otherwise as strict as every page')

  const evil = await b.fetch(`${stack.url}/jitsi/logout`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: '' })
  t.equal(evil.status, 403)
  t.match(evil.body, /Sign-out refused/)
  t.ok(b.cookies(stack.url).has('jos_session'), 'a cross-site POST signs nobody out')
  const forged = await b.fetch(`${stack.url}/jitsi/logout?csrf=${'A'.repeat(43)}`)
  t.equal(forged.status, 200)
  t.match(forged.body, /Sign out\?/, 'a wrong anti-forgery value only gets the confirmation')

  const out = await b.fetch(`${stack.url}/jitsi/logout`, { method: 'POST', headers: { origin: stack.url, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` })
  t.equal(out.status, 302)
  const end = new URL(out.location!)
  t.equal(end.origin, stack.idp.issuer, 'on to the IdP’s end_session_endpoint')
  t.equal(end.searchParams.get('post_logout_redirect_uri'), `${stack.url}/jitsi/signed-out`, 'back to our signed-out page')
  t.ok(end.searchParams.get('id_token_hint'))
  t.ok(end.searchParams.get('state'), 'with the room sealed in the state')
  t.notMatch(end.searchParams.get('state')!, /MyRoom/, 'the room name does not show at the IdP')
  t.notOk(b.cookies(stack.url).has('jos_session'), 'session cleared')
  const idpPage = await b.fetch(out.location!)
  t.equal(idpPage.status, 200, 'the IdP accepts the logout request (registered post-logout URI, valid hint)')
  t.match(stack.logs.join('\n'), /"event":"logout","user":"alice"/)
  // The IdP's own confirmation, then its redirect to our page, whose button signs in to the same room.
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(idpPage.body)?.[1]
  const action = /action="([^"]+)"/.exec(idpPage.body)?.[1]
  const confirmed = await b.fetch(new URL(action!, stack.idp.issuer).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `xsrf=${xsrf}&logout=yes` })
  t.match(confirmed.location, new RegExp(`^${stack.url}/jitsi/signed-out\\?state=`), 'the IdP returns to our page with the state')
  const signedOut = await b.fetch(confirmed.location!)
  t.equal(signedOut.status, 200)
  t.match(signedOut.body, /<h1>Signed out<\/h1>/)
  t.match(signedOut.body, new RegExp(`href="${stack.url}/MyRoom">Sign in again`), 'Sign in again: to the room signed in for')
  const unknown = await b.fetch(`${stack.url}/jitsi/signed-out?state=forged`)
  t.match(unknown.body, new RegExp(`href="${stack.url}/">Sign in again`), 'a state that is not ours: the start page')
  const after = await b.fetch(`${stack.url}/MyRoom`)
  t.equal(new URL(after.location!).origin, stack.idp.issuer, 'signed out: the next room load signs in again')

  const b2 = new Browser()
  await signIn(stack, b2, '/MyRoom', 'alice')
  const form = await b2.fetch(`${stack.url}/jitsi/logout`)
  const token = /name="csrf" value="([^"]+)"/.exec(form.body)![1]
  const viaGet = await b2.fetch(`${stack.url}/jitsi/logout?csrf=${token}`)
  t.equal(viaGet.status, 302, 'a GET with the anti-forgery value signs out')
  const none = await new Browser().fetch(`${stack.url}/jitsi/logout`)
  t.match(none.body, /Signed out/, 'without a session: already signed out')
  // From our own pages (a link in the room) or typed by the person: no confirmation of ours.
  for (const site of ['same-origin', 'none']) {
    const b3 = new Browser()
    await signIn(stack, b3, '/MyRoom', 'alice')
    const direct = await b3.fetch(`${stack.url}/jitsi/logout`, { headers: { 'sec-fetch-site': site } })
    t.equal(direct.status, 302, `Sec-Fetch-Site: ${site}: straight to the IdP`)
    t.notOk(b3.cookies(stack.url).has('jos_session'), `Sec-Fetch-Site: ${site}: signed out`)
  }
  const b4 = new Browser()
  await signIn(stack, b4, '/MyRoom', 'alice')
  for (const site of ['cross-site', 'same-site']) {
    const linked = await b4.fetch(`${stack.url}/jitsi/logout`, { headers: { 'sec-fetch-site': site } })
    t.match(linked.body, /Sign out\?[\s\S]*may ask you to confirm once more/, `Sec-Fetch-Site: ${site}: our confirmation, which says the IdP may ask again`)
  }
  t.ok(b4.cookies(stack.url).has('jos_session'), 'a link from another site signs nobody out')
  const put = await b2.fetch(`${stack.url}/jitsi/logout`, { method: 'PUT' })
  t.equal(put.status, 405)
})

t.test('an IdP without an end_session_endpoint: our signed-out page at once, Sign in again to the room', async (t) => {
  const stack = await stackWith(t, {})
  rewriteIdpAnswers(stack.idp, '/.well-known/openid-configuration', (body) => {
    delete body.end_session_endpoint
  })
  const b = new Browser()
  await signIn(stack, b, '/Team/Standup', 'alice')
  const out = await b.fetch(`${stack.url}/jitsi/logout`, { headers: { 'sec-fetch-site': 'same-origin' } })
  t.equal(out.status, 200)
  t.match(out.body, /<h1>Signed out<\/h1>/)
  t.match(out.body, new RegExp(`href="${stack.url}/Team/Standup">Sign in again`), 'to the room (and tenant) signed in for')
  t.notOk(b.cookies(stack.url).has('jos_session'))
})

t.test('an end_session_endpoint on another origin: the sign-out POST continues there', async (t) => {
  const stack = await stackWith(t, {})
  // The discovery document names another host for logout (as IdPs behind a separate logout host do).
  rewriteIdpAnswers(stack.idp, '/.well-known/openid-configuration', (body) => {
    body.end_session_endpoint = 'https://logout.example.org/end'
  })
  const b = new Browser()
  await signIn(stack, b, '/MyRoom', 'alice')
  const confirm = await b.fetch(`${stack.url}/jitsi/logout`)
  t.notMatch(String(confirm.headers['content-security-policy']), /form-action/, 'no form-action to stop the chain')
  const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)![1]!
  const out = await b.fetch(`${stack.url}/jitsi/logout`, { method: 'POST', headers: { origin: stack.url, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` })
  t.equal(new URL(out.location!).origin, 'https://logout.example.org', 'the POST is answered with that origin')
})

t.test('logout without an IdP end_session_endpoint lands on the signed-out page', async (t) => {
  const stack = await stackWith(t, { idp: { extra: { features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: false } } } } })
  const b = new Browser()
  await signIn(stack, b, '/MyRoom', 'alice')
  const r = await b.fetch(`${stack.url}/jitsi/logout`, { method: 'POST', headers: { origin: stack.url } })
  t.equal(r.status, 200)
  t.match(r.body, /Signed out/)
  t.match(r.setCookies.join('\n'), /jos_session=; Max-Age=0/)
  const res = await request(`${stack.url}/jitsi/logout`, { method: 'POST' })
  t.match(await res.body.text(), /Signed out/, 'no session: nothing to refuse')
})

t.test('an ID token too big to keep in the session cookie: signed in without it, logout names the client instead', async (t) => {
  const groups = ['jitsi-users', ...Array.from({ length: 200 }, (_, i) => `a-rather-long-group-name-number-${i}`)]
  const stack = await stackWith(t, { idp: { accounts: { big: { password: 'big', claims: { name: 'Big Groups', groups } } } } })
  const b = new Browser()
  const done = (await signIn(stack, b, '/MyRoom', 'big')).done
  t.equal(done.status, 302)
  t.match(done.location, /\/MyRoom\?jwt=/)
  t.ok(b.cookies(stack.url).get('jos_session')!.length <= 3800, 'the session cookie fits')
  const confirm = await b.fetch(`${stack.url}/jitsi/logout`)
  const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)![1]!
  const out = await b.fetch(`${stack.url}/jitsi/logout`, { method: 'POST', headers: { origin: stack.url, 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` })
  const end = new URL(out.location!)
  t.equal(end.searchParams.get('id_token_hint'), null, 'no ID token was kept')
  t.ok(end.searchParams.get('client_id'), 'the client identifies itself instead')
})
