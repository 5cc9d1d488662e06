/**
 * JWT_DELIVERY=fragment: the token travels after `#` (as a JSON string, the way Jitsi parses the
 * fragment), so no server or access log ever sees it; the one room load after the redirect passes
 * on a sealed, room-bound, 30-second cookie, which that load spends.
 */
import t from 'tap'
import { Browser } from '../fixtures/client.js'
import { verify } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'

t.test('the token after #, one load through, a reload signs in again from the session', async (t) => {
  const s = await startStack({ env: { JWT_DELIVERY: 'fragment', ACCESS_LOG: 'all' } })
  t.teardown(() => s.close())
  const b = new Browser()
  const start = await b.fetch(`${s.url}/acme/MyRoom?lang=de`)
  const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
  t.equal(done.status, 302)
  const url = new URL(done.location!)
  t.equal(url.pathname + url.search, '/acme/MyRoom?lang=de', 'no token in the path or query')
  const m = /^#jwt=(.+)$/.exec(url.hash)
  t.ok(m, 'the token in the fragment')
  const token = JSON.parse(decodeURIComponent(m![1]!)) as string
  t.equal((await verify(token)).room, 'myroom', 'a JSON string, as Jitsi parses fragment values')
  t.ok(done.setCookies.some((c) => c.startsWith('jos_pass=') && /Max-Age=30/i.test(c)), 'the pass for the next load')

  const page = await b.fetch(`${s.url}/acme/MyRoom?lang=de`)
  t.equal(page.status, 200, 'the room page loads (the browser keeps the fragment to itself)')
  t.ok(page.setCookies.some((c) => c.startsWith('jos_pass=') && /Max-Age=0/i.test(c)), 'and spends the pass')
  t.equal(b.cookies(s.url).has('jos_pass'), false)

  const reload = await b.fetch(`${s.url}/acme/MyRoom?lang=de`)
  t.equal(reload.status, 302, 'a reload: back with a fresh token from the session, no loop')
  t.match(reload.location, /#jwt=%22/)
  t.equal((await b.fetch(`${s.url}/Other`)).status, 302, 'the pass is for its room only')
  b.cookies(s.url).delete('jos_pass')
  t.notOk(s.logs.some((l) => l.includes(token)), 'no token in any log line, the access lines included')
  t.ok(s.upstream.seen.every((q) => !(q.url ?? '').includes('jwt')), 'nor did jitsi-web see one')
})

t.test('a pass for another room, another tenant, or sealed with another key opens nothing', async (t) => {
  const s = await startStack({ env: { JWT_DELIVERY: 'fragment' } })
  t.teardown(() => s.close())
  const { CookieCodec } = await import('../../src/signin/cookies.js')
  const ours = new CookieCodec([s.config.auth!.cookie.secrets[0]!], false)
  const theirs = new CookieCodec(['another-cookie-secret-0123456789abcdef'], false)
  for (const [name, value] of [
    ['another room', await ours.seal('pass', { room: 'Other' }, 30)],
    ['another tenant', await ours.seal('pass', { room: 'MyRoom', tenant: 'acme' }, 30)],
    ['another key', await theirs.seal('pass', { room: 'MyRoom' }, 30)],
    ['another purpose', await ours.seal('return', { room: 'MyRoom' }, 30)],
  ] as const) {
    const r = await new Browser().fetch(`${s.url}/MyRoom`, { headers: { cookie: `jos_pass=${value}` } })
    t.equal(r.status, 302, `${name}: to sign in`)
  }
  const good = await new Browser().fetch(`${s.url}/MyRoom`, { headers: { cookie: `jos_pass=${await ours.seal('pass', { room: 'MyRoom' }, 30)}` } })
  t.equal(good.status, 200, 'the control: the right pass lets the load through')
})
