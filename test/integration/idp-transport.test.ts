/**
 * The IdP's TLS and address, with real components on loopback: a throw-away CA
 * and certificates made by openssl, https servers in front of the real
 * oidc-provider IdP, and the sidecar's OidcClient with the dispatcher it makes
 * itself. Issue 16, items 4 (TLS failures named, OIDC_CA_FILE) and 9
 * (OIDC_INTERNAL_URL: the sidecar's own calls to another address while
 * everything people and tokens see stays public).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { ConfigError, loadConfig, type Env, type OidcConfig } from '../../src/config/load.js'
import { OidcClient } from '../../src/oidc/client.js'
import { loadIdpModules } from '../../src/oidc/modules.js'
import { idpDispatcher, tlsProblem } from '../../src/oidc/transport.js'
import { runCheck } from '../../src/commands/check.js'
import { startTestIdp } from '../fixtures/idp.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { tempDir } from '../fixtures/keys.js'
import { CLIENT_ID, CLIENT_SECRET } from '../fixtures/stack.js'

const PUBLIC_NAME = 'idp.example.test'

// ---- a throw-away CA and server certificates ----

const dir = tempDir()
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const openssl = (...args: string[]): void => {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`)
}
writeFileSync(join(dir, 'x509.cnf'), `[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[public]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:${PUBLIC_NAME},IP:127.0.0.1
[other]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example.test
[req]
distinguished_name = dn
[dn]
`)
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
function makeCa(name: string): void {
  openssl('req', '-x509', ...ecKey, '-config', 'x509.cnf', '-extensions', 'ca', '-subj', `/CN=${name}`, '-days', '2', '-keyout', `${name}.key`, '-out', `${name}.pem`)
}
function makeCert(name: string, section: string, ca: string): void {
  openssl('req', '-new', ...ecKey, '-config', 'x509.cnf', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`)
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', 'x509.cnf', '-extensions', section, '-out', `${name}.pem`)
}
makeCa('test-ca')
makeCa('unrelated-ca')
makeCert('public', 'public', 'test-ca')
makeCert('other', 'other', 'test-ca')
const pem = (name: string) => readFileSync(join(dir, `${name}.pem`), 'utf8')
const caFile = join(dir, 'test-ca.pem')
const bundleFile = join(dir, 'bundle.pem')
writeFileSync(bundleFile, `Some CA bundles have text between the certificates.\n${pem('unrelated-ca')}\n${pem('test-ca')}`)

// ---- the IdP, and servers in front of it that note what each request looked like ----

interface Seen {
  readonly host: string | undefined
  /** The TLS server name (SNI) the client sent; undefined over plain http. */
  readonly servername: string | false | undefined
  readonly url: string | undefined
}

const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: ['https://meet.example.com/jitsi/callback'] })
t.teardown(() => idp.close())
// Endpoints are built on the request's origin (oidc-provider does): the issuer too, so the IdP answers for the origin it is asked by.
rewriteIdpAnswers(idp, '/.well-known/openid-configuration', (body) => {
  body.issuer = new URL(String(body.authorization_endpoint)).origin
})
// The plain-http server below stands for a cluster-internal hop behind TLS offloading: X-Forwarded-Proto says https.
idp.provider.proxy = true

const seen: Seen[] = []
function toIdp(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ host: req.headers.host, servername: (req.socket as TLSSocket).servername ?? undefined, url: req.url })
  idp.server.emit('request', req, res)
}

async function listen(server: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
  return (server.address() as AddressInfo).port
}

/** https with a certificate for idp.example.test and 127.0.0.1, sent without its CA (as most servers do). */
const httpsPort = await listen(createHttpsServer({ key: readFileSync(join(dir, 'public.key')), cert: pem('public') }, toIdp))
/** The same certificate sent with its CA: the chain ends at a root nobody trusts. */
const chainPort = await listen(createHttpsServer({ key: readFileSync(join(dir, 'public.key')), cert: `${pem('public')}${pem('test-ca')}` }, toIdp))
/** A certificate (from the same CA) for another name. */
const otherPort = await listen(createHttpsServer({ key: readFileSync(join(dir, 'other.key')), cert: pem('other') }, toIdp))
/** Plain http, as inside a cluster behind TLS offloading. */
const plainPort = await listen(createHttpServer((req, res) => {
  req.headers['x-forwarded-proto'] = 'https'
  toIdp(req, res)
}))
const idpHttpPort = Number(new URL(idp.issuer).port)

// ---- the sidecar's side ----

const base: Env = {
  PUBLIC_URL: 'https://meet.example.com', OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET,
  JWT_APP_ID: 'app', JWT_APP_SECRET: 'x'.repeat(32).repeat(32), COOKIE_SECRET: 'y'.repeat(32),
}
const oidcConfig = (env: Env): OidcConfig => loadConfig({ ...base, ...env }).auth!.oidc

/** Discovery as the sidecar does it: the client's own dispatcher, the error the client throws. */
async function discover(env: Env): Promise<{ issuer?: string; authorization?: string; error?: Error }> {
  const client = new OidcClient(oidcConfig(env))
  try {
    const meta = (await client.configuration()).serverMetadata()
    return { issuer: meta.issuer, authorization: meta.authorization_endpoint }
  } catch (err) {
    return { error: err as Error }
  } finally {
    await client.close()
  }
}

function problemsOf(env: Env): string {
  try {
    loadConfig({ ...base, ...env })
    return ''
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n')
    throw err
  }
}

t.test('an IdP behind a private CA: the failure names the code and OIDC_CA_FILE', async (t) => {
  const { error } = await discover({ OIDC_ISSUER: `https://127.0.0.1:${httpsPort}` })
  t.ok(error, 'discovery fails')
  t.equal(tlsProblem(error), "TLS: the IdP's certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): give its CA with OIDC_CA_FILE (or NODE_EXTRA_CA_CERTS); if a public CA signed it, the IdP must also send the intermediate certificates")

  const chain = await discover({ OIDC_ISSUER: `https://127.0.0.1:${chainPort}` })
  t.equal(tlsProblem(chain.error), "TLS: the IdP's certificate chain ends at a CA that is not trusted (SELF_SIGNED_CERT_IN_CHAIN): give that CA with OIDC_CA_FILE (or NODE_EXTRA_CA_CERTS)")
})

t.test('OIDC_CA_FILE: the CA is trusted for the IdP, besides the usual roots', async (t) => {
  const issuer = `https://127.0.0.1:${httpsPort}`
  const d = await discover({ OIDC_ISSUER: issuer, OIDC_CA_FILE: caFile })
  t.error(d.error)
  t.equal(d.issuer, issuer)
  t.same(oidcConfig({ OIDC_ISSUER: issuer, OIDC_CA_FILE: caFile }).caCertificates, [pem('test-ca').trim()])
  const bundle = await discover({ OIDC_ISSUER: `https://127.0.0.1:${chainPort}`, OIDC_CA_FILE: bundleFile })
  t.error(bundle.error, 'a bundle of several CAs, with text between them')
  t.equal(oidcConfig({ OIDC_ISSUER: issuer, OIDC_CA_FILE: bundleFile }).caCertificates?.length, 2)
})

t.test('NODE_EXTRA_CA_CERTS still counts beside OIDC_CA_FILE (Node drops it from a connection given its own CA list)', async (t) => {
  const before = process.env.NODE_EXTRA_CA_CERTS
  t.teardown(() => {
    if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS
    else process.env.NODE_EXTRA_CA_CERTS = before
  })
  const unrelated = join(dir, 'unrelated-ca.pem')
  process.env.NODE_EXTRA_CA_CERTS = caFile
  t.error((await discover({ OIDC_ISSUER: `https://127.0.0.1:${httpsPort}`, OIDC_CA_FILE: unrelated })).error)
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'missing.pem')
  t.match(tlsProblem((await discover({ OIDC_ISSUER: `https://127.0.0.1:${httpsPort}`, OIDC_CA_FILE: unrelated })).error), /UNABLE_TO_VERIFY_LEAF_SIGNATURE/, 'a file that cannot be read adds nothing')
})

t.test('a certificate for another name: the ALTNAME message names the host asked for', async (t) => {
  const { error } = await discover({ OIDC_ISSUER: `https://127.0.0.1:${otherPort}`, OIDC_CA_FILE: caFile })
  t.match(tlsProblem(error), /^TLS: the IdP's certificate does not name the host asked for, 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\); it names DNS:other\.example\.test: OIDC_ISSUER must use a name the certificate has/)
})

t.test('TLS to a plain-http port is named as such', async (t) => {
  const { error } = await discover({ OIDC_ISSUER: `https://127.0.0.1:${idpHttpPort}` })
  t.match(tlsProblem(error), /^TLS: the IdP's port does not answer in TLS \(ERR_SSL_WRONG_VERSION_NUMBER\): is it plain http\?/)
})

t.test('check prints the TLS cause of a failed discovery', async (t) => {
  const lines: string[] = []
  const status = await runCheck({}, { env: { ...base, OIDC_ISSUER: `https://127.0.0.1:${httpsPort}` }, out: (line) => lines.push(line) })
  t.equal(status, 1)
  const text = lines.join('\n')
  t.match(text, /^FAIL {2}identity provider: IDP_UNAVAILABLE: discovery: TLS: the IdP's certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): give its CA with OIDC_CA_FILE/m)
  t.equal(text.split('UNABLE_TO_VERIFY_LEAF_SIGNATURE): give').length, 2, 'said once')
})

t.test('OIDC_INTERNAL_URL over https: connects to the internal address, with the public Host and TLS name', async (t) => {
  const issuer = `https://${PUBLIC_NAME}:${httpsPort}`
  seen.length = 0
  const d = await discover({ OIDC_ISSUER: issuer, OIDC_CA_FILE: caFile, OIDC_INTERNAL_URL: `https://127.0.0.1:${httpsPort}` })
  t.error(d.error)
  t.equal(d.issuer, issuer, 'iss stays public')
  t.equal(d.authorization, `${issuer}/auth`, 'so do the URLs people use')
  t.same(seen, [{ host: `${PUBLIC_NAME}:${httpsPort}`, servername: PUBLIC_NAME, url: '/.well-known/openid-configuration' }], 'the Host header and SNI are the public ones')

  const unresolved = await discover({ OIDC_ISSUER: issuer, OIDC_CA_FILE: caFile })
  t.ok(unresolved.error, 'without it, the public name does not resolve here')
  t.equal(tlsProblem(unresolved.error), undefined, 'and that is no TLS problem')
})

t.test('OIDC_INTERNAL_URL over https checks the certificate against the public name', async (t) => {
  const { error } = await discover({ OIDC_ISSUER: `https://${PUBLIC_NAME}:${otherPort}`, OIDC_CA_FILE: caFile, OIDC_INTERNAL_URL: `https://127.0.0.1:${otherPort}` })
  t.match(tlsProblem(error), /does not name the host asked for, idp\.example\.test \(ERR_TLS_CERT_ALTNAME_INVALID\); it names DNS:other\.example\.test: .*with OIDC_INTERNAL_URL too, the certificate must name OIDC_ISSUER's host/)
})

t.test('OIDC_INTERNAL_URL over plain http: the public Host, no TLS', async (t) => {
  const issuer = `https://${PUBLIC_NAME}:${httpsPort}`
  seen.length = 0
  const d = await discover({ OIDC_ISSUER: issuer, OIDC_INTERNAL_URL: `http://127.0.0.1:${plainPort}` })
  t.error(d.error)
  t.equal(d.issuer, issuer)
  t.same(seen, [{ host: `${PUBLIC_NAME}:${httpsPort}`, servername: undefined, url: '/.well-known/openid-configuration' }])
})

t.test("only the issuer's origin is redirected: another origin (a jwks_uri elsewhere) connects as usual", async (t) => {
  const modules = await loadIdpModules()
  const dispatcher = idpDispatcher(modules, oidcConfig({ OIDC_ISSUER: `https://${PUBLIC_NAME}:${httpsPort}`, OIDC_INTERNAL_URL: `http://127.0.0.1:${plainPort}` }))
  t.teardown(() => dispatcher.close())
  const get = async (url: string) => (await modules.fetch(url, { dispatcher })).json() as Promise<{ issuer?: string; keys?: unknown[] }>
  seen.length = 0
  t.ok((await get(`https://${PUBLIC_NAME}:${httpsPort}/jwks`)).keys, 'the issuer origin: to the internal address')
  t.ok((await get(`http://127.0.0.1:${idpHttpPort}/jwks`)).keys, 'another origin: straight to it')
  t.same(seen.map((s) => s.host), [`${PUBLIC_NAME}:${httpsPort}`], 'only the first went through the internal address')
  // Same host, another port (or scheme): another origin, not redirected.
  await t.rejects(get(`https://${PUBLIC_NAME}:${otherPort}/jwks`))
  t.equal(seen.length, 1)
})

t.test('the configuration refuses what cannot work, saying why', async (t) => {
  const issuer = { OIDC_ISSUER: `https://${PUBLIC_NAME}` }
  const key = join(dir, 'public.key')
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not a certificate\n')
  const broken = join(dir, 'broken.pem')
  writeFileSync(broken, `${pem('test-ca')}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`)
  t.match(problemsOf({ ...issuer, OIDC_CA_FILE: key }), `OIDC_CA_FILE: ${key} holds a PRIVATE KEY, not only certificates: give the CA certificates alone (-----BEGIN CERTIFICATE----- blocks)`)
  t.match(problemsOf({ ...issuer, OIDC_CA_FILE: garbage }), `OIDC_CA_FILE: ${garbage} is not PEM CA certificates: it has no -----BEGIN CERTIFICATE----- block`)
  t.match(problemsOf({ ...issuer, OIDC_CA_FILE: broken }), `OIDC_CA_FILE: ${broken} has a certificate that does not parse (number 2 of 2)`)
  t.match(problemsOf({ ...issuer, OIDC_CA_FILE: join(dir, 'missing.pem') }), /OIDC_CA_FILE: .*missing\.pem cannot be read \(ENOENT\)/)
  t.equal(problemsOf({ ...issuer, OIDC_CA_FILE: caFile }), '')

  t.match(problemsOf({ ...issuer, OIDC_INTERNAL_URL: 'http://keycloak.auth.svc.cluster.local:8080/realms/x' }), /OIDC_INTERNAL_URL: must be an origin only/)
  t.match(problemsOf({ ...issuer, OIDC_INTERNAL_URL: 'keycloak:8080' }), /OIDC_INTERNAL_URL: must be http:\/\/ or https:\/\//)
  t.match(problemsOf({ ...issuer, OIDC_INTERNAL_URL: 'http://keycloak.auth.svc.cluster.local:8080' }), /OIDC_INTERNAL_URL: plain http is refused off loopback: use https \(the IdP's certificate must name OIDC_ISSUER's host\), or set OIDC_ALLOW_HTTP=1/)
  const internal = oidcConfig({ ...issuer, OIDC_INTERNAL_URL: 'http://keycloak.auth.svc.cluster.local:8080', OIDC_ALLOW_HTTP: '1' })
  t.equal(internal.internalUrl?.href, 'http://keycloak.auth.svc.cluster.local:8080/')
  t.equal(oidcConfig({ ...issuer, OIDC_INTERNAL_URL: 'https://keycloak-internal:8443' }).internalUrl?.host, 'keycloak-internal:8443')
  const plain = oidcConfig(issuer)
  t.equal(plain.internalUrl, undefined)
  t.equal(plain.caCertificates, undefined)
})

t.test('tlsProblem: each kind of TLS failure, wherever it is in the causes', async (t) => {
  const failed = (code: string, extra: object = {}) => new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }, extra) })
  t.equal(tlsProblem(failed('DEPTH_ZERO_SELF_SIGNED_CERT')), "TLS: the IdP's certificate is self-signed and not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): give that certificate with OIDC_CA_FILE (or NODE_EXTRA_CA_CERTS)")
  t.match(tlsProblem(failed('UNABLE_TO_GET_ISSUER_CERT_LOCALLY')), /^TLS: the IdP's certificate is not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\): give its CA with OIDC_CA_FILE \(or NODE_EXTRA_CA_CERTS\)/)
  t.equal(tlsProblem(failed('CERT_HAS_EXPIRED')), "TLS: the IdP's certificate, or one in its chain, has expired (CERT_HAS_EXPIRED): renew it at the IdP (and check this host's clock)")
  t.equal(tlsProblem(failed('CERT_NOT_YET_VALID')), "TLS: the IdP's certificate is not valid yet (CERT_NOT_YET_VALID): check this host's clock, and the dates of the IdP's certificate")
  t.equal(tlsProblem(failed('CERT_UNTRUSTED')), "TLS: the IdP's certificate is not trusted (CERT_UNTRUSTED): give its CA with OIDC_CA_FILE (or NODE_EXTRA_CA_CERTS)")
  t.match(tlsProblem(failed('CERT_REVOKED')), /^TLS: the IdP's certificate was refused \(CERT_REVOKED\)/)
  t.equal(tlsProblem(failed('ERR_TLS_HANDSHAKE_TIMEOUT')), 'TLS: the connection to the IdP failed in the TLS handshake (ERR_TLS_HANDSHAKE_TIMEOUT)')
  t.match(tlsProblem(failed('ERR_TLS_CERT_ALTNAME_INVALID', { host: 'idp\u0007.example', cert: { subjectaltname: 'DNS:a.example' } })), /host asked for, idp\?\.example \(ERR_TLS_CERT_ALTNAME_INVALID\); it names DNS:a\.example: /)
  t.match(tlsProblem(failed('ERR_TLS_CERT_ALTNAME_INVALID')), /^TLS: the IdP's certificate does not name the host asked for \(ERR_TLS_CERT_ALTNAME_INVALID\): /)
  const deep = new Error('discovery', { cause: new Error('wrapped', { cause: new AggregateError([new Error('ipv6'), Object.assign(new Error('v4'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' })]) }) })
  t.match(tlsProblem(deep), /\(SELF_SIGNED_CERT_IN_CHAIN\)/, 'through causes and an AggregateError')
  const loop: Error & { cause?: unknown } = new Error('loop')
  loop.cause = loop
  t.equal(tlsProblem(loop), undefined, 'a cause cycle ends')
  for (const other of [failed('ECONNREFUSED'), failed('UND_ERR_CONNECT_TIMEOUT'), failed('IDP_UNAVAILABLE'), new Error('x'), 'text', undefined, null, { code: 42 }]) {
    t.equal(tlsProblem(other), undefined, `not TLS: ${String((other as { cause?: { code?: string } })?.cause?.code ?? other)}`)
  }
})
