import t from 'tap'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { loadConfig } from '../src/config.js'
import { KeyStore } from '../src/keys.js'
import { NBF_SKEW_SECONDS, TokenSigner, buildClaims, userFromClaims } from '../src/token.js'

const config = loadConfig({
  PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's',
  JWT_APP_ID: 'my-app', JWT_APP_SECRET: 'a-shared-secret-of-enough-length!!', COOKIE_SECRET: 'x'.repeat(32),
  JWT_NAME_ATTRIBUTE: 'preferred_username',
})
const jwt = config.auth!.jwt

t.test('userFromClaims maps attributes and leaves out what is missing or not a string', async (t) => {
  t.same(userFromClaims({ sub: 'u1', preferred_username: 'alice', email: 'a@x.org' }, jwt), { id: 'u1', name: 'alice', email: 'a@x.org' })
  t.same(userFromClaims({ sub: 'u1', email: ['a@x.org'], preferred_username: '' }, jwt), { id: 'u1' })
  t.same(userFromClaims({ sub: 12345 }, jwt), { id: '12345' }, 'numbers become strings')
  t.same(userFromClaims({ sub: { nested: true }, preferred_username: null }, jwt), {})
})

t.test('buildClaims follows what Prosody checks', async (t) => {
  const c = buildClaims({ id: 'u1', name: 'Alice' }, jwt, 't%c3%a4st', 1_700_000_000)
  t.same(c, {
    iss: 'my-app', aud: 'my-app', sub: '*', room: 't%c3%a4st',
    iat: 1_700_000_000, nbf: 1_700_000_000 - NBF_SKEW_SECONDS, exp: 1_700_000_300,
    context: { user: { id: 'u1', name: 'Alice' } },
  })
  t.type(c.aud, 'string', 'aud is a string, never an array')
})

t.test('sign and verify', async (t) => {
  const signer = new TokenSigner(await KeyStore.load(jwt), jwt)
  const now = Date.now()
  const token = await signer.mint({ id: 'u1' }, 'myroom', now)
  t.same(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' })
  // Verify the way Prosody does: shared secret, exact iss/aud.
  const { payload } = await jwtVerify(token, new TextEncoder().encode(jwt.secret), { issuer: 'my-app', audience: 'my-app', algorithms: ['HS256'] })
  t.equal(payload.room, 'myroom')
  t.equal(payload.sub, '*')

  t.equal(await signer.isUsableFor(token, 'myroom', now), true)
  t.equal(await signer.isUsableFor(token, 'other', now), false, 'other room')
  t.equal(await signer.isUsableFor(token, 'myroom', now + 295_000), false, 'about to expire')
  t.equal(await signer.isUsableFor(token, 'myroom', now + 400_000), false, 'expired')
  t.equal(await signer.isUsableFor(`${token}x`, 'myroom', now), false, 'bad signature')
  t.equal(await signer.isUsableFor('garbage', 'myroom', now), false)
  t.equal(await signer.isUsableFor('x'.repeat(9000), 'myroom', now), false)
  const wildcard = await signer.mint({ id: 'u1' }, '*', now)
  t.equal(await signer.isUsableFor(wildcard, 'anything', now), true, 'room * fits every room')
  const other = new TokenSigner(await KeyStore.load({ ...jwt, secret: 'another-secret-another-secret-xx' }), jwt)
  t.equal(await signer.isUsableFor(await other.mint({}, 'myroom', now), 'myroom', now), false, 'another key')
  const hs512 = new TokenSigner(await KeyStore.load({ ...jwt, alg: 'HS512' }), { ...jwt, alg: 'HS512' })
  t.same(decodeProtectedHeader(await hs512.mint({}, 'r')), { alg: 'HS512', typ: 'JWT' })
  t.equal(await signer.isUsableFor(await hs512.mint({}, 'myroom', now), 'myroom', now), false, 'algorithm pinned')
})
