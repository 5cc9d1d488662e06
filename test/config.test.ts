import t from 'tap'
import { ConfigError, loadConfig, parseListenAddress, splitTopLevel, VARIABLES, SECRET_VARIABLES, type Env } from '../src/config/load.js'
import { GROUPS, VARIABLE_TABLE, defaultText, type Variable } from '../src/config/variables.js'

const base: Env = {
  PUBLIC_URL: 'https://meet.example.com',
  OIDC_ISSUER: 'https://idp.example.com/realms/x',
  OIDC_CLIENT_ID: 'jitsi',
  OIDC_CLIENT_SECRET: 'client-secret',
  JWT_APP_ID: 'my-app',
  JWT_APP_SECRET: 'app-secret-of-32-bytes-0123456789',
  COOKIE_SECRET: 'c'.repeat(32),
}

const problems = (env: Env, readFile?: (p: string) => string): string[] => {
  try {
    loadConfig(env, readFile)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems]
    throw err
  }
  return []
}

t.test('defaults', async (t) => {
  const c = loadConfig(base)
  t.equal(c.publicOrigin, 'https://meet.example.com')
  t.equal(c.publicProtocol, 'https')
  t.equal(c.upstream.href, 'http://127.0.0.1/')
  t.same(c.listen, { host: '0.0.0.0', port: 8080 })
  t.equal(c.logLevel, 'info')
  const a = c.auth!
  t.equal(a.pathPrefix, '/jitsi/')
  t.equal(a.useRule.source, 'true')
  t.equal(a.oidc.scopes, 'openid profile email')
  t.equal(a.oidc.groupsClaim, 'groups')
  t.equal(a.oidc.redirectUri, 'https://meet.example.com/jitsi/callback')
  t.equal(a.oidc.timeoutMs, 10_000)
  t.equal(a.oidc.allowHttp, false)
  t.same(
    { ...a.jwt },
    {
      appId: 'my-app', alg: 'HS256', secret: 'app-secret-of-32-bytes-0123456789', privateKeyFile: '', keyId: undefined, publicKeysDir: undefined, keyReloadSeconds: 30,
      issuer: 'my-app', audience: 'my-app', subject: '*', subjectDefault: '*', roomClaim: 'room', ttlSeconds: 300, delivery: 'query',
      idAttribute: 'sub', nameAttribute: 'name', mailAttribute: 'email', avatarAttribute: 'picture', group: undefined,
    },
  )
  t.equal(a.cookie.secure, true)
  t.equal(a.cookie.sessionTtlSeconds, 28800)
  t.equal(a.guestAccess, false)
  t.equal(a.oidc.userinfo, 'auto')
  t.equal(a.oidc.postLogoutRedirectUri, 'https://meet.example.com/jitsi/signed-out')
  t.equal(a.roles.moderatorRule.source, 'false')
  t.equal(a.roles.features.size, 0)
  t.ok(Object.isFrozen(c) && Object.isFrozen(a) && Object.isFrozen(a.jwt), 'frozen')
})

t.test('every problem is reported at once, each naming its variable', async (t) => {
  const p = problems({ JWT_ALG: 'ES256', LISTEN_ADDRESS: 'nope', SESSION_TTL_SECONDS: '-1', ENABLE_AUTH: 'maybe', COOKIE_SECRET: 'short' })
  const text = p.join('\n')
  for (const name of ['PUBLIC_URL', 'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'JWT_APP_ID', 'JWT_APP_SECRET', 'JWT_ALG', 'LISTEN_ADDRESS', 'ENABLE_AUTH', 'COOKIE_SECRET']) {
    t.match(text, new RegExp(`^${name}`, 'm'), `names ${name}`)
  }
  t.match(text, /JWT_ALG: must be one of HS256, HS384, HS512, RS256, RS384, RS512 \(what Jitsi's Prosody verifies/)
  const err = (() => { try { loadConfig({}) } catch (e) { return e as Error } return undefined })()
  t.match(err?.message, /^invalid configuration:\n {2}- PUBLIC_URL: required/)
})

t.test('bad values', async (t) => {
  const cases: [string, Env, RegExp][] = [
    ['PUBLIC_URL with path', { PUBLIC_URL: 'https://meet.example.com/meet' }, /PUBLIC_URL: must be an origin only/],
    ['PUBLIC_URL not a URL', { PUBLIC_URL: 'meet.example.com' }, /PUBLIC_URL: not a URL/],
    ['PUBLIC_URL ftp', { PUBLIC_URL: 'ftp://meet.example.com' }, /PUBLIC_URL: must be http/],
    ['UPSTREAM_URL https', { UPSTREAM_URL: 'https://127.0.0.1' }, /UPSTREAM_URL: must be an http/],
    ['PATH_PREFIX without slashes', { PATH_PREFIX: 'jitsi' }, /PATH_PREFIX: must look like/],
    ['PATH_PREFIX root', { PATH_PREFIX: '/' }, /PATH_PREFIX/],
    ['USE_RULE syntax', { USE_RULE: "inGroup('x'" }, /USE_RULE: /],
    ['USE_RULE not bool', { USE_RULE: '1 + 1' }, /USE_RULE: the rule gives a int/],
    ['USE_RULE empty-ish', { USE_RULE: '   ' }, /USE_RULE: the rule is empty/],
    ['http issuer off loopback', { OIDC_ISSUER: 'http://idp.example.com' }, /OIDC_ISSUER: plain http is refused/],
    ['scopes without openid', { OIDC_SCOPES: 'profile email' }, /OIDC_SCOPES: must include openid/],
    ['timeout out of range', { OIDC_TIMEOUT_SECONDS: '0' }, /OIDC_TIMEOUT_SECONDS: must be a whole number from 1 to 120/],
    ['key set refresh out of range', { OIDC_JWKS_REFRESH_SECONDS: '0' }, /OIDC_JWKS_REFRESH_SECONDS: must be a whole number from 1 to 86400/],
    ['key set refresh not a number', { OIDC_JWKS_REFRESH_SECONDS: '10m' }, /OIDC_JWKS_REFRESH_SECONDS: must be a whole number from 1 to 86400/],
    ['ttl not a number', { JWT_TTL_SECONDS: '5m' }, /JWT_TTL_SECONDS: must be a whole number/],
    ['JWT_ALG lowercase', { JWT_ALG: 'hs256' }, /JWT_ALG: must be one of/],
    ['JWT_ALG none', { JWT_ALG: 'none' }, /JWT_ALG: must be one of/],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, /LOG_LEVEL: must be one of/],
    ['ACCESS_LOG', { ACCESS_LOG: 'verbose' }, /ACCESS_LOG: must be one of all, errors, off, got "verbose"/],
    ['secret and file', { JWT_APP_SECRET_FILE: '/x' }, /JWT_APP_SECRET: set either JWT_APP_SECRET or JWT_APP_SECRET_FILE, not both/],
    ['example placeholder', { OIDC_CLIENT_SECRET: 'replace-with-the-client-secret-from-your-identity-provider' }, /OIDC_CLIENT_SECRET: is still the example's placeholder \(replace-with-…\)/],
    ['example placeholder as the second cookie key', { COOKIE_SECRET: `${'c'.repeat(32)}, replace-with-at-least-32-random-bytes-openssl-rand-base64-32` }, /COOKIE_SECRET: is still the example's placeholder/],
    ['second cookie key short', { COOKIE_SECRET: `${'c'.repeat(32)},short` }, /COOKIE_SECRET: key 2 is 5 bytes/],
    ['JWT_SUBJECT blank', { JWT_SUBJECT: ' ' }, /JWT_SUBJECT: must not be empty/],
    ['MODERATOR_RULE syntax', { MODERATOR_RULE: 'inGroup(' }, /MODERATOR_RULE: /],
    ['unknown feature', { JWT_FEATURES: 'recording=true,teleport=true' }, /JWT_FEATURES: "teleport=true" is not feature=rule with a known feature \(recording, livestreaming, transcription, outbound-call, sip-outbound-call, create-polls, send-groupchat, file-upload, list-visitors, flip\)/],
    ['feature without rule', { JWT_FEATURES: 'recording' }, /JWT_FEATURES: "recording" is not feature=rule/],
    ['feature twice', { JWT_FEATURES: 'flip=true,flip=false' }, /JWT_FEATURES: flip is given twice/],
    ['feature rule syntax', { JWT_FEATURES: "recording=inGroup('x'" }, /JWT_FEATURES \(recording\): /],
    ['room claim', { JWT_ROOM_CLAIM: 'all' }, /JWT_ROOM_CLAIM: must be one of room, \*/],
    ['JWT_GROUP claim without name', { JWT_GROUP: 'claim:' }, /JWT_GROUP: claim: needs a claim name/],
    ['GUEST_ACCESS', { GUEST_ACCESS: 'sometimes' }, /GUEST_ACCESS: must be 1 or 0/],
    ['tenant sub without a default', { JWT_SUBJECT: '{tenant}' }, /JWT_SUBJECT_DEFAULT: required with JWT_SUBJECT=\{tenant\}/],
    ['groups separator', { OIDC_GROUPS_SEPARATOR: 'x' }, /OIDC_GROUPS_SEPARATOR: use one or more of/],
    // Blank would silently become `*`, a sub that matches every tenant.
    ['tenant sub with a blank default', { JWT_SUBJECT: '{tenant}', JWT_SUBJECT_DEFAULT: ' ' }, /JWT_SUBJECT_DEFAULT: required with JWT_SUBJECT=\{tenant\}/],
    ['TRUSTED_PROXIES entry', { TRUSTED_PROXIES: '10.0.0.0/8, 10.0.0.0/33' }, /TRUSTED_PROXIES: "10.0.0.0\/33" is not an IP address or CIDR range/],
    ['admin port shared', { ADMIN_LISTEN_ADDRESS: ':8080' }, /ADMIN_LISTEN_ADDRESS: must differ from LISTEN_ADDRESS/],
    ['JWT_PUBLIC_KEYS_DIR missing', { JWT_ALG: 'RS256', JWT_PUBLIC_KEYS_DIR: '/nonexistent' }, /JWT_PUBLIC_KEYS_DIR: \/nonexistent is not a readable folder/],
  ]
  for (const [name, env, re] of cases) t.match(problems({ ...base, ...env }).join('\n'), re, name)
})

t.test('secrets from files', async (t) => {
  const files: Record<string, string> = { '/run/s/placeholder': 'replace-with-the-client-secret-from-your-identity-provider\n', '/run/s/client': 'from-file\n', '/run/s/cookie': `${'k'.repeat(32)},${'o'.repeat(32)}\n`, '/run/s/empty': '' }
  const read = (p: string) => {
    if (p in files) return files[p]!
    throw Object.assign(new Error('nope'), { code: 'ENOENT' })
  }
  const env = { ...base, OIDC_CLIENT_SECRET: undefined, OIDC_CLIENT_SECRET_FILE: '/run/s/client', COOKIE_SECRET: '', COOKIE_SECRET_FILE: '/run/s/cookie' }
  const c = loadConfig(env, read)
  t.equal(c.auth!.oidc.clientSecret, 'from-file')
  t.same(c.auth!.cookie.secrets, ['k'.repeat(32), 'o'.repeat(32)])
  t.match(problems({ ...env, OIDC_CLIENT_SECRET_FILE: '/run/s/missing' }, read).join('\n'), /OIDC_CLIENT_SECRET_FILE: cannot read \/run\/s\/missing \(ENOENT\)/)
  t.match(problems({ ...env, OIDC_CLIENT_SECRET_FILE: '/run/s/empty' }, read).join('\n'), /OIDC_CLIENT_SECRET_FILE: \/run\/s\/empty is empty/)
  t.match(problems({ ...env, OIDC_CLIENT_SECRET_FILE: '/run/s/placeholder' }, read).join('\n'), /OIDC_CLIENT_SECRET_FILE: is still the example's placeholder/)
})

t.test('ENABLE_AUTH=0 needs only PUBLIC_URL', async (t) => {
  const c = loadConfig({ PUBLIC_URL: 'http://meet.example.com', ENABLE_AUTH: '0', UPSTREAM_URL: 'http://127.0.0.1:8000' })
  t.equal(c.auth, null)
  t.equal(c.publicProtocol, 'http')
})

t.test('overrides', async (t) => {
  const c = loadConfig({ ...base, PUBLIC_URL: 'http://localhost:8080', JWT_ALG: 'HS512', JWT_APP_SECRET: 'x'.repeat(64), JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud', JWT_SUBJECT: 'meet.jitsi', OIDC_ISSUER: 'http://127.0.0.1:9000', PATH_PREFIX: '/auth/jitsi/', ENABLE_AUTH: 'true', USE_RULE: '1' })
  const a = c.auth!
  t.equal(a.jwt.alg, 'HS512')
  t.equal(a.jwt.issuer, 'iss')
  t.equal(a.jwt.audience, 'aud')
  t.equal(a.jwt.subject, 'meet.jitsi')
  t.equal(a.oidc.allowHttp, true, 'loopback issuer may be http')
  t.equal(a.oidc.redirectUri, 'http://localhost:8080/auth/jitsi/callback')
  t.equal(a.cookie.secure, false)
  t.equal(loadConfig({ ...base, OIDC_ISSUER: 'http://keycloak.internal', OIDC_ALLOW_HTTP: '1' }).auth!.oidc.allowHttp, true)
  t.same(loadConfig({ ...base, TRUSTED_PROXIES: ' 10.0.0.0/8,,fd00::1 ' }).trustedProxies, [
    { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
    { address: 'fd00::1', prefix: 128, family: 'ipv6' },
  ])
})

t.test('public-key algorithms', async (t) => {
  const { rsaKey, tempDir } = await import('./fixtures/keys.js')
  const { writeFileSync } = await import('node:fs')
  const { generateKeyPairSync } = await import('node:crypto')
  const dir = tempDir()
  writeFileSync(`${dir}/good.pem`, rsaKey().pkcs1)
  writeFileSync(`${dir}/small.pem`, rsaKey(1024).pkcs8)
  writeFileSync(`${dir}/ec.pem`, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  const rs = { ...base, JWT_APP_SECRET: undefined, JWT_ALG: 'RS256' }
  const c = loadConfig({ ...rs, JWT_PRIVATE_KEY_FILE: `${dir}/good.pem`, JWT_KEY_ID: 'k1', JWT_PUBLIC_KEYS_DIR: dir, JWT_KEY_RELOAD_SECONDS: '5' })
  t.match({ ...c.auth!.jwt }, { alg: 'RS256', secret: '', privateKeyFile: `${dir}/good.pem`, keyId: 'k1', publicKeysDir: dir, keyReloadSeconds: 5 })
  t.match(problems(rs).join('\n'), /JWT_PRIVATE_KEY_FILE: required/)
  t.notMatch(problems(rs).join('\n'), /JWT_APP_SECRET/, 'no shared secret needed')
  t.match(problems({ ...rs, JWT_PRIVATE_KEY_FILE: `${dir}/small.pem` }).join('\n'), /JWT_PRIVATE_KEY_FILE: .*small\.pem is a 1024-bit RSA key; at least 2048/)
  t.match(problems({ ...rs, JWT_PRIVATE_KEY_FILE: `${dir}/ec.pem` }).join('\n'), /JWT_PRIVATE_KEY_FILE: .*is a ec key/)
  t.match(problems({ ...rs, JWT_PRIVATE_KEY_FILE: `${dir}/none.pem` }).join('\n'), /JWT_PRIVATE_KEY_FILE: .*none\.pem cannot be read \(ENOENT\)/)
  t.match(problems({ ...rs, JWT_PRIVATE_KEY_FILE: `${dir}/good.pem`, JWT_KEY_ID: 'a\tb' }).join('\n'), /JWT_KEY_ID: any text of 1 to 256 characters without control characters/)
  for (const alg of ['ES256', 'PS256', 'EdDSA', 'none', 'rs256', 'HS1024']) {
    t.match(problems({ ...base, JWT_ALG: alg }).join('\n'), /JWT_ALG: must be one of HS256, HS384, HS512, RS256, RS384, RS512 \(what Jitsi's Prosody verifies: no ES\*, PS\*, EdDSA or none\)/, alg)
  }
})

t.test('JWT_APP_SECRET at least as long as the hash (RFC 7518 § 3.2), directly or from a file', async (t) => {
  for (const [alg, needed] of [['HS256', 32], ['HS384', 48], ['HS512', 64]] as const) {
    t.match(problems({ ...base, JWT_ALG: alg, JWT_APP_SECRET: 'k'.repeat(needed - 1) }).join('\n'), new RegExp(`JWT_APP_SECRET: is ${needed - 1} bytes; ${alg} needs at least ${needed} \\(RFC 7518 § 3\\.2\\), e\\.g\\. \`openssl rand -base64 ${needed}\``), alg)
    t.same(problems({ ...base, JWT_ALG: alg, JWT_APP_SECRET: 'k'.repeat(needed) }), [], `${needed} bytes are enough for ${alg}`)
  }
  // Bytes, not characters: 16 two-byte characters are 32 bytes.
  t.same(problems({ ...base, JWT_APP_SECRET: 'é'.repeat(16) }), [])
  const { tempDir } = await import('./fixtures/keys.js')
  const { writeFileSync } = await import('node:fs')
  const dir = tempDir()
  writeFileSync(`${dir}/short`, 'short-secret\n')
  t.match(problems({ ...base, JWT_APP_SECRET: undefined, JWT_APP_SECRET_FILE: `${dir}/short` }).join('\n'), /JWT_APP_SECRET: is 12 bytes; HS256 needs at least 32/)
})

t.test('roles and features', async (t) => {
  const a = loadConfig({ ...base, MODERATOR_RULE: "inGroup('staff')", JWT_FEATURES: "recording=inGroup('a') || 'x' in ['y', 'z'], livestreaming=false , flip=1", JWT_GROUP: 'claim:org', JWT_SUBJECT: '{tenant}', JWT_SUBJECT_DEFAULT: 'meet.jitsi', JWT_ROOM_CLAIM: '*', GUEST_ACCESS: '1', OIDC_USERINFO: '1' }).auth!
  t.same([...a.roles.features.keys()], ['recording', 'livestreaming', 'flip'])
  t.equal(a.roles.features.get('recording')?.source, " inGroup('a') || 'x' in ['y', 'z']".slice(1))
  t.same(a.jwt.group, { claim: 'org' })
  t.same(loadConfig({ ...base, JWT_GROUP: 'acme' }).auth!.jwt.group, { value: 'acme' })
  t.equal(a.jwt.roomClaim, '*')
  t.equal(a.guestAccess, true)
  t.equal(a.oidc.userinfo, 'always')
  t.same(splitTopLevel("a=f(1, 2),b='x,y',c=[1,2]"), ['a=f(1, 2)', "b='x,y'", 'c=[1,2]'])
  t.same(splitTopLevel(''), [])
})

t.test('the policy fingerprint changes with anything that decides access or claims', async (t) => {
  const p = (env: Env) => loadConfig({ ...base, ...env }).auth!.policy
  t.equal(p({}), p({}), 'deterministic: two configurations built alike get the same fingerprint')
  for (const env of [{ USE_RULE: '1' }, { MODERATOR_RULE: 'true' }, { JWT_FEATURES: 'flip=true' }, { JWT_NAME_ATTRIBUTE: 'nick' }, { OIDC_GROUPS_CLAIM: 'roles' }, { OIDC_USERINFO: '1' }, { JWT_GROUP: 'x' }]) {
    t.not(p(env), p({}), JSON.stringify(env))
  }
  t.equal(p({ JWT_TTL_SECONDS: '600' }), p({}), 'token lifetime is not policy')
  // Changed once on purpose: OIDC_USERINFO=auto (issue 16) can bring claims sessions made before lacked.
  t.equal(p({}), 'cQV55lG51pZx-ale', 'unchanged by refactoring: a new fingerprint signs everyone out')
})

t.test('parseListenAddress', async (t) => {
  t.same(parseListenAddress('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000 })
  t.same(parseListenAddress(':9000'), { host: '0.0.0.0', port: 9000 })
  t.same(parseListenAddress('[::]:8080'), { host: '::', port: 8080 })
  t.equal(parseListenAddress('8080'), undefined)
  t.equal(parseListenAddress('host:99999'), undefined)
})

t.test('docs/configuration.md documents exactly the variables in the table', async (t) => {
  const { readFileSync } = await import('node:fs')
  const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8')
  // Rows `| \`NAME\` | default | meaning |`, each under a `## Section` heading.
  const rows = new Map<string, { section: string; default: string; meaning: string }>()
  let section = ''
  for (const line of doc.split('\n')) {
    section = /^## (.+)$/.exec(line)?.[1] ?? section
    const row = /^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| (.*) \|$/.exec(line)
    if (!row) continue
    t.notOk(rows.has(row[1]!), `${row[1]} documented once`)
    rows.set(row[1]!, { section, default: row[2]!, meaning: row[3]! })
  }
  t.equal(rows.size, VARIABLE_TABLE.length, 'as many rows as variables')
  for (const v of VARIABLE_TABLE as readonly Variable[]) {
    const row = rows.get(v.name)
    if (!row) {
      t.fail(`${v.name} is not documented`)
      continue
    }
    t.equal(row.section, GROUPS[v.group], `${v.name} is in its section`)
    t.equal(row.default, defaultText(v), `${v.name}'s default`)
    if (v.kind === 'int') t.match(row.meaning, `${v.min} to ${v.max}`, `${v.name}'s range`)
    if (v.kind === 'enum' || v.kind === 'features') for (const value of v.values) t.match(row.meaning, `\`${value}\``, `${v.name} allows ${value}`)
    if (v.secret) t.match(row.meaning, `\`${v.name}_FILE\``, `${v.name} can come from a file`)
  }
  for (const name of rows.keys()) t.ok((VARIABLES as readonly string[]).includes(name), `${name} is a variable`)
  for (const v of SECRET_VARIABLES) t.ok(VARIABLES.includes(v), `${v} listed`)
})

t.test('every default is a valid value: setting them all changes nothing', async (t) => {
  const defaults = Object.fromEntries((VARIABLE_TABLE as readonly Variable[]).flatMap((v) => (v.default === undefined ? [] : [[v.name, v.default]])))
  const implicit = loadConfig(base)
  const explicit = loadConfig({ ...base, ...defaults })
  t.equal(JSON.stringify(explicit), JSON.stringify(implicit))
  t.equal(explicit.auth!.policy, implicit.auth!.policy)
})
