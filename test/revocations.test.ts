import t from 'tap'
import { Revocations } from '../src/signin/revocations.js'
import { RevocationRelay } from '../src/signin/relay.js'
import { createLogger } from '../src/ops/log.js'
import type { Session } from '../src/signin/cookies.js'

const session = (sub: string, sid: string | undefined, createdAt: number): Session => ({
  identity: { user: { id: sub }, moderator: false, features: {} }, policy: 'p', sid: 'ours', createdAt, idp: { sub, ...(sid ? { sid } : {}) },
})

t.test('by sid, by sub before the logout, for a session lifetime', async (t) => {
  let now = 1_000_000
  const r = new Revocations(3600, () => now)
  const heard: unknown[] = []
  r.onRevoke((x) => heard.push(x))
  t.equal(r.revoke({ at: 5 }), false, 'naming nothing revokes nothing')
  r.revoke({ sid: 's1', at: 100 })
  t.ok(r.isRevoked(session('alice', 's1', 50)))
  t.notOk(r.isRevoked(session('alice', 's2', 50)), 'another IdP session of the same person')
  r.revoke({ sid: 'dwho', at: 100 })
  t.ok(r.isRevoked(session('dwho', undefined, 50)), "an IdP without sids in its ID tokens (LemonLDAP::NG): its logout's sid is the sub")
  t.notOk(r.isRevoked(session('dwho', 'other', 50)), 'a session with a sid of its own matches on that sid only')
  t.notOk(r.isRevoked(session('dwho', undefined, 101)), 'and a sign-in after that logout is not ended by it')
  r.revoke({ sub: 'bob', at: 200 }, false)
  t.ok(r.isRevoked(session('bob', 'x', 200)), 'began at the logout')
  t.notOk(r.isRevoked(session('bob', 'y', 201)), 'a sign-in after the logout')
  t.notOk(r.isRevoked({ ...session('bob', 'x', 1), idp: undefined }), 'a session from before the IdP session was kept')
  t.equal(heard.length, 2, 'only relayed revocations go to the listeners')
  now += 3601_000
  t.notOk(r.isRevoked(session('alice', 's1', 50)), 'forgotten once no session could still live')
})

t.test('relayed messages: signed with a shared secret, recent', async (t) => {
  const log = createLogger('silent')
  const relay = new RevocationRelay(['secret-one-0123456789abcdef0123456789'], undefined, log)
  const rotated = new RevocationRelay(['secret-two-0123456789abcdef0123456789', 'secret-one-0123456789abcdef0123456789'], undefined, log)
  const now = Date.now()
  const body = JSON.stringify({ sid: 's', at: 1, sent: Math.floor(now / 1000) })
  const { createHmac, hkdfSync } = await import('node:crypto')
  const mac = (secret: string, b: string) => createHmac('sha256', Buffer.from(hkdfSync('sha256', secret, 'jitsi-oidc-sidecar', 'revocation-relay-v1', 32))).update(b).digest('base64url')
  const good = mac('secret-one-0123456789abcdef0123456789', body)
  t.same(relay.accept(body, good, now), { sid: 's', sub: undefined, at: 1 })
  t.same(rotated.accept(body, good, now), { sid: 's', sub: undefined, at: 1 }, 'any secret of the list verifies')
  t.equal(relay.accept(body, mac('another-secret-0123456789abcdef01234', body), now), undefined, 'another deployment')
  t.equal(relay.accept(body.replace('"s"', '"t"'), good, now), undefined, 'altered')
  t.equal(relay.accept(body, undefined, now), undefined)
  t.equal(relay.accept(body, good, now + 601_000), undefined, 'stale')
  const empty = JSON.stringify({ at: 1, sent: Math.floor(now / 1000) })
  t.equal(relay.accept(empty, mac('secret-one-0123456789abcdef0123456789', empty), now), undefined, 'naming nothing')
  await relay.send({ sid: 's', at: 1 }) // no peers: nothing to do, and no throw
})
