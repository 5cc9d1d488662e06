/**
 * What operators deploy: the Kubernetes manifests as files (parse, validate against the Kubernetes
 * schemas, every file accounted for, no namespace in the examples, secrets only from files the
 * operator writes) and the container image (every file it copies exists; its start command works
 * from the bundle alone, without node_modules). The rendered manifests: deploy-kustomize.test.ts.
 */
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { finish, serveEnv, waitForOutput } from './fixtures/process.js'
import { spawn } from 'node:child_process'
import { request } from 'undici'
import { startUpstream } from './fixtures/upstream.js'
import { MODELS, filesUnder, k8s, kubectl, kustomizations, noKubectl, parse, root } from './fixtures/k8s/render.js'

const ks = kustomizations()

t.test('every manifest parses, every object in a resource file validates, and every file is used', async (t) => {
  const yaml = filesUnder(k8s, (n) => n.endsWith('.yaml'))
  t.ok(yaml.length >= 20, `${yaml.length} YAML files`)
  for (const f of yaml) t.doesNotThrow(() => parse(readFileSync(f, 'utf8'), f), relative(k8s, f))
  t.ok(ks.length >= 10, `${ks.length} kustomizations`)
  // Resource files hold whole objects; patch files are checked through the renderings.
  const resources = ks.flatMap((k) => k.resources.filter((r) => r.endsWith('.yaml')).map((r) => join(k8s, k.dir, r)))
  const patches = ks.flatMap((k) => k.patchFiles.map((p) => join(k8s, k.dir, p)))
  let objects = 0
  for (const file of resources) {
    for (const obj of parse(readFileSync(file, 'utf8'), file)) {
      const Model = MODELS[obj.kind]
      t.ok(Model, `${relative(k8s, file)}: ${obj.kind} has a schema here`)
      if (Model) t.doesNotThrow(() => new Model(obj as never).validate(), `${relative(k8s, file)}: ${obj.kind}/${obj.metadata.name}`)
      objects++
    }
  }
  t.ok(objects >= 10, `${objects} objects in ${resources.length} resource files`)
  // Nothing lies around unused: each YAML file is a kustomization, a resource, a patch, or one of
  // the Helm example's two files for Helm itself.
  const helmOnly = ['examples/helm/plugin.yaml', 'examples/helm/values.yaml'].map((f) => join(k8s, f))
  const used = new Set([...ks.map((k) => join(k8s, k.dir, 'kustomization.yaml')), ...resources, ...patches, ...helmOnly])
  t.same(yaml.filter((f) => !used.has(f)).map((f) => relative(k8s, f)), [], 'no stray YAML file')
  for (const f of helmOnly) t.ok(existsSync(f), relative(k8s, f))
})

t.test('the examples name no namespace: they go where the operator applies them', async (t) => {
  // Except where an ingress controller calls the sidecar from its own namespace, by a name that
  // includes the sidecar's: those choose one, in their kustomization.yaml, and fill it in.
  const crossNamespace = ['examples/ingress-nginx', 'examples/traefik']
  const examples = filesUnder(join(k8s, 'examples'), (n) => n.endsWith('.yaml'))
  t.ok(examples.length >= 8, `${examples.length} files`)
  for (const f of examples) {
    const text = readFileSync(f, 'utf8')
    if (!crossNamespace.some((d) => f === join(k8s, d, 'kustomization.yaml'))) t.notMatch(text, /^\s*namespace:/m, `${relative(k8s, f)} sets no namespace`)
    // Placeholders (SERVICE.NAMESPACE.svc) are filled in by replacements; `<namespace>` is prose.
    t.notMatch(text, /[a-z0-9-]\.svc\b/, `${relative(k8s, f)} names no fixed in-cluster host`)
  }
  // Resource files anywhere: no object carries its own namespace (the overlays set theirs once).
  for (const k of ks) {
    for (const r of k.resources.filter((r) => r.endsWith('.yaml'))) {
      for (const o of parse(readFileSync(join(k8s, k.dir, r), 'utf8'), r)) t.equal(o.metadata.namespace, undefined, `${k.dir}/${r}: ${o.kind}/${o.metadata.name}`)
    }
  }
  const withNamespace = ks.filter((k) => k.namespace !== undefined).map((k) => k.dir).sort()
  t.same(withNamespace, [...crossNamespace, 'overlays/hs256', 'overlays/rs256'], 'only the all-in-one overlays and those examples choose a namespace, in one line each')
})

t.test('secrets come from secret.env, which the operator writes and git ignores', async (t) => {
  const generators = ks.filter((k) => k.secretEnvs.length > 0)
  t.same(generators.map((k) => k.dir).sort(), [
    'examples/envoy-gateway', 'examples/existing-jitsi-web', 'examples/forward-auth-nginx', 'examples/helm', 'examples/ingress-nginx',
    'examples/issuer-only', 'examples/traefik', 'overlays/hs256', 'overlays/rs256',
  ])
  t.ok(readFileSync(join(k8s, '.gitignore'), 'utf8').split('\n').includes('secret.env'), 'deploy/k8s/.gitignore: secret.env')
  const tracked = execFileSync('git', ['ls-files', 'deploy/k8s'], { cwd: root, encoding: 'utf8' }).split('\n')
  t.notOk(tracked.some((f) => f.endsWith('/secret.env')), 'no secret.env is in git')
  for (const k of generators) {
    t.same(k.secretEnvs, ['secret.env'], `${k.dir} reads secret.env`)
    const lines = readFileSync(join(k8s, k.dir, 'secret.env.example'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))
    t.ok(lines.length >= 2, `${k.dir}/secret.env.example: ${lines.length} values`)
    for (const l of lines) t.match(l, /^[A-Z_]+=replace-with-[a-z0-9-]+$/, `${k.dir}: ${l.split('=')[0]} is a placeholder the sidecar refuses`)
    const keys = lines.map((l) => l.split('=')[0])
    t.ok(keys.includes('OIDC_CLIENT_SECRET') && keys.includes('COOKIE_SECRET'), `${k.dir}: the client and cookie secrets`)
  }
  // As shipped, an overlay does not render until secret.env exists: nobody applies placeholders by accident.
  const skip = !kubectl ? noKubectl : existsSync(join(k8s, 'overlays/hs256/secret.env')) ? 'overlays/hs256/secret.env exists here' : false
  t.test('without secret.env, no rendering', { skip }, async (t) => {
    const r = spawnSync('kubectl', ['kustomize', join(k8s, 'overlays/hs256')], { encoding: 'utf8' })
    t.not(r.status, 0)
    t.match(r.stderr, /secret\.env/)
  })
})

t.test('the Helm post-renderer is a POSIX shell script Helm can run', async (t) => {
  const script = join(k8s, 'examples/helm/post-render.sh')
  t.ok((statSync(script).mode & 0o111) !== 0, 'executable')
  t.match(readFileSync(script, 'utf8'), /^#!\/bin\/sh\n/)
  const parsed = spawnSync('sh', ['-n', script])
  t.equal(parsed.status, 0, 'sh -n accepts it')
  const plugin = parse(readFileSync(join(k8s, 'examples/helm/plugin.yaml'), 'utf8'), 'plugin.yaml')[0] as unknown as { type: string; runtimeConfig: { platformCommand: { command: string }[] } }
  t.equal(plugin.type, 'postrenderer/v1', 'a Helm 4 post-renderer plugin')
  t.equal(plugin.runtimeConfig.platformCommand[0]!.command, '${HELM_PLUGIN_DIR}/post-render.sh')
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
