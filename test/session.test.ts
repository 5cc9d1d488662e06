import t from 'tap'
import { CookieCodec, MAX_COOKIE_VALUE, TX_TTL_SECONDS, parseCookies } from '../src/signin/cookies.js'

const k1 = 'first-cookie-secret-0123456789abcdef'
const k2 = 'second-cookie-secret-0123456789abcdef'
const tx = { state: 's'.repeat(43), nonce: 'n', verifier: 'v', room: 'T%C3%A4st', query: 'a=1', hash: 'config.x=true', electron: false }
/** One clock for the whole file. */
const NOW = Date.now()
const session = {
  identity: { user: { id: 'u', name: 'N' }, moderator: true, features: { recording: false }, group: 'g' },
  sid: 'sid-1', policy: 'p1', idToken: 'a.b.c', createdAt: NOW - 5, idp: { sub: 'u', sid: 'idp-sid' },
}

t.test('round trip, rotation and rejection', async (t) => {
  const codec = new CookieCodec([k1], true)
  const v = await codec.sealSession(session, 60, NOW)
  t.same(await codec.openSession(v, NOW), session)
  const rotated = new CookieCodec([k2, k1], true)
  t.same(await rotated.openSession(v, NOW), session, 'old key still decrypts after rotation')
  const { idp: _, createdAt: __, ...older } = session
  t.same(await codec.openSession(await codec.seal('session', older, 60, NOW), NOW), { ...older, createdAt: Math.floor(NOW / 1000) * 1000 }, 'sessions from before the IdP session and createdAt were kept still open (createdAt from their iat)')
  t.equal(await new CookieCodec([k2], true).openSession(v), undefined, 'rotated-out key no longer decrypts')
  t.equal(await new CookieCodec(['another-deployment-secret-0123456789'], true).openSession(v), undefined, 'another deployment')
  t.equal(await codec.openTransaction(v), undefined, 'a session is not a transaction')
  const txv = await codec.sealTransaction(tx)
  t.equal(await codec.openSession(txv), undefined, 'a transaction is not a session')
  t.match(await codec.openTransaction(txv), { ...tx, iat: Number })
  const withTenant = await codec.openTransaction(await codec.sealTransaction({ ...tx, tenant: 'acme' }))
  t.equal(withTenant?.tenant, 'acme')
})

t.test('tampering, truncation, expiry and junk', async (t) => {
  const codec = new CookieCodec([k1], false)
  const now = NOW
  const v = await codec.sealSession(session, 60, now)
  // Flip the top bit of one base64url character at a time (low bits of a final character can be padding).
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (let i = 0; i < v.length; i += 7) {
    const at = alphabet.indexOf(v[i]!)
    if (at === -1) continue
    const flipped = v.slice(0, i) + alphabet[at ^ 32] + v.slice(i + 1)
    t.equal(await codec.openSession(flipped), undefined, `flip at ${i}`)
  }
  t.equal(await codec.openSession(v.slice(0, -5)), undefined, 'truncated')
  t.equal(await codec.openSession(v, now + 61_000), undefined, 'expired')
  t.equal(await codec.openTransaction(await codec.sealTransaction(tx, now), now + (TX_TTL_SECONDS + 1) * 1000), undefined, 'transaction expired')
  t.equal(await codec.openSession('x'.repeat(MAX_COOKIE_VALUE + 1)), undefined, 'oversized')
  t.equal(await codec.openSession(''), undefined)
  t.equal(await codec.openSession(undefined), undefined)
  t.equal(await codec.openSession('a.b.c.d.e'), undefined)
  for (const bad of [{ sid: 's', policy: 'p', identity: null }, { sid: 's', identity: session.identity }, { identity: session.identity, policy: 'p' }, { sid: 's', policy: 'p', identity: { user: {}, moderator: 'yes', features: {} } }, { sid: 's', policy: 'p', identity: { user: [], moderator: true, features: {} } }]) {
    t.equal(await codec.openSession(await codec.seal('session', bad, 60)), undefined, JSON.stringify(bad))
  }
  const odd = await codec.openSession(await codec.seal('session', { sid: 's', policy: 'p', identity: { user: { id: 1, name: 'n' }, moderator: false, features: { a: 'yes', b: true } } }, 60))
  t.same(odd, { sid: 's', policy: 'p', createdAt: odd?.createdAt, identity: { user: { name: 'n' }, moderator: false, features: { b: true } } }, 'only well-typed fields survive')
  const badTx = await codec.seal('tx', { state: 1 }, 60)
  t.equal(await codec.openTransaction(badTx), undefined)
})

t.test('opened sessions are remembered, but never past their expiry', async (t) => {
  const codec = new CookieCodec([k1], false)
  const now = NOW
  const v = await codec.sealSession(session, 60, now)
  t.same(await codec.openSession(v, now), session, 'opened (and remembered)')
  t.same(await codec.openSession(v, now + 30_000), session, 'remembered while valid')
  t.equal(await codec.openSession(v, now + 61_000), undefined, 'a remembered session expires with its cookie')
  t.same(await codec.openSession(v, now + 1_000), session, 'forgotten once expired, it opens again by decryption while still valid')
  const other = new CookieCodec(['another-deployment-secret-0123456789'], false)
  t.equal(await other.openSession(v, now), undefined, 'another codec (deployment) remembers nothing of ours')
})

t.test('logout anti-forgery values', async (t) => {
  const codec = new CookieCodec([k1], true)
  const v = codec.logoutToken('sid-1')
  t.equal(v.length, 43)
  t.equal(codec.checkLogoutToken('sid-1', v), true)
  t.equal(codec.checkLogoutToken('sid-2', v), false, 'bound to the session')
  t.equal(codec.checkLogoutToken('sid-1', null), false)
  t.equal(codec.checkLogoutToken('sid-1', 'x'), false)
  t.equal(codec.checkLogoutToken('sid-1', `é${'A'.repeat(42)}`), false, 'non-ASCII of the right length: no crash')
  t.equal(new CookieCodec([k2, k1], true).checkLogoutToken('sid-1', v), true, 'survives key rotation')
  t.equal(new CookieCodec([k2], true).checkLogoutToken('sid-1', v), false)
})

t.test('cookie names and attributes', async (t) => {
  const secure = new CookieCodec([k1], true)
  t.equal(secure.sessionName, '__Host-jos_session')
  t.match(secure.setCookie('__Host-jos_session', 'v', 10), /^__Host-jos_session=v; Max-Age=10; Path=\/; HttpOnly; SameSite=Lax; Secure$/)
  t.match(secure.clearCookie('x'), /^x=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax; Secure$/)
  const plain = new CookieCodec([k1], false)
  t.equal(plain.sessionName, 'jos_session')
  t.notMatch(plain.setCookie('a', 'b', 1), /Secure/)
  t.equal(plain.txName('abc'), plain.txName('abc'))
  t.not(plain.txName('abc'), plain.txName('abd'))
  t.ok(plain.txName('abc').startsWith('jos_tx_'))
  t.throws(() => new CookieCodec([], false), TypeError)
})

t.test('parseCookies', async (t) => {
  t.same([...parseCookies('a=1; b=2;c=x=y; a=3; junk; =v')], [['a', '1'], ['b', '2'], ['c', 'x=y']])
  t.equal(parseCookies(undefined).size, 0)
})
