/**
 * Public-key tokens end to end: sign in, then verify the token exactly as
 * Prosody does, fetching `<keyserver>/<hex sha256(kid)>.pem` from the
 * sidecar; rotate the key file on disk and keep every token verifiable.
 */
import t from 'tap'
import { createHash, createPublicKey } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { request } from 'undici'
import { verifyLikeProsody } from '../../src/commands/check.js'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { rsaKey, replaceFile, tempDir } from '../fixtures/keys.js'
import { jwtOf, signIn } from '../fixtures/signin.js'
import { startStack, type Stack } from '../fixtures/stack.js'

/** A token for `room` in browser `b`: from its session when it has one, else through the IdP. */
async function tokenFor(stack: Stack, b: Browser, room: string): Promise<string> {
  return jwtOf((await signIn(stack, b, `/${room}`, 'alice', { session: true })).done.location)
}

/** What Prosody does with JWT_ASAP_KEYSERVER, written out independently of the sidecar's code. */
async function prosodyVerify(stack: Stack, token: string, alg: string) {
  const { kid } = decodeProtectedHeader(token)
  const hash = createHash('sha256').update(kid!).digest('hex')
  const res = await request(`${stack.url}/jitsi/asap/${hash}.pem`)
  const pem = await res.body.text()
  return { status: res.statusCode, type: res.headers['content-type'], pem, verified: await jwtVerify(token, createPublicKey(pem), { algorithms: [alg], issuer: 'test-app', audience: 'test-app' }) }
}

for (const alg of ['RS256', 'RS384', 'RS512']) {
  t.test(`${alg}: tokens verify through the ASAP key server as Prosody fetches it`, async (t) => {
    const dir = tempDir()
    writeFileSync(join(dir, 'key.pem'), rsaKey().pkcs8)
    const stack = await startStack({ env: { JWT_ALG: alg, JWT_PRIVATE_KEY_FILE: join(dir, 'key.pem'), JWT_APP_SECRET: '' } })
    t.teardown(() => stack.close())
    const token = await tokenFor(stack, new Browser(), 'MyRoom')
    const header = decodeProtectedHeader(token)
    t.equal(header.alg, alg)
    t.equal(header.typ, 'JWT')
    t.type(header.kid, 'string')
    const p = await prosodyVerify(stack, token, alg)
    t.equal(p.status, 200)
    t.equal(p.type, 'application/x-pem-file')
    t.match(p.pem, /^-----BEGIN PUBLIC KEY-----\n/)
    t.equal(p.verified.payload.room, 'myroom')
    await t.resolves(verifyLikeProsody(token, { alg: alg as 'RS256', issuers: ['test-app'], audiences: ['test-app'], keyserver: `${stack.url}/jitsi/asap` }))
    await t.rejects(verifyLikeProsody(token, { alg: alg as 'RS256', issuers: ['test-app'], audiences: ['test-app'], keyserver: `${stack.url}/jitsi/asap/` }), /key server answered 404/, 'a trailing slash in JWT_ASAP_KEYSERVER breaks Prosody too (//)')

    const jwks = (await (await request(`${stack.url}/jitsi/jwks.json`)).body.json()) as JSONWebKeySet
    await t.resolves(jwtVerify(token, createLocalJWKSet(jwks)), 'the JWKS verifies the token')
  })
}

t.test('key server answers: HEAD, bad names, methods', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'key.pem'), rsaKey().pkcs1)
  const stack = await startStack({ env: { JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: join(dir, 'key.pem'), JWT_KEY_ID: 'sidecar-1' } })
  t.teardown(() => stack.close())
  const hash = createHash('sha256').update('sidecar-1').digest('hex')
  const head = await request(`${stack.url}/jitsi/asap/${hash}.pem`, { method: 'HEAD' })
  t.equal(head.statusCode, 200)
  t.match(head.headers['cache-control'], /public, max-age=\d+/)
  t.equal(await head.body.text(), '')
  for (const path of [`${hash.toUpperCase()}.pem`, `${'0'.repeat(64)}.pem`, `${hash}`, `${hash}.pem.bak`, 'x.pem', '']) {
    const r = await request(`${stack.url}/jitsi/asap/${path}`)
    await r.body.text()
    t.equal(r.statusCode, 404, `asap/${path}`)
  }
  const post = await request(`${stack.url}/jitsi/asap/${hash}.pem`, { method: 'POST', body: '' })
  await post.body.text()
  t.equal(post.statusCode, 405)
  t.equal(post.headers.allow, 'GET, HEAD')
})

t.test('rotation: a replaced key file is picked up without a restart, old tokens stay verifiable', async (t) => {
  const dir = tempDir()
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, rsaKey().pkcs8)
  const stack = await startStack({ env: { JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: keyFile, JWT_KEY_RELOAD_SECONDS: '1' } })
  t.teardown(() => stack.close())
  const b = new Browser()
  const before = await tokenFor(stack, b, 'RoomA')
  replaceFile(keyFile, rsaKey().pkcs8)
  // The reload (every second) logs the rotation once the new key signs: waited for, not guessed.
  const logged = (event: string) => () => stack.logs.some((l) => l.includes(`"event":"${event}"`))
  t.ok(await eventually(logged('key_rotated')), 'the rotation was logged')
  const after = await tokenFor(stack, b, 'RoomA')
  t.not(decodeProtectedHeader(after).kid, decodeProtectedHeader(before).kid, 'a new kid signs')
  t.equal((await prosodyVerify(stack, before, 'RS256')).status, 200, 'the old kid is still served')
  t.equal((await prosodyVerify(stack, after, 'RS256')).status, 200)

  replaceFile(keyFile, 'not a key')
  // The next reload (every second) fails: waited for, not guessed (1.5 s was not always enough under load).
  t.ok(await eventually(logged('key_reload_failed')), 'the failed reload was logged')
  t.equal(decodeProtectedHeader(await tokenFor(stack, b, 'RoomA')).kid, decodeProtectedHeader(after).kid, 'a broken file keeps the key in service')
  t.match(stack.logs.join('\n'), /"level":"error".*"event":"key_reload_failed"/)
})

t.test('HS mode exposes no key material', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  for (const path of ['/jitsi/jwks.json', `/jitsi/asap/${createHash('sha256').update('x').digest('hex')}.pem`]) {
    const r = await request(`${stack.url}${path}`)
    const body = await r.body.text()
    t.equal(r.statusCode, 404, path)
    t.notMatch(body, /BEGIN|"keys"/)
  }
})
