import t from 'tap'
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT, decodeProtectedHeader, jwtVerify } from 'jose'
import { loadConfig, type Env } from '../src/config/load.js'
import { KeyStore } from '../src/token/keys.js'
import { NBF_SKEW_SECONDS, TokenSigner, buildClaims, subjectFor } from '../src/token/sign.js'
import { identityFromClaims, userFromClaims, type Identity } from '../src/identity/claims.js'

const env: Env = {
  PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's',
  JWT_APP_ID: 'my-app', JWT_APP_SECRET: 'a-shared-secret-of-enough-length!!', COOKIE_SECRET: 'x'.repeat(32),
  JWT_NAME_ATTRIBUTE: 'preferred_username',
}
const auth = (more: Env = {}) => loadConfig({ ...env, ...more }).auth!
const jwt = auth().jwt
const alice: Identity = { user: { id: 'u1', name: 'Alice' }, moderator: false, features: {} }

t.test('userFromClaims maps attributes and leaves out what is missing or not a string', async (t) => {
  t.same(userFromClaims({ sub: 'u1', preferred_username: 'alice', email: 'a@x.org', picture: 'https://x/a.png' }, jwt), { id: 'u1', name: 'alice', email: 'a@x.org', avatar: 'https://x/a.png' })
  t.same(userFromClaims({ sub: 'u1', email: ['a@x.org'], preferred_username: '' }, jwt), { id: 'u1' })
  t.same(userFromClaims({ sub: 12345 }, jwt), { id: '12345' }, 'numbers become strings')
  t.same(userFromClaims({ sub: { nested: true }, preferred_username: null, picture: 7.5 }, jwt), {}, 'an avatar must be an http(s) URL')
  t.same(userFromClaims({ sub: 'u', picture: 'data:image/png;base64,AAAA', name: 'x' }, jwt), { id: 'u' }, 'no data: avatars')
  t.same(userFromClaims({ sub: 'u', preferred_username: 'n'.repeat(257), picture: `https://x/${'a'.repeat(1100)}` }, jwt), { id: 'u' }, 'over-long values are left out')
  t.same(userFromClaims({ sub: 'u', avatar_url: 'https://a' }, auth({ JWT_AVATAR_ATTRIBUTE: 'avatar_url' }).jwt), { id: 'u', avatar: 'https://a' })
})

t.test('identityFromClaims: moderator, features, group', async (t) => {
  const a = auth({ MODERATOR_RULE: "inGroup('staff')", JWT_FEATURES: "recording=inGroup('staff'), livestreaming=false,transcription=email.endsWith('@x.org'),outbound-call=1", JWT_GROUP: 'claim:org' })
  const errors: string[] = []
  const staff = identityFromClaims({ sub: 's', groups: ['staff'], org: 'acme', email: 'a@x.org' }, a.jwt, a.roles, (r, e) => errors.push(`${r.source}: ${e.message}`))
  t.same(staff, { user: { id: 's', email: 'a@x.org' }, moderator: true, features: { recording: true, livestreaming: false, transcription: true, 'outbound-call': true }, group: 'acme' })
  const member = identityFromClaims({ sub: 'm', groups: ['users'] }, a.jwt, a.roles, (r, e) => errors.push(`${r.source}: ${e.message}`))
  t.same(member, { user: { id: 'm' }, moderator: false, features: { recording: false, livestreaming: false, transcription: false, 'outbound-call': true } }, 'no org claim: no group')
  t.match(errors.join('\n'), /email\.endsWith/, 'a rule reading a missing claim is false, and reported')
  const constant = auth({ JWT_GROUP: 'tenant-a' })
  t.equal(identityFromClaims({ sub: 'x' }, constant.jwt, constant.roles).group, 'tenant-a')
  t.same(identityFromClaims({ sub: 'x' }, a.jwt, auth().roles).features, {}, 'no JWT_FEATURES: no features')
})

t.test('buildClaims follows what Prosody checks', async (t) => {
  const c = buildClaims(alice, jwt, 'T%C3%A4st', undefined, 1_700_000_000)
  t.same(c, {
    iss: 'my-app', aud: 'my-app', sub: '*', room: 't%c3%a4st',
    iat: 1_700_000_000, nbf: 1_700_000_000 - NBF_SKEW_SECONDS, exp: 1_700_000_300,
    context: { user: { id: 'u1', name: 'Alice', affiliation: 'member' } },
  })
  t.type(c.aud, 'string', 'aud is a string, never an array')
  const mod = buildClaims({ ...alice, moderator: true, features: { recording: true, flip: false }, group: 'g' }, jwt, 'R', undefined, 0)
  t.same(mod.context, { user: { id: 'u1', name: 'Alice', moderator: 'true', affiliation: 'owner' }, features: { recording: 'true', flip: 'false' }, group: 'g' })
  t.equal(buildClaims(alice, auth({ JWT_ROOM_CLAIM: '*' }).jwt, 'R', undefined, 0).room, '*')
})

t.test('sub from the tenant', async (t) => {
  const a = auth({ JWT_SUBJECT: '{tenant}', JWT_SUBJECT_DEFAULT: 'meet.jitsi' })
  t.equal(subjectFor(a.jwt, 'Acme'), 'acme')
  t.equal(subjectFor(a.jwt, 'Acme.Corp'), 'acme_corp', 'the MUC subdomain: dots become underscores')
  t.equal(subjectFor(a.jwt, 'T%C3%A4nant'), 'tänant', 'decoded, as nginx hands it to config.js')
  t.equal(subjectFor(a.jwt, undefined), 'meet.jitsi')
  t.equal(subjectFor(jwt, 'acme'), '*')
  t.equal(buildClaims(alice, a.jwt, 'Room', 'Acme', 0).sub, 'acme')
})

t.test('sign and verify', async (t) => {
  const signer = new TokenSigner(await KeyStore.load(jwt), jwt)
  const now = Date.now()
  const token = await signer.mint(alice, 'MyRoom', undefined, now)
  t.same(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' })
  // Verify the way Prosody does: shared secret, exact iss/aud.
  const { payload } = await jwtVerify(token, new TextEncoder().encode(jwt.secret), { issuer: 'my-app', audience: 'my-app', algorithms: ['HS256'] })
  t.equal(payload.room, 'myroom')
  t.equal(payload.sub, '*')

  t.equal(await signer.isUsableFor(token, 'MyRoom', undefined, now), true)
  t.equal(await signer.isUsableFor(token, 'myroom', undefined, now), true, 'same room, other case')
  t.equal(await signer.isUsableFor(token, 'Other', undefined, now), false, 'other room')
  t.equal(await signer.isUsableFor(token, 'MyRoom', undefined, now + 295_000), false, 'about to expire')
  t.equal(await signer.isUsableFor(token, 'MyRoom', undefined, now + 400_000), false, 'expired')
  t.equal(await signer.isUsableFor(`${token}x`, 'MyRoom', undefined, now), false, 'bad signature')
  t.equal(await signer.isUsableFor('garbage', 'MyRoom', undefined, now), false)
  t.equal(await signer.isUsableFor('x'.repeat(9000), 'MyRoom', undefined, now), false)
  const wild = auth({ JWT_ROOM_CLAIM: '*' }).jwt
  const wildcard = await new TokenSigner(await KeyStore.load(wild), wild).mint(alice, 'x', undefined, now)
  t.equal(await signer.isUsableFor(wildcard, 'anything', undefined, now), true, 'room * fits every room')
  const other = new TokenSigner(await KeyStore.load({ ...jwt, secret: 'another-secret-another-secret-xx' }), jwt)
  t.equal(await signer.isUsableFor(await other.mint(alice, 'MyRoom', undefined, now), 'MyRoom', undefined, now), false, 'another key')
  const hs512 = new TokenSigner(await KeyStore.load({ ...jwt, alg: 'HS512' }), { ...jwt, alg: 'HS512' })
  t.same(decodeProtectedHeader(await hs512.mint(alice, 'r', undefined)), { alg: 'HS512', typ: 'JWT' })
  t.equal(await signer.isUsableFor(await hs512.mint(alice, 'MyRoom', undefined, now), 'MyRoom', undefined, now), false, 'algorithm pinned')
  const tj = auth({ JWT_SUBJECT: '{tenant}', JWT_SUBJECT_DEFAULT: 'meet.jitsi' }).jwt
  const tenantSigner = new TokenSigner(await KeyStore.load(tj), tj)
  const acme = await tenantSigner.mint(alice, 'Room', 'acme', now)
  t.equal(await tenantSigner.isUsableFor(acme, 'Room', 'acme', now), true)
  t.equal(await tenantSigner.isUsableFor(acme, 'Room', 'other', now), false, 'a token for another tenant is not reused')
})

t.test('HS* tokens are verified in this thread never more loosely than jose\'s jwtVerify', async (t) => {
  const signer = new TokenSigner(await KeyStore.load(jwt), jwt)
  const secret = new TextEncoder().encode(jwt.secret)
  const nowMs = Date.now()
  const now = Math.floor(nowMs / 1000)
  const good = { iss: 'my-app', aud: 'my-app', sub: '*', room: 'myroom', iat: now, nbf: now - 30, exp: now + 300 }
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) =>
    new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret)
  // What jose refuses to sign, signed by hand.
  const signRaw = (header: Record<string, unknown>, claims: Record<string, unknown>) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    return `${input}.${createHmac('sha256', jwt.secret).update(input).digest('base64url')}`
  }
  const token = await sign(good)
  const [h, p, sig] = token.split('.') as [string, string, string]
  const flipLast = (x: string) => x.slice(0, -1) + (x.endsWith('A') ? 'B' : 'A')
  // [case, token, usable]
  const cases: [string, string, boolean][] = [
    ['as we mint it', token, true],
    ['audience in an array', await sign({ ...good, aud: ['x', 'my-app'] }), true],
    ['a kid in the header', await sign(good, { alg: 'HS256', typ: 'JWT', kid: 'k' }), true],
    ['another issuer', await sign({ ...good, iss: 'evil' }), false],
    ['another audience', await sign({ ...good, aud: 'evil' }), false],
    ['no exp', await sign({ ...good, exp: undefined }), false],
    ['exp as a string', await sign({ ...good, exp: String(now + 300) }), false],
    ['expired', await sign({ ...good, exp: now - 1 }), false],
    ['not yet valid', await sign({ ...good, nbf: now + 60 }), false],
    ['nbf as a string', await sign({ ...good, nbf: 'soon' }), false],
    ['iat as a string', await sign({ ...good, iat: 'then' }), false],
    ['no room', await sign({ ...good, room: undefined }), false],
    ['no typ', await sign(good, { alg: 'HS256' }), false],
    ['typ lower case (jose takes it; we never sign it)', await sign(good, { alg: 'HS256', typ: 'jwt' }), false],
    ['crit', signRaw({ alg: 'HS256', typ: 'JWT', crit: ['x'], x: 1 }, good), false],
    ['b64 false', signRaw({ alg: 'HS256', typ: 'JWT', b64: false }, good), false],
    ['signed by hand as we sign (the control)', signRaw({ alg: 'HS256', typ: 'JWT' }, good), true],
    ['another header field', await sign(good, { alg: 'HS256', typ: 'JWT', cty: 'x' }), false],
    ['HS512 with our secret', await sign(good, { alg: 'HS512', typ: 'JWT' }), false],
    ['a payload that is no object', `${h}.${Buffer.from('[1]').toString('base64url')}.${sig}`, false],
    ['the signature altered', `${h}.${p}.${flipLast(sig)}`, false],
    ['the signature with a character more', `${token}A`, false],
    ['no signature', `${h}.${p}.`, false],
    ['alg none', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`, false],
    ['four parts', `${token}.x`, false],
    ['the payload swapped', `${h}.${Buffer.from(JSON.stringify({ ...good, room: '*' })).toString('base64url')}.${sig}`, false],
  ]
  for (const [name, tok, usable] of cases) {
    t.equal(await signer.isUsableFor(tok, 'MyRoom', undefined, nowMs), usable, name)
    if (usable) {
      const { payload } = await jwtVerify(tok, secret, { issuer: 'my-app', audience: 'my-app', algorithms: ['HS256'], typ: 'JWT', requiredClaims: ['exp', 'room'], currentDate: new Date(nowMs) })
      t.equal(payload.room, 'myroom', `${name}: jose takes it too`)
    }
  }
})

t.test('HS* tokens are byte for byte what jose signs', async (t) => {
  // token.ts signs HS* with node:crypto (no thread-pool hop); jose is the reference it must match.
  const unicode = fc.string({ unit: 'grapheme', maxLength: 40 })
  const identity = fc.record({
    user: fc.record({ id: unicode, name: unicode, email: unicode, avatar: unicode }, { requiredKeys: [] }),
    moderator: fc.boolean(),
    features: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.boolean(), { maxKeys: 4 }),
    group: fc.option(unicode, { nil: undefined }),
  })
  for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
    const j = { ...jwt, alg, secret: `${alg}-a-shared-secret-of-enough-length` }
    const signer = new TokenSigner(await KeyStore.load(j), j)
    const secret = new TextEncoder().encode(j.secret)
    let checked = 0
    await fc.assert(fc.asyncProperty(identity, unicode, fc.option(unicode, { nil: undefined }), fc.integer({ min: 0, max: 4_000_000_000 }), async (id, room, tenant, now) => {
      const ours = await signer.mint(id as Identity, encodeURIComponent(room) || 'r', tenant, now * 1000)
      const claims = buildClaims(id as Identity, j, encodeURIComponent(room) || 'r', tenant, now)
      const theirs = await new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(secret)
      checked++
      return ours === theirs
    }), { numRuns: 200 })
    t.equal(checked, 200, `${alg}: 200 random identities, rooms and times, identical tokens`)
  }
})

t.test('an HS* signature needs a secret key, and a secret key never signs another alg', async (t) => {
  const { createSecretKey, generateKeyPairSync } = await import('node:crypto')
  const secret = createSecretKey(Buffer.from(jwt.secret!))
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signerWith = (alg: string, key: typeof secret) => new TokenSigner({ signing: { alg, key } } as unknown as KeyStore, jwt)
  await t.rejects(signerWith('RS256', secret).mint(alice, 'r', undefined), 'a secret key with RS256')
  await t.rejects(signerWith('HS256', privateKey).mint(alice, 'r', undefined), /cannot sign HS256 with a private key/)
  await t.rejects(signerWith('HS1', secret).mint(alice, 'r', undefined), /cannot sign HS1/)
})
