import t from 'tap'
import { MAX_STATE, decideCallback, decideLogout, decideRoom, fromOurPagesOrThePerson, loginTarget, type LogoutFacts } from '../src/signin/decide.js'
import type { LoginTransaction, Session } from '../src/signin/cookies.js'
import { route, type EndpointTable } from '../src/http/endpoints.js'
import { admit } from '../src/identity/claims.js'
import { loadConfig } from '../src/config/load.js'
import { OUTCOMES, asSidecarError, type OutcomeCode } from '../src/outcomes.js'

const q = (query: string) => new URLSearchParams(query)
const HOST = 'meet.example.com'
const session: Session = { identity: { user: { id: 'u' }, moderator: false, features: {} }, policy: 'p', sid: 's', createdAt: 1 }

t.test('decideRoom: a usable token passes, a session mints, guests pass only where allowed', async (t) => {
  const table: [boolean, Session | undefined, boolean, string][] = [
    [true, undefined, false, 'pass'],
    [true, session, false, 'pass'],
    [true, undefined, true, 'pass'],
    [false, session, false, 'mint'],
    [false, session, true, 'mint'],
    [false, undefined, true, 'pass'],
    [false, undefined, false, 'login'],
  ]
  for (const [tokenUsable, s, guestsPass, want] of table) {
    const d = decideRoom({ tokenUsable, session: s, guestsPass })
    t.equal(d.kind, want, JSON.stringify({ tokenUsable, session: !!s, guestsPass }))
    if (d.kind === 'mint') t.equal(d.session, session)
  }
})

t.test('loginTarget: room and tenant, or Jitsi state; anything else names the problem', async (t) => {
  const prefix = '/jitsi/'
  t.same(loginTarget(q('room=MyRoom'), prefix, HOST), { room: 'MyRoom', tenant: undefined, query: '', hash: '', electron: false })
  t.same(loginTarget(q('room=My%20Room&tenant=acme'), prefix, HOST), { room: 'My%20Room', tenant: 'acme', query: '', hash: '', electron: false })
  t.same(loginTarget(q('room=R&tenant='), prefix, HOST), { room: 'R', tenant: undefined, query: '', hash: '', electron: false }, 'an empty tenant is none')
  const state = encodeURIComponent(JSON.stringify({ room: 'R', tenant: 't', electron: true, 'config.startWithAudioMuted': true }))
  t.same(loginTarget(q(`state=${state}`), prefix, HOST), { room: 'R', tenant: 't', query: '', hash: 'config.startWithAudioMuted=true', electron: true })
  const bad: [string, string][] = [
    ['', 'login: missing or invalid room'],
    ['room=', 'login: missing or invalid room'],
    ['room=a%2Fb', 'login: missing or invalid room'],
    ['room=R&tenant=..', 'login: missing or invalid room'],
    ['room=static', 'login: missing or invalid room'],
    ['room=x&tenant=jitsi', 'login: missing or invalid room'],
    ['state=notjson', 'login: unusable state'],
    [`state=${encodeURIComponent(JSON.stringify({ room: 'config.js' }))}`, 'login: unusable state'],
  ]
  for (const [query, why] of bad) t.equal(loginTarget(q(query), prefix, HOST), why, query)
})

t.test('loginTarget: rd, from a forward-auth caller, is a room page on PUBLIC_URL\'s host or nothing', async (t) => {
  const prefix = '/jitsi/'
  const rd = (v: string) => loginTarget(q(`rd=${encodeURIComponent(v)}`), prefix, HOST)
  const room = (r: string, tenant?: string, query = '') => ({ room: r, tenant, query, hash: '', electron: false })
  t.same(rd('/MyRoom'), room('MyRoom'), 'a path (our nginx snippet)')
  t.same(rd('/acme/MyRoom?lang=de&jwt=old'), room('MyRoom', 'acme', 'lang=de'), 'tenant and query kept, an old token dropped')
  t.same(rd('https://meet.example.com/MyRoom?x=1'), room('MyRoom', undefined, 'x=1'), 'a URL on our host (ingress-nginx)')
  t.same(rd('http://MEET.example.com:443/My%20Room'), room('My%20Room'), 'scheme, case and default port do not matter: the redirect is built on PUBLIC_URL')
  t.same(rd('https://meet.example.com/R#frag'), room('R'), 'a fragment is dropped')
  const offSite = 'login: rd is not on PUBLIC_URL\'s host'
  const notRoom = 'login: rd is not a room page'
  const bad: [string, string][] = [
    ['https://evil.example/MyRoom', offSite],
    ['//evil.example/MyRoom', offSite],
    ['https://meet.example.com@evil.example/MyRoom', offSite],
    ['https://evil.example\\@meet.example.com/MyRoom', offSite],
    ['https://meet.example.com.evil.example/MyRoom', offSite],
    ['https:meet.example.com/MyRoom', offSite],
    ['javascript:alert(1)', offSite],
    ['/\\evil.example', notRoom],
    ['/%2F%2Fevil.example', notRoom],
    ['/static/app.js', notRoom],
    ['/jitsi/login', notRoom],
    ['/', notRoom],
    ['/a/b/c', notRoom],
    ['/R\nLocation: x', notRoom],
    [`/${'r'.repeat(3000)}`, 'login: rd too long'],
  ]
  for (const [v, why] of bad) t.equal(rd(v), why, JSON.stringify(v))
})

t.test('decideCallback: only a state this browser started goes on', async (t) => {
  const tx: LoginTransaction = { state: 'abc', nonce: 'n', verifier: 'v', room: 'R', query: '', hash: '', electron: false }
  t.same(decideCallback('abc', tx, true), { kind: 'finish', tx })
  t.same(decideCallback(null, tx, true), { kind: 'invalid', detail: 'callback without state' })
  t.same(decideCallback('', tx, true), { kind: 'invalid', detail: 'callback without state' })
  t.same(decideCallback('x'.repeat(MAX_STATE + 1), tx, true), { kind: 'invalid', detail: 'callback without state' })
  t.same(decideCallback('other', tx, true), { kind: 'invalid', detail: 'transaction cookie invalid or expired' })
  t.same(decideCallback('abc', undefined, true), { kind: 'invalid', detail: 'transaction cookie invalid or expired' })
  t.same(decideCallback('abc', undefined, false), { kind: 'invalid', detail: 'no transaction cookie for this state' })
})

t.test('fromOurPagesOrThePerson: Origin for a POST, else fetch metadata; none only for a GET', async (t) => {
  const me = 'https://meet.example.com'
  const cases: [boolean, string | undefined, string | undefined, boolean][] = [
    [true, me, undefined, true],
    [true, me, 'cross-site', true],
    [true, 'https://evil.example', 'same-origin', false],
    [true, 'null', undefined, false],
    [true, undefined, 'same-origin', true],
    [true, undefined, 'none', false],
    [true, undefined, undefined, false],
    [false, undefined, 'same-origin', true],
    [false, undefined, 'none', true],
    [false, undefined, 'same-site', false],
    [false, undefined, 'cross-site', false],
    [false, undefined, undefined, false],
  ]
  for (const [post, origin, fetchSite, want] of cases) {
    t.equal(fromOurPagesOrThePerson({ post, origin, fetchSite, publicOrigin: me }), want, JSON.stringify({ post, origin, fetchSite }))
  }
})

t.test('decideLogout: only the same origin or the anti-forgery value signs out', async (t) => {
  const cases: [Partial<LogoutFacts>, string][] = [
    [{ signedIn: false }, 'already-out'],
    [{ signedIn: false, post: true, fromUs: true, csrfValid: true }, 'already-out'],
    [{ signedIn: true, post: true, fromUs: true }, 'sign-out'],
    [{ signedIn: true, post: true, csrfValid: true }, 'sign-out'],
    [{ signedIn: true, post: true }, 'refuse'],
    [{ signedIn: true, csrfValid: true }, 'sign-out'],
    [{ signedIn: true }, 'confirm'],
    [{ signedIn: true, fromUs: true }, 'sign-out'],
  ]
  for (const [facts, want] of cases) {
    t.equal(decideLogout({ signedIn: false, post: false, fromUs: false, csrfValid: false, ...facts }), want, JSON.stringify(facts))
  }
})

t.test('route: names and directories, 404 and 405 with Allow', async (t) => {
  const handle = () => {}
  const table: EndpointTable = { login: { methods: ['GET', 'HEAD'], handle }, 'asap/': { methods: ['GET'], handle } }
  t.match(route(table, 'login', 'GET'), { kind: 'endpoint', file: '' })
  t.same(route(table, 'login', 'POST'), { kind: 'method-not-allowed', allow: 'GET, HEAD' })
  t.match(route(table, 'asap/abc.pem', 'GET'), { kind: 'endpoint', file: 'abc.pem' })
  t.same(route(table, 'asap/abc.pem', 'DELETE'), { kind: 'method-not-allowed', allow: 'GET' })
  for (const name of ['', 'asap/', 'asap', 'login/', 'login/x', 'nope', 'toString', '__proto__', 'constructor/x']) {
    t.same(route(table, name, 'GET'), { kind: 'not-found' }, JSON.stringify(name))
  }
})

t.test('admit: USE_RULE decides; a rule that fails to evaluate counts as false and is reported', async (t) => {
  const env = {
    PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's',
    JWT_APP_ID: 'app', JWT_APP_SECRET: 'a-shared-secret-of-enough-length!!', COOKIE_SECRET: 'x'.repeat(32),
  }
  const auth = loadConfig({ ...env, USE_RULE: "'staff' in groups", MODERATOR_RULE: 'claims.level > 3' }).auth!
  const ok = admit({ sub: 'u1', groups: ['staff'], level: 5 }, auth)
  t.equal(ok.allowed, true)
  t.equal(ok.identity.moderator, true)
  t.same(ok.ruleErrors, [])
  const denied = admit({ sub: 'u2', groups: ['guests'], level: 1 }, auth)
  t.equal(denied.allowed, false)
  t.equal(denied.identity.user.id, 'u2', 'the identity is known for the log line')
  const broken = admit({ sub: 'u3' }, auth)
  t.equal(broken.allowed, false)
  t.equal(broken.identity.moderator, false)
  t.equal(broken.ruleErrors.length, 2)
  t.match(broken.ruleErrors[0], /^USE_RULE: /)
  t.match(broken.ruleErrors[1], /^claims\.level > 3: /)
})

t.test('the outcome table: errors have a level, pages that are not errors answer 200 and log nothing', async (t) => {
  const codes = Object.keys(OUTCOMES) as OutcomeCode[]
  t.equal(codes.length, 19)
  for (const code of codes) {
    const o = OUTCOMES[code]
    if (o.level === undefined) t.equal(o.status, 200, code)
    else t.ok(o.status >= 400 && o.status < 600, code)
  }
  t.equal(OUTCOMES.ACCESS_DENIED.signIn, 'denied')
  t.equal(OUTCOMES.IDP_TIMEOUT.signIn, 'failed')
  t.equal(asSidecarError(new TypeError('secret-laden message')).code, 'INTERNAL')
  t.equal(asSidecarError(new TypeError('secret-laden message')).detail, 'TypeError', 'only the name of a foreign error')
})
