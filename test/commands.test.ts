/** The operator commands: keygen, jitsi-env and check, in process against real files and servers. */
import t from 'tap'
import { statSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCheck } from '../src/commands/check.js'
import { loadConfig, type Env } from '../src/config/load.js'
import { jitsiCustomConfig, jitsiEnv } from '../src/commands/jitsi-env.js'
import { keygen } from '../src/commands/keygen.js'
import { KeyStore, kidHash, parsePrivateKey } from '../src/token/keys.js'
import { startStack, APP_SECRET, COOKIE_SECRET, CLIENT_ID, CLIENT_SECRET } from './fixtures/stack.js'
import { startIdp } from '../src/demo/idp.js'
import { rsaKey, tempDir } from './fixtures/keys.js'

const base: Env = {
  PUBLIC_URL: 'https://meet.example.com', OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's',
  JWT_APP_ID: 'my-app', JWT_APP_SECRET: 'the-shared-secret-0123456789abcdef', COOKIE_SECRET: 'x'.repeat(32),
}

t.test('keygen writes a 0600 key, never overwrites, and reports kid and public key', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'k.pem')
  const r = await keygen({ out, bits: 2048 })
  t.equal(statSync(out).mode & 0o777, 0o600)
  const key = parsePrivateKey(readFileSync(out, 'utf8'))
  t.equal(key.asymmetricKeyDetails?.modulusLength, 2048)
  t.match(r.report, new RegExp(`kid: ${r.kid}`))
  t.match(r.report, new RegExp(`${kidHash(r.kid)}\\.pem`))
  t.match(r.publicPem, /^-----BEGIN PUBLIC KEY-----/)
  const store = await KeyStore.load(loadConfig({ ...base, JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: out }).auth!.jwt)
  t.equal(store.signing.kid, r.kid, 'the printed kid is the one the sidecar derives')
  await t.rejects(keygen({ out, bits: 2048 }), /exists; choose another --out/)
  await t.rejects(keygen({ out: join(dir, 'b.pem'), bits: 1024 }), /--bits must be one of 2048, 3072, 4096/)
  await t.rejects(keygen({ out: join(dir, 'c.pem'), bits: 2048, kid: 'bad\nkid' }), /--kid: any text of 1 to 256 characters without control characters/)
  t.match((await keygen({ out: join(dir, 'j.pem'), bits: 2048, kid: 'jitsi/key-1' })).report, /publish it ahead of a rotation as jitsi%2Fkey-1\.pem in JWT_PUBLIC_KEYS_DIR/, "Jitsi's <app>/<name> kid")
  await t.rejects(keygen({ out: join(dir, 'missing', 'd.pem'), bits: 2048 }), /cannot write .* \(ENOENT\)/)
  const named = await keygen({ out: join(dir, 'e.pem'), bits: 3072, kid: 'k-2026' })
  t.equal(named.kid, 'k-2026')
  t.match(named.report, /set JWT_KEY_ID/)
})

t.test('jitsi-env --custom-config prints the web settings as JavaScript that runs', async (t) => {
  const js = jitsiCustomConfig(loadConfig({ ...base, PATH_PREFIX: '/sso/' }))
  t.match(js, /^config\.tokenAuthInline = true;$/m)
  const config: Record<string, unknown> = {}
  new Function('config', js)(config)
  t.same(config, { tokenAuthUrl: 'https://meet.example.com/sso/login?room={room}', tokenAuthInline: true, tokenLogoutUrl: 'https://meet.example.com/sso/logout' })
  t.match(jitsiEnv(loadConfig(base)), /^# Web settings .*jitsi-env --custom-config$/m, 'the variables say where the rest is')
})

t.test('jitsi-env prints the Jitsi side for HS and RS', async (t) => {
  const hs = jitsiEnv(loadConfig(base))
  t.match(hs, /^ENABLE_AUTH=1$/m)
  t.match(hs, /^AUTH_TYPE=jwt$/m)
  t.match(hs, /^JWT_APP_ID=my-app$/m)
  t.match(hs, /^# JWT_APP_SECRET=<the sidecar's JWT_APP_SECRET; print it with --show-secrets>$/m)
  t.notMatch(hs, /^JWT_APP_SECRET=/m, 'no placeholder that would become a real value')
  t.notMatch(hs, /the-shared-secret/, 'no secret without the flag')
  t.match(hs, /^JWT_ACCEPTED_ISSUERS=my-app$/m)
  t.match(hs, /^JWT_ACCEPTED_AUDIENCES=my-app$/m)
  t.match(hs, /^TOKEN_AUTH_URL=https:\/\/meet\.example\.com\/jitsi\/login\?room=\{room\}$/m)
  t.notMatch(hs, /JWT_SIGN_TYPE|JWT_ASAP_KEYSERVER/)
  t.match(jitsiEnv(loadConfig(base), { showSecrets: true }), /^JWT_APP_SECRET=the-shared-secret-0123456789abcdef$/m)
  t.match(jitsiEnv(loadConfig({ ...base, JWT_ALG: 'HS512', JWT_APP_SECRET: 'x'.repeat(64), JWT_SUBJECT: 'meet.jitsi' })), /^JWT_SIGN_TYPE=HS512$[\s\S]*sub=meet\.jitsi/m)

  const dir = tempDir()
  writeFileSync(join(dir, 'k.pem'), rsaKey().pkcs8)
  const rsConfig = loadConfig({ ...base, JWT_ALG: 'RS384', JWT_PRIVATE_KEY_FILE: join(dir, 'k.pem'), JWT_ISSUER: 'sidecar', PATH_PREFIX: '/sso/' })
  const rs = jitsiEnv(rsConfig, { showSecrets: true })
  t.match(rs, /^JWT_ASAP_KEYSERVER=https:\/\/meet\.example\.com\/sso\/asap$/m)
  t.match(rs, /Prosody must reach this URL/)
  t.match(rs, /^JWT_SIGN_TYPE=RS384$/m)
  t.match(rs, /^JWT_ACCEPTED_ISSUERS=sidecar$/m)
  t.notMatch(rs, /^JWT_APP_SECRET=/m, 'no shared secret in public-key mode')
  t.match(jitsiEnv(rsConfig, { keyserverBase: 'http://jitsi.meet.svc:8080/' }), /^JWT_ASAP_KEYSERVER=http:\/\/jitsi\.meet\.svc:8080\/sso\/asap$/m)
  t.throws(() => jitsiEnv(loadConfig({ PUBLIC_URL: 'https://m.example', ENABLE_AUTH: '0' })), /ENABLE_AUTH=0/)
})

async function check(env: Env, url?: string): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const code = await runCheck({ url }, { env, out: (l) => lines.push(l) })
  return { code, out: lines.join('\n') }
}

t.test('check: every step passes against a real IdP and a running RS256 sidecar', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'key.pem'), rsaKey().pkcs8)
  const env = { JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: join(dir, 'key.pem') }
  const stack = await startStack({ env })
  t.teardown(() => stack.close())
  const full: Env = { PUBLIC_URL: stack.url, OIDC_ISSUER: stack.idp.issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET, JWT_APP_ID: 'test-app', COOKIE_SECRET, ...env }
  const ok = await check(full, stack.url)
  t.equal(ok.code, 0, ok.out)
  t.match(ok.out, /^PASS {2}configuration/m)
  t.match(ok.out, /^PASS {2}signing key: kid /m)
  t.match(ok.out, /^PASS {2}identity provider: discovered http:\/\/127\.0\.0\.1:\d+ at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration$/m)
  t.match(ok.out, /^ {6}ID-token algorithms offered: RS256; usable: RS256 \(HS\* with OIDC_CLIENT_SECRET\)$/m)
  t.match(ok.out, /^ {6}userinfo: yes/m)
  t.match(ok.out, /^ {6}sign-out: end_session_endpoint yes, front-channel logout no, back-channel logout yes$/m, 'what the IdP offers for sign-out')
  t.match(ok.out, /^PASS {2}token:/m)
  t.match(ok.out, /^PASS {2}key server:/m)

  const withKids = await check(full, undefined)
  t.equal(withKids.code, 0)
  t.notMatch(withKids.out, /key server/, 'no URL: no key server step')
  const next = await check({ ...full }, stack.url).then(() => runCheck({ keyserver: `${stack.url}/jitsi/asap`, kids: ['not-published'] }, { env: full, out: () => {} }))
  t.equal(next, 1, '--kid of a key that is not published fails')
  const kid = (await KeyStore.load(loadConfig(full).auth!.jwt)).signing.kid!
  const published: string[] = []
  t.equal(await runCheck({ url: stack.url, kids: [kid] }, { env: full, out: (l) => published.push(l) }), 0)
  t.match(published.join('\n'), new RegExp(`^PASS {2}key ${kid}: published at`, 'm'))
  const lines: string[] = []
  t.equal(await runCheck({ keyserver: `${stack.url}/jitsi/asap/` }, { env: full, out: (l) => lines.push(l) }), 1, 'a trailing slash in JWT_ASAP_KEYSERVER is caught')
  t.match(lines.join('\n'), /FAIL {2}key server: http:\/\/\S+\/jitsi\/asap\/ ends with "\/": Prosody would request \S+\/jitsi\/asap\/\/<sha256 of kid>\.pem \(two slashes\)\. Give it without the trailing slash, in JWT_ASAP_KEYSERVER too: http:\/\/\S+\/jitsi\/asap$/m)
  t.notMatch(lines.join('\n'), /is the sidecar running/, 'not blamed on a stopped sidecar')

  const otherKey = join(dir, 'other.pem')
  writeFileSync(otherKey, rsaKey().pkcs8)
  const wrong = await check({ ...full, JWT_PRIVATE_KEY_FILE: otherKey }, stack.url)
  t.equal(wrong.code, 1)
  t.match(wrong.out, /^FAIL {2}key server: key server answered 404/m, 'a sidecar running another key is caught')
})

t.test('check: failures are named and set the exit status', async (t) => {
  const bad = await check({ ...base, JWT_ALG: 'ES256' })
  t.equal(bad.code, 2)
  t.match(bad.out, /^FAIL {2}configuration: 1 problem/m)
  t.match(bad.out, /JWT_ALG: must be one of/)

  const idpDown = await check({ ...base, OIDC_ISSUER: 'http://127.0.0.1:9', OIDC_TIMEOUT_SECONDS: '1' })
  t.equal(idpDown.code, 1)
  t.match(idpDown.out, /^FAIL {2}identity provider: /m)
  t.match(idpDown.out, /^PASS {2}token:/m, 'the other steps still run')

  const idp = await startIdp({ clientId: 'c', clientSecret: 's', redirectUris: ['https://meet.example.com/jitsi/callback'] })
  t.teardown(() => idp.close())
  const stack = await startStack()
  t.teardown(() => stack.close())
  const hs = await check({ ...base, OIDC_ISSUER: idp.issuer, JWT_APP_SECRET: APP_SECRET }, stack.url)
  t.equal(hs.code, 0, hs.out)
  t.match(hs.out, /^PASS {2}key server: none with a shared secret/m)
  const unreachable = await check({ ...base, OIDC_ISSUER: idp.issuer }, 'http://127.0.0.1:9')
  t.equal(unreachable.code, 1)
  t.match(unreachable.out, /^FAIL {2}key server: cannot reach/m)
  t.equal((await check({ PUBLIC_URL: 'https://m.example', ENABLE_AUTH: '0' })).code, 0)
})
