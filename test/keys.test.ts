import t from 'tap'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, jwtVerify, type JWK, type JSONWebKeySet } from 'jose'
import { loadConfig, type JwtConfig } from '../src/config/load.js'
import { KeyStore, kidFileName, kidHash, kidOfFileName, parsePrivateKey, parsePublicKey, type KeyEvent } from '../src/token/keys.js'
import { rsaKey, replaceFile, tempDir } from './fixtures/keys.js'

const k1 = rsaKey()
const k2 = rsaKey()
const k3 = rsaKey()

function rsConfig(files: { key: string; dir?: string; kid?: string }, alg = 'RS256'): JwtConfig {
  return loadConfig({
    PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's',
    JWT_APP_ID: 'app', JWT_ALG: alg, JWT_PRIVATE_KEY_FILE: files.key, JWT_PUBLIC_KEYS_DIR: files.dir, JWT_KEY_ID: files.kid, COOKIE_SECRET: 'x'.repeat(32),
  }).auth!.jwt
}

/** A temporary folder with `privatePem` at key.pem and an empty public/ folder beside it. */
function keyFolder(privatePem: string): { dir: string; key: string; pub: string } {
  const dir = tempDir()
  writeFileSync(join(dir, 'key.pem'), privatePem)
  mkdirSync(join(dir, 'public'))
  return { dir, key: join(dir, 'key.pem'), pub: join(dir, 'public') }
}

const thumb = (pem: string) => calculateJwkThumbprint(parsePublicKey(pem).export({ format: 'jwk' }) as JWK)

t.test('parsing refuses what Prosody cannot use', async (t) => {
  t.ok(parsePrivateKey(k1.pkcs8), 'PKCS#8')
  t.ok(parsePrivateKey(k1.pkcs1), 'PKCS#1')
  t.throws(() => parsePrivateKey(rsaKey(1024).pkcs8), /1024-bit RSA key; at least 2048 bits/)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  t.throws(() => parsePrivateKey(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /is a ec key; Prosody verifies RS\* tokens with RSA keys only/)
  t.throws(() => parsePrivateKey(k1.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString()), /encrypted/)
  t.throws(() => parsePrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n'), /not a PEM private key/)
  t.throws(() => parsePrivateKey(k1.pkcs8.slice(0, 500)), /not a PEM private key/, 'half-written')
  t.ok(parsePublicKey(k1.spki))
  t.throws(() => parsePublicKey(k1.pkcs8), /is a private key/)
  t.throws(() => parsePublicKey(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()), /ec key/)
  t.throws(() => parsePublicKey('junk'), /not a PEM public key/)
  t.equal(kidHash('abc'), createHash('sha256').update('abc').digest('hex'))
})

t.test('RS keys: kid, publication, verification', async (t) => {
  const { dir } = keyFolder(k1.pkcs1)
  const old = await thumb(k2.spki)
  writeFileSync(join(dir, 'public', `${old}.pem`), k2.spki)
  writeFileSync(join(dir, 'public', 'README.txt'), 'ignored')
  mkdirSync(join(dir, 'public', 'folder.pem'))
  const store = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem'), dir: join(dir, 'public') }, 'RS384'))
  const kid = await thumb(k1.spki)
  t.equal(store.signing.kid, kid, 'kid defaults to the RFC 7638 thumbprint')
  t.equal(store.signing.alg, 'RS384')
  t.same(store.published.map((k) => k.kid), [kid, old], 'folders and other files are skipped')
  t.equal(store.byKidHash(kidHash(kid))?.pem, k1.spki)
  t.equal(store.byKidHash(kidHash(old))?.pem, k2.spki)
  t.equal(store.byKidHash(kidHash('nope')), undefined)
  t.ok(store.verifyKey(old)?.equals(k2.publicKey))
  t.equal(store.verifyKey(undefined), undefined)
  const jwks = JSON.parse(store.jwksJson) as JSONWebKeySet
  t.same(jwks.keys.map((k) => [k.kid, k.alg, k.use, k.kty]), [[kid, 'RS384', 'sig', 'RSA'], [old, 'RS384', 'sig', 'RSA']])
  t.notOk(JSON.stringify(jwks).includes('"d"'), 'no private parts')
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS384', kid }).sign(k1.privateKey)
  await t.resolves(jwtVerify(token, createLocalJWKSet(jwks)), 'the JWKS verifies our tokens')

  const named = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem'), kid: 'my-key-1' }))
  t.equal(named.signing.kid, 'my-key-1', 'JWT_KEY_ID names the key')
})

t.test("Jitsi's own kid form: <app>/<name>, with its public keys in percent-encoded files", async (t) => {
  const { dir, pub } = keyFolder(k1.pkcs8)
  writeFileSync(join(pub, `${encodeURIComponent('jitsi/key-0')}.pem`), k2.spki)
  writeFileSync(join(pub, 'bad%zz.pem'), k2.spki)
  const events: KeyEvent[] = []
  const store = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem'), dir: pub, kid: 'jitsi/key-1' }), (e) => events.push(e)).catch((err: Error) => err)
  t.match(String(store), /bad%zz\.pem: the file name is not a percent-encoded kid/, 'a name that does not decode is refused at start-up, naming the file')
  rmSync(join(pub, 'bad%zz.pem'))
  const ok = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem'), dir: pub, kid: 'jitsi/key-1' }))
  t.equal(ok.signing.kid, 'jitsi/key-1')
  t.same(ok.published.map((k) => k.kid), ['jitsi/key-1', 'jitsi/key-0'])
  t.equal(ok.byKidHash(createHash('sha256').update('jitsi/key-1').digest('hex'))?.pem, k1.spki, 'Prosody finds it by the hash of the kid')
  t.equal(ok.byKidHash(kidHash('jitsi/key-0'))?.pem, k2.spki)
  t.equal(kidFileName('jitsi/key-1'), 'jitsi%2Fkey-1.pem')
  t.equal(kidOfFileName('jitsi%2Fkey-1.pem'), 'jitsi/key-1')
  t.equal(kidOfFileName('my-key.pem'), 'my-key', 'a plain kid is its own file name')
  t.equal(kidOfFileName('%0A.pem'), undefined, 'no control characters')
})

t.test('rotation on disk, without a restart', async (t) => {
  const { dir, key: keyFile } = keyFolder(k1.pkcs8)
  const events: KeyEvent[] = []
  const store = await KeyStore.load(rsConfig({ key: keyFile, dir: join(dir, 'public') }), (e) => events.push(e))
  const kid1 = store.signing.kid!
  t.equal(await store.reload(), false, 'nothing changed')

  replaceFile(keyFile, k2.pkcs8)
  t.equal(await store.reload(), true)
  const kid2 = store.signing.kid!
  t.not(kid2, kid1, 'the new key signs under a new kid')
  t.ok(store.verifyKey(kid1)?.equals(k1.publicKey), 'the old key stays published')
  t.ok(store.byKidHash(kidHash(kid1)))
  t.same(events.map((e) => e.event).filter((e) => e.startsWith('key_')), ['key_loaded', 'key_rotated'])

  replaceFile(keyFile, k3.pkcs8.slice(0, 600))
  t.equal(await store.reload(), false, 'a half-written file is ignored')
  t.equal(store.signing.kid, kid2, 'the key in service stays')
  t.match(events.filter((e) => e.level === 'error').at(-1), { event: 'key_reload_failed', message: /not a PEM private key .*; still signing with/ })

  writeFileSync(join(dir, 'public', 'bad.pem'), 'garbage')
  const kid3 = await thumb(k3.spki)
  writeFileSync(join(dir, 'public', `${kid3}.pem`), k3.spki)
  writeFileSync(join(dir, 'public', 'misnamed.pem'), k3.spki)
  t.equal(await store.reload(), true)
  t.ok(store.verifyKey(kid3), 'a public key added to the folder is published')
  t.equal(store.verifyKey('bad'), undefined)
  t.equal(store.verifyKey('misnamed'), undefined)
  const messages = () => events.map((e) => e.message).join('\n')
  t.match(messages(), /bad\.pem: not a PEM public key/)
  t.match(messages(), new RegExp(`misnamed\\.pem: the file name must be the key's kid: ${kid3}\\.pem`))
  writeFileSync(join(dir, 'public', `${kid2}.pem`), k3.spki)
  await store.reload()
  t.ok(store.verifyKey(kid2)?.equals(k2.publicKey), 'a folder file cannot change the key of the kid in service')
  t.match(messages(), /already names a different key/)
})

t.test('retired keys: published while their tokens live, and a kid never comes back with another key', async (t) => {
  const { dir, key: keyFile } = keyFolder(k1.pkcs8)
  let now = 1_000_000
  const events: KeyEvent[] = []
  const jwt = { ...rsConfig({ key: keyFile }), keyId: 'fixed', publicKeysDir: join(dir, 'public') }
  const store = await KeyStore.load(jwt, (e) => events.push(e), undefined, () => now)
  writeFileSync(join(dir, 'public', 'other.pem'), k3.spki)
  await store.reload()
  t.ok(store.verifyKey('other'))
  // The operator removes the file, then re-adds the kid with another key: refused.
  rmSync(join(dir, 'public', 'other.pem'))
  await store.reload()
  t.equal(store.verifyKey('other'), undefined, 'a removed file is no longer published')
  writeFileSync(join(dir, 'public', 'other.pem'), k2.spki)
  await store.reload()
  t.equal(store.verifyKey('other'), undefined, 'the kid cannot come back with another key')
  t.ok(events.some((e) => e.level === 'error' && /other\.pem: kid other already names a different key/.test(e.message)), 'and the refusal is logged')

  const rotating = await KeyStore.load(rsConfig({ key: keyFile }), () => {}, undefined, () => now)
  const kid1 = rotating.signing.kid!
  replaceFile(keyFile, k2.pkcs8)
  await rotating.reload()
  t.ok(rotating.verifyKey(kid1), 'the rotated-out key stays published')
  now += (jwt.ttlSeconds + 121) * 1000
  await rotating.reload()
  t.equal(rotating.verifyKey(kid1), undefined, 'after its tokens expired it is unpublished (unless kept in the folder)')
  t.equal(rotating.byKidHash(kidHash(kid1)), undefined)
})

t.test('a vanishing or unreadable folder keeps the keys in service', async (t) => {
  const { dir } = keyFolder(k1.pkcs8)
  const kid2 = await thumb(k2.spki)
  writeFileSync(join(dir, 'public', `${kid2}.pem`), k2.spki)
  const events: KeyEvent[] = []
  const store = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem'), dir: join(dir, 'public') }), (e) => events.push(e))
  rmSync(join(dir, 'public'), { recursive: true })
  t.equal(await store.reload(), false)
  t.ok(store.verifyKey(kid2), 'still published')
  t.match(events.at(-1), { level: 'error', message: /JWT_PUBLIC_KEYS_DIR .*ENOENT/ })
})

t.test('a Kubernetes Secret update (..data symlink swap) is picked up', async (t) => {
  const dir = tempDir()
  const v1 = join(dir, '..2026_11_27_v1')
  const v2 = join(dir, '..2026_11_27_v2')
  mkdirSync(v1)
  writeFileSync(join(v1, 'key.pem'), k1.pkcs8)
  symlinkSync('..2026_11_27_v1', join(dir, '..data'))
  symlinkSync('..data/key.pem', join(dir, 'key.pem'))
  const store = await KeyStore.load(rsConfig({ key: join(dir, 'key.pem') }))
  const kid1 = store.signing.kid
  mkdirSync(v2)
  writeFileSync(join(v2, 'key.pem'), k2.pkcs8)
  symlinkSync('..2026_11_27_v2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  rmSync(v1, { recursive: true })
  t.equal(await store.reload(), true)
  t.not(store.signing.kid, kid1)
  t.equal(store.signing.kid, await thumb(k2.spki))
})

t.test('a fixed JWT_KEY_ID cannot be given another key', async (t) => {
  const dir = tempDir()
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, k1.pkcs8)
  const events: KeyEvent[] = []
  const store = await KeyStore.load(rsConfig({ key: keyFile, kid: 'fixed' }), (e) => events.push(e))
  replaceFile(keyFile, k2.pkcs8)
  t.equal(await store.reload(), false)
  t.ok(store.verifyKey('fixed')?.equals(k1.publicKey))
  t.match(events.at(-1)?.message, /kid fixed already names a different key \(Prosody caches keys per kid forever\)/)
})

t.test('watch() picks up a rotated file by itself', async (t) => {
  const dir = tempDir()
  const keyFile = join(dir, 'key.pem')
  writeFileSync(keyFile, k1.pkcs8)
  const store = await KeyStore.load(rsConfig({ key: keyFile }))
  const kid1 = store.signing.kid
  const stop = store.watch(1)
  t.teardown(stop)
  replaceFile(keyFile, k2.pkcs8)
  const end = Date.now() + 5000
  while (store.signing.kid === kid1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
  t.not(store.signing.kid, kid1)
})

t.test('a bad start-up state is an error naming the file', async (t) => {
  const { dir } = keyFolder(k1.pkcs8)
  writeFileSync(join(dir, 'public', 'x.pem'), k1.pkcs8)
  await t.rejects(KeyStore.load({ ...rsConfig({ key: join(dir, 'key.pem') }), publicKeysDir: join(dir, 'public') }), /JWT_PUBLIC_KEYS_DIR .*x\.pem: is a private key/)
  rmSync(join(dir, 'public', 'x.pem'))
  writeFileSync(join(dir, 'public', `${await thumb(k1.spki)}.pem`), k3.spki)
  await t.rejects(KeyStore.load({ ...rsConfig({ key: join(dir, 'key.pem') }), publicKeysDir: join(dir, 'public') }), /already names a different key/)
})

t.test('HS keys publish nothing', async (t) => {
  const jwt = loadConfig({ PUBLIC_URL: 'https://m.example', OIDC_ISSUER: 'https://i.example', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', JWT_APP_ID: 'a', JWT_APP_SECRET: 'secret-of-32-bytes-0123456789abcd', COOKIE_SECRET: 'x'.repeat(32) }).auth!.jwt
  const store = await KeyStore.load(jwt)
  t.same(store.published, [])
  t.equal(store.jwksJson, '{"keys":[]}')
  t.equal(store.signing.kid, undefined)
  t.ok(store.verifyKey(undefined))
  t.equal(await store.reload(), false)
  store.watch(1)()
})
