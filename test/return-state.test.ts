/** The room sealed into the OAuth and logout `state`: only our own, fresh, room-shaped values open. */
import t from 'tap'
import { CookieCodec, TX_TTL_SECONDS } from '../src/signin/cookies.js'
import { MAX_STATE } from '../src/signin/decide.js'
import { RETURN_TTL_SECONDS, openReturn, sealReturn } from '../src/signin/return-state.js'

const codec = new CookieCodec(['k'.repeat(32)], true)
const prefix = '/jitsi/'

t.test('a sealed room opens to a new visit of it, with the restart mark', async (t) => {
  t.same(await openReturn(codec, await sealReturn(codec, { room: 'MyRoom' }), prefix), { target: { room: 'MyRoom', tenant: undefined, query: '', hash: '', electron: false }, again: false })
  t.same(await openReturn(codec, await sealReturn(codec, { room: 'Standup', tenant: 'team' }, true), prefix), { target: { room: 'Standup', tenant: 'team', query: '', hash: '', electron: false }, again: true })
  const state = await sealReturn(codec, { room: 'r'.repeat(200), tenant: 't'.repeat(56) })
  t.ok(state.length <= MAX_STATE, `the longest carried room makes a state of ${state.length} characters, within what a callback accepts`)
  t.notMatch(state, /MyRoom|Standup/, 'no room name in the clear')
})

t.test('anything else opens to nothing', async (t) => {
  const tooLong = await sealReturn(codec, { room: 'r'.repeat(257) })
  t.match(tooLong, /^[\w-]{43}$/, 'a room too long to carry: a random state')
  t.equal(await openReturn(codec, tooLong, prefix), undefined)
  t.equal(await openReturn(codec, undefined, prefix), undefined)
  t.equal(await openReturn(codec, '', prefix), undefined)
  t.equal(await openReturn(codec, 'forged', prefix), undefined)
  const other = new CookieCodec(['o'.repeat(32)], true)
  t.equal(await openReturn(codec, await sealReturn(other, { room: 'MyRoom' }), prefix), undefined, 'sealed with another key')
  const tx = await codec.seal('tx', { room: 'MyRoom' }, TX_TTL_SECONDS)
  t.equal(await openReturn(codec, tx, prefix), undefined, 'sealed for another purpose (a transaction)')
  const old = await codec.seal('return', { room: 'MyRoom' }, RETURN_TTL_SECONDS, Date.now() - (RETURN_TTL_SECONDS + 60) * 1000)
  t.equal(await openReturn(codec, old, prefix), undefined, 'older than a day')
  for (const room of ['config.js', 'http-bind', 'jitsi/callback', 'libs/app.bundle.min.js', '\\evil.example']) {
    t.equal(await openReturn(codec, await codec.seal('return', { room }, 60), prefix), undefined, `sealed, but not a room page: ${room}`)
  }
  t.equal(await openReturn(codec, await codec.seal('return', { room: 7 }, 60), prefix), undefined, 'a room that is no string')
  t.equal(await openReturn(codec, await codec.seal('return', { room: 'R', tenant: ['x'] }, 60), prefix), undefined, 'a tenant that is no string')
})
