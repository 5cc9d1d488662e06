/**
 * What operators deploy: the Kubernetes manifests (parse, render, validate
 * against the Kubernetes schemas, env names exactly the sidecar's) and the
 * container image (every file it copies exists; its start command works from
 * the bundle alone, without node_modules).
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { SECRET_VARIABLES, VARIABLES } from '../src/config/load.js'
import { finish, serveEnv, waitForOutput } from './fixtures/process.js'
import { spawn } from 'node:child_process'
import { request } from 'undici'
import { startUpstream } from './fixtures/upstream.js'

const root = new URL('..', import.meta.url).pathname
const k8s = join(root, 'deploy/k8s')
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown }

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  ConfigMap: ConfigMap as never, Secret: Secret as never, Service: Service as never, Deployment: Deployment as never,
  PodDisruptionBudget: PodDisruptionBudget as never, NetworkPolicy: NetworkPolicy as never,
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? yamlFiles(p) : n.endsWith('.yaml') ? [p] : []
  })
}

function parse(text: string, file: string): Obj[] {
  const docs = parseAllDocuments(text)
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`)
  return docs.map((d) => d.toJS() as Obj).filter((o) => o !== null)
}

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0
const known = new Set<string>([...VARIABLES, ...SECRET_VARIABLES.map((v) => `${v}_FILE`)])

t.test('every manifest parses and every Kubernetes object validates against its schema', async (t) => {
  const files = yamlFiles(k8s)
  t.ok(files.length >= 9, `${files.length} files`)
  for (const file of files) {
    for (const obj of parse(readFileSync(file, 'utf8'), file)) {
      if (obj.kind === 'Kustomization') continue
      const Model = MODELS[obj.kind]
      t.ok(Model, `${file}: ${obj.kind} has a schema here`)
      if (Model) t.doesNotThrow(() => new Model(obj as never).validate(), `${file}: ${obj.kind}/${obj.metadata.name}`)
    }
  }
})

for (const overlay of ['hs256', 'rs256']) {
  const skip = kubectl ? false : 'kubectl not installed, so kustomize cannot render the overlay (apt-get install kubernetes-client, or any kubectl)'
  t.test(`overlay ${overlay} renders, validates, and names only variables the sidecar reads`, { skip }, async (t) => {
    const out = execFileSync('kubectl', ['kustomize', join(k8s, 'overlays', overlay)], { encoding: 'utf8' })
    const objs = parse(out, overlay)
    t.same(objs.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service'])
    for (const o of objs) t.doesNotThrow(() => new MODELS[o.kind]!(o as never).validate(), `${o.kind}/${o.metadata.name}`)

    const cm = objs.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> }
    const deployment = objs.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> & { containers: Record<string, any>[]; terminationGracePeriodSeconds: number } } }
    }
    const pod = deployment.spec.template.spec
    const sidecar = pod.containers.find((c) => c.name === 'sidecar')!
    const names = [...Object.keys(cm.data), ...(sidecar.env as { name: string }[]).map((e) => e.name)]
    for (const n of names) t.ok(known.has(n), `${n} is a variable the sidecar reads`)
    for (const n of ['PUBLIC_URL', 'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'JWT_APP_ID', 'COOKIE_SECRET']) t.ok(names.includes(n), `${n} is set`)
    if (overlay === 'hs256') t.ok(names.includes('JWT_APP_SECRET'))
    else t.match(cm.data, { JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: /^\/var\/run\/jitsi-jwt\/key\//, JWT_PUBLIC_KEYS_DIR: String })

    // Kubernetes security practice for the sidecar.
    t.match(sidecar.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } })
    t.match(pod.securityContext, { seccompProfile: { type: 'RuntimeDefault' } })
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) t.equal(sidecar[probe].httpGet.port, 'admin', `${probe} on the admin port`)
    t.equal(sidecar.readinessProbe.httpGet.path, '/readyz')
    t.ok(sidecar.resources.requests.memory && sidecar.resources.limits.memory && sidecar.resources.requests.cpu)
    const grace = Number(cm.data.SHUTDOWN_DELAY_SECONDS) + Number(cm.data.SHUTDOWN_TIMEOUT_SECONDS)
    t.ok(pod.terminationGracePeriodSeconds > grace, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${grace}`)
    t.match(cm.data.UPSTREAM_URL, /^http:\/\/127\.0\.0\.1:80$/, 'jitsi-web in the same pod')
    t.equal(Number(cm.data.LISTEN_ADDRESS?.split(':')[1]), sidecar.ports.find((p: { name: string }) => p.name === 'http').containerPort)
    t.equal(Number(cm.data.ADMIN_LISTEN_ADDRESS?.split(':')[1]), sidecar.ports.find((p: { name: string }) => p.name === 'admin').containerPort)

    type Svc = { metadata: { name: string }; spec: { ports: { targetPort: string; port: number }[]; selector: Record<string, string>; clusterIP?: string } }
    const service = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'jitsi-web') as unknown as Svc
    t.same(service.spec.ports.map((p) => p.targetPort), ['http'], 'the Service reaches the sidecar only, never the admin port')
    t.same(service.spec.selector, deployment.spec.selector.matchLabels)
    // The replicas find each other's admin port for relayed logouts: headless, and LOGOUT_PEERS names it.
    const peers = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'jitsi-web-peers') as unknown as Svc
    t.equal(peers.spec.clusterIP, 'None', 'headless: one address per replica')
    t.same(peers.spec.ports.map((p) => p.targetPort), ['admin'])
    t.same(peers.spec.selector, deployment.spec.selector.matchLabels)
    t.equal(cm.data.LOGOUT_PEERS, `jitsi-web-peers:${peers.spec.ports[0]!.port}`)
    const np = objs.find((o) => o.kind === 'NetworkPolicy') as unknown as { spec: { ingress: { from?: unknown[]; ports: { port: string }[] }[] } }
    const adminRule = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 'admin'))
    t.ok(adminRule?.from, 'the admin port only from the monitoring namespace')
    if (overlay === 'rs256') {
      const mounts = sidecar.volumeMounts as { mountPath: string; subPath?: string }[]
      t.ok(mounts.every((m) => m.subPath === undefined), 'no subPath: rotated Secrets reach the pod')
      t.ok(mounts.some((m) => cm.data.JWT_PRIVATE_KEY_FILE!.startsWith(m.mountPath)))
      // The kubelet makes Secret files root-owned, group fsGroup: the sidecar's user must be able to read the key.
      const key = (pod.volumes as { name: string; secret?: { defaultMode?: number } }[]).find((v) => v.secret)!
      const mode = key.secret!.defaultMode ?? 0o644
      const fsGroup = (pod.securityContext as { fsGroup?: number }).fsGroup
      const readable = (mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && fsGroup !== undefined && fsGroup === sidecar.securityContext.runAsGroup)
      t.ok(readable, `the key (mode ${mode.toString(8)}, fsGroup ${fsGroup}) is readable by uid ${sidecar.securityContext.runAsUser}/gid ${sidecar.securityContext.runAsGroup}`)
      t.equal(mode & 0o004, 0, 'and not by everyone')
    }
  })
}

t.test('the Prosody example is what jitsi-env prints for the rs256 overlay', async (t) => {
  const [cm] = parse(readFileSync(join(k8s, 'examples/prosody-env.yaml'), 'utf8'), 'prosody-env') as unknown as { data: Record<string, string> }[]
  t.match(cm!.data, { ENABLE_AUTH: '1', AUTH_TYPE: 'jwt', JWT_SIGN_TYPE: 'RS256', JWT_ASAP_KEYSERVER: /\/jitsi\/asap$/, TOKEN_AUTH_URL: /\/jitsi\/login\?room=\{room\}$/ })
  t.notOk('JWT_APP_SECRET' in cm!.data, 'no shared secret with a key server')
})

t.test('Dockerfile: every file it copies exists, conventions hold', async (t) => {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8')
  const copies = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/))
  t.ok(copies.length >= 4)
  for (const c of copies) t.ok(existsSync(join(root, c)), `${c} exists`)
  t.match(text, /^FROM node:24/m)
  t.match(text, /^COPY --from=build \/app\/dist\/bundle \.\/dist\/bundle$/m, 'the image gets the bundle')
  t.notMatch(text, /^COPY .*node_modules/m, 'and no node_modules: the bundle holds every production dependency')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }
  t.same(imageCommand(), [pkg.bin['jitsi-oidc-sidecar'], 'serve'], 'the image runs what package.json installs as the command')
  t.match(text, /^USER \d+:\d+$/m, 'numeric non-root user')
  t.match(text, /^EXPOSE 8080 9090$/m)
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n')
  for (const e of ['node_modules', 'dist', 'test', '.git']) t.ok(ignore.includes(e), `.dockerignore: ${e}`)
})

t.test('the image’s start command works from the bundle alone, without node_modules', async (t) => {
  // The build stage: the Dockerfile's build context with the full install (linked: tests make no network requests).
  const build = mkdtempSync(join(tmpdir(), 'jos-build-'))
  t.teardown(() => rmSync(build, { recursive: true, force: true }))
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) cpSync(join(root, f), join(build, f), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'))
  execFileSync('npm', ['run', 'build'], { cwd: build, stdio: 'pipe' })
  // The runtime stage: only what the Dockerfile copies, where no node_modules can be found.
  const app = mkdtempSync(join(tmpdir(), 'jos-image-'))
  t.teardown(() => rmSync(app, { recursive: true, force: true }))
  cpSync(join(build, 'dist/bundle'), join(app, 'dist/bundle'), { recursive: true })
  for (let d = app; ; d = dirname(d)) {
    t.notOk(existsSync(join(d, 'node_modules')), `no ${join(d, 'node_modules')}`)
    if (d === dirname(d)) break
  }
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const sidecar = (env: Record<string, string> = {}) => spawn(process.execPath, imageCommand(), {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...serveEnv(upstream.url, env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const p = sidecar()
  const result = finish(p)
  // Discovery (openid-client and undici's fetch, lazy chunks) runs in the background and reaches the network.
  const discoveryFailed = waitForOutput(p, /"event":"oidc_discovery_failed".*identity provider unreachable/)
  const [, port, adminPort] = await waitForOutput(p, /listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\)/)
  const r = await request(`http://127.0.0.1:${port}/config.js`)
  await r.body.text()
  t.equal(r.statusCode, 200)
  const m = await request(`http://127.0.0.1:${adminPort}/metrics`)
  const metrics = await m.body.text()
  t.match(metrics, /jos_http_requests_total/)
  t.match(metrics, /^process_cpu_user_seconds_total /m, 'default metrics (a lazy chunk)')
  await discoveryFailed
  p.kill('SIGTERM')
  t.equal((await result).code, 0)

  // pino-pretty is in the bundle too (a lazy chunk).
  const pretty = sidecar({ LOG_FORMAT: 'pretty' })
  const prettyResult = finish(pretty)
  await waitForOutput(pretty, /INFO.*: listening on 127\.0\.0\.1:\d+/)
  pretty.kill('SIGTERM')
  t.equal((await prettyResult).code, 0)

  // A lazy chunk missing from the image (a broken build or copy): the sidecar still serves and
  // counts, and the log names what did not load.
  const chunks = join(app, 'dist/bundle')
  const chunkWith = (text: string) => readdirSync(chunks).filter((f) => f.endsWith('.mjs') && readFileSync(join(chunks, f), 'utf8').includes(text))
  const lost = [...chunkWith('process_cpu_user_seconds_total'), ...chunkWith('function authorizationCodeGrant(')]
  t.equal(lost.length, 2, `the chunks of the default metrics and openid-client: ${lost.join(', ')}`)
  for (const f of lost) rmSync(join(chunks, f))
  const broken = sidecar()
  const brokenResult = finish(broken)
  const metricsFailed = waitForOutput(broken, /"event":"metrics_failed".*"default metrics could not be registered"/)
  const oidcFailed = waitForOutput(broken, /"event":"oidc_discovery_failed".*the OIDC client modules did not load: Cannot find module/)
  const [, brokenPort, brokenAdmin] = await waitForOutput(broken, /listening on 127\.0\.0\.1:(\d+) \(admin 127\.0\.0\.1:(\d+)\)/)
  await Promise.all([metricsFailed, oidcFailed])
  const proxied = await request(`http://127.0.0.1:${brokenPort}/config.js`)
  await proxied.body.text()
  t.equal(proxied.statusCode, 200, 'still proxies')
  const room = await request(`http://127.0.0.1:${brokenPort}/SomeRoom`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } })
  t.match(await room.body.text(), /<html/, 'a room page load gets a page')
  t.equal(room.statusCode, 500, 'an internal error, not a hang or a crash')
  const scrape = await request(`http://127.0.0.1:${brokenAdmin}/metrics`)
  const scraped = await scrape.body.text()
  t.equal(scrape.statusCode, 200, 'scrapes still work without the default metrics')
  t.match(scraped, /jos_http_requests_total\{route="room",status="500"\} 1/)
  t.notMatch(scraped, /process_cpu_user_seconds_total/)
  broken.kill('SIGTERM')
  t.equal((await brokenResult).code, 0)
})

/** The image's CMD (after the entrypoint, node). */
function imageCommand(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))
  if (!cmd) throw new Error('Dockerfile: no CMD ["...", ...] line')
  return JSON.parse(cmd[1]!) as string[]
}
