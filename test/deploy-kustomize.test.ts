/**
 * The Kubernetes manifests as kustomize renders them (docs/kubernetes.md): every kustomization
 * renders, every component is used; every rendering validates against the Kubernetes schemas,
 * names only variables the sidecar reads, carries the one sidecar container of
 * components/sidecar, routes the Service and the NetworkPolicy to the sidecar only, and rolls the
 * pods when a setting changes; the existing-install example and the Helm post-renderer leave the
 * installation's own containers as they were.
 * The examples in the other modes (deploy/k8s/examples/README.md) carry the same container, placed
 * for their MODE, with settings the sidecar starts with: behind jitsi-web's nginx, the Service
 * leads to nginx, the sidecar listens on loopback and jitsi-web gets exactly the shipped snippet;
 * with an ingress controller asking, PATH_PREFIX goes to the sidecar's Service without the
 * question and everything else to jitsi-web after it, with the headers the sidecar reads.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { BlockList } from 'node:net'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SECRET_VARIABLES, VARIABLES, loadConfig } from '../src/config/load.js'
import {
  CHART, HASHED, MODELS, MODE_EXAMPLES, apiView, copyTree, find, injected, k8s, kubectl, kustomizations, noKubectl, parse, render, renderAll,
  renderModeExamples, resolvePort, selects, unhash,
  type Container, type Obj,
} from './fixtures/k8s/render.js'
import { AUTH_URL, routes } from './fixtures/k8s/routes.js'

const known = new Set<string>([...VARIABLES, ...SECRET_VARIABLES.map((v) => `${v}_FILE`)])
/** The sidecar container as components/sidecar defines it: the one source. */
const SOURCE = (parseYaml(readFileSync(join(k8s, 'components/sidecar/container.yaml'), 'utf8')) as { value: Container }[])[0]!.value

/** The examples in the other modes, by layout: behind jitsi-web's nginx in its pod, or on their own, asked by an ingress controller. */
const SAME_POD = ['examples/issuer-only', 'examples/forward-auth-nginx']
const STANDALONE = ['examples/ingress-nginx', 'examples/traefik', 'examples/envoy-gateway']
/** What the sidecar reads of a request it is asked about, besides its method and path: the session cookie, whether it is a page load, the languages for an error page. */
const NAVIGATION_HEADERS = ['cookie', 'accept', 'accept-language', 'sec-fetch-mode', 'sec-fetch-site']
/** The headers that describe the request asked about: each proxy sets its own; passing a browser's adds a second description, which the sidecar refuses. */
const DESCRIBING_HEADERS = ['x-original-url', 'x-original-uri', 'x-original-method', 'x-forwarded-uri', 'x-forwarded-method']
/** The jitsi-web Service the ingress examples route to: docker-jitsi-meet's, as in examples/existing-jitsi-web. */
const JITSI_WEB = { name: 'web', port: 80 }

/** The sidecar container of components/sidecar as a layout places it: these variables set, or removed (undefined). */
function placed(env: Record<string, string | undefined>): Container {
  const c = structuredClone(SOURCE)
  c.env = c.env!.flatMap((e) => (!(e.name in env) ? [e] : env[e.name] === undefined ? [] : [{ ...e, value: env[e.name] }]))
  return c
}

if (!kubectl) t.test('the rendered manifests', { skip: noKubectl }, async () => {})
else {
  const tree = copyTree()
  t.teardown(tree.remove)
  const renderings = renderAll(tree.dir)
  const installs = Object.keys(renderings).filter((k) => k !== 'base')
  const modes = renderModeExamples(tree.dir)
  const everything: Record<string, Obj[]> = { ...renderings, ...modes }

  t.test('every kustomization renders, and every component is used by one that does', async (t) => {
    const ks = kustomizations()
    const all = ks.filter((k) => k.kind === 'Kustomization').map((k) => k.dir).sort()
    t.same(all, [
      'base', 'examples/envoy-gateway', 'examples/existing-jitsi-web', 'examples/forward-auth-nginx', 'examples/ingress-nginx',
      'examples/issuer-only', 'examples/traefik', 'overlays/hs256', 'overlays/rs256',
    ], 'each is rendered here')
    t.same(all, Object.keys(everything).filter((k) => k !== 'examples/helm').sort(), 'by renderAll or renderModeExamples')
    // The Helm example is a component the post-renderer applies to the chart's output.
    const used = new Set<string>(['examples/helm'])
    const walk = (dir: string): void => {
      for (const c of ks.find((k) => k.dir === dir)!.components) {
        const target = join(dir, c).replace(/\/$/, '')
        used.add(target)
        walk(target)
      }
      for (const r of ks.find((k) => k.dir === dir)!.resources) if (ks.some((k) => k.dir === join(dir, r))) walk(join(dir, r))
    }
    for (const dir of [...all, 'examples/helm']) walk(dir)
    const components = ks.filter((k) => k.kind === 'Component').map((k) => k.dir).sort()
    t.ok(components.length >= 6, `${components.length} components`)
    t.same(components.filter((c) => !used.has(c)), [], 'no component is left unused')
  })

  for (const [name, objs] of Object.entries(everything)) {
    t.test(`${name}: every object validates`, async (t) => {
      t.ok(objs.length >= 7, `${objs.length} objects`)
      for (const o of objs) {
        const Model = MODELS[o.kind]
        t.ok(Model, `${o.kind} has a schema here`)
        if (Model) t.doesNotThrow(() => new Model(apiView(o) as never).validate(), `${o.kind}/${o.metadata.name}`)
      }
      t.notMatch(JSON.stringify(objs), /SERVICE|NAMESPACE|PUBLIC-HOST|SCHEME:|FROM-SETTINGS|FROM-SIDECAR/, 'no placeholder is left')
      // The examples go where they are applied; a kustomization with a namespace puts everything in it.
      const namespaces = [...new Set(objs.map((o) => o.metadata.namespace))]
      t.same(namespaces, [kustomizations().find((k) => k.dir === name)?.namespace], `namespaces: ${namespaces.join(', ')}`)
    })
  }

  /** The Services that lead into the sidecar's pod, but for the headless one of the replicas. */
  const frontServices = (objs: Obj[]) => find(objs, 'Service').filter((s) => s.metadata.name !== 'jitsi-web-peers' && selects(s.spec.selector, injected(objs).labels))
  const generatedNames = (objs: Obj[]) => new Set(objs.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret').map((o) => o.metadata.name).filter((n) => HASHED.test(n)))
  const base = injected(renderings.base!)

  for (const name of [...installs, ...Object.keys(modes)]) {
    const objs = everything[name]!
    const proxy = !(name in MODE_EXAMPLES)
    const rs256 = proxy && name !== 'overlays/hs256'

    if (proxy) t.test(`${name}: the sidecar is the one of components/sidecar and reads only its own variables`, async (t) => {
      const { sidecar, containers, env, settings, secret } = injected(objs)
      t.equal(containers.at(-1), sidecar, 'appended: the installation’s containers keep their order')
      t.same(unhash(sidecar, generatedNames(objs)), SOURCE, 'the container of components/sidecar/container.yaml, only the generated names suffixed')
      t.same(unhash(sidecar, generatedNames(objs)), unhash(base.sidecar, generatedNames(renderings.base!)), 'and the same as in the all-in-one base')
      t.ok(settings, 'the settings ConfigMap it reads is in the rendering')
      t.ok(secret, 'the Secret it reads is in the rendering')
      const names = [...Object.keys(settings!.data), ...Object.keys(secret!.data), ...Object.keys(env)]
      t.ok(names.length >= 15, `${names.length} variables`)
      for (const n of names) t.ok(known.has(n), `${n} is a variable the sidecar reads`)
      for (const n of ['PUBLIC_URL', 'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'JWT_APP_ID', 'COOKIE_SECRET', 'LOGOUT_PEERS']) t.ok(names.includes(n), `${n} is set`)
      t.notOk(Object.keys(settings!.data).some((k) => k in env), 'no setting is shadowed by the container’s own env')
      t.notOk(Object.keys(settings!.data).some((k) => SECRET_VARIABLES.includes(k as never)), 'no secret in the ConfigMap')
      if (rs256) {
        t.match(settings!.data, { JWT_ALG: 'RS256', JWT_PRIVATE_KEY_FILE: /^\/var\/run\/jitsi-jwt\/key\//, JWT_PUBLIC_KEYS_DIR: String })
        t.notOk('JWT_APP_SECRET' in secret!.data, 'no shared secret with a key pair')
      } else {
        t.ok('JWT_APP_SECRET' in secret!.data, 'the shared secret')
        t.notOk('JWT_ALG' in settings!.data)
      }
      t.match(env.UPSTREAM_URL, /^http:\/\/127\.0\.0\.1:80$/, 'jitsi-web in the same pod')
      t.equal(Number(env.LISTEN_ADDRESS?.split(':')[1]), resolvePort([sidecar], 'sidecar-http')?.port)
      t.equal(Number(env.ADMIN_LISTEN_ADDRESS?.split(':')[1]), resolvePort([sidecar], 'sidecar-admin')?.port)
    })

    t.test(`${name}: settings and secrets are generated with hash suffixes, and an edit rolls the pods`, async (t) => {
      const { pod, settings, secret } = injected(objs)
      for (const o of [settings!, secret!]) t.match(o.metadata.name, /^jitsi-oidc-sidecar-[a-z0-9]{10}$/, `${o.kind} ${o.metadata.name}`)
      // Every ConfigMap and Secret the pod reads by name exists in the rendering (no dangling, unsuffixed reference).
      const refs = JSON.stringify(pod).matchAll(/"(?:configMapRef|secretRef)":\{"name":"([^"]+)"/g)
      const names = [...refs].map((m) => m[1]!)
      t.ok(names.length >= 2)
      for (const n of names) t.ok(objs.some((o) => o.metadata.name === n), `${n} is in the rendering`)
      if (name === 'overlays/hs256') {
        const jitsiWeb = pod.containers[0] as Container
        t.match(jitsiWeb.envFrom![0]!.configMapRef!.name, /^jitsi-web-env-[a-z0-9]{10}$/, 'jitsi-web’s own environment is generated too')
      }
    })

    if (proxy) t.test(`${name}: people reach the sidecar only`, async (t) => {
      const { containers, labels } = injected(objs)
      const front = frontServices(objs)
      t.equal(front.length, 1, 'one Service in front of the pod')
      const ports = front[0]!.spec.ports as { port: number; targetPort?: string | number }[]
      t.same(ports.map((p) => p.port), [80], 'one port, 80: nothing else of the pod is exposed')
      t.same(resolvePort(containers, ports[0]!.targetPort ?? ports[0]!.port), { container: 'sidecar', port: 8080 }, 'it leads to the sidecar (named ports resolve to the first container with the name)')
      const np = find(objs, 'NetworkPolicy')[0]!
      t.ok(selects(np.spec.podSelector.matchLabels, labels), 'the NetworkPolicy covers the pod')
      const rules = np.spec.ingress as { from?: unknown[]; ports: { port: string | number }[] }[]
      for (const r of rules) for (const p of r.ports) t.equal(resolvePort(containers, p.port)?.container, 'sidecar', `NetworkPolicy port ${p.port} is the sidecar’s`)
    })

    t.test(`${name}: the replicas find each other; the admin port is theirs and monitoring’s only`, async (t) => {
      const { deployment, containers, sidecar, env, labels } = injected(objs)
      const rules = find(objs, 'NetworkPolicy')[0]!.spec.ingress as { from?: unknown[]; ports: { port: string | number }[] }[]
      const admin = rules.filter((r) => r.ports.some((p) => resolvePort(containers, p.port)?.port === 9090))
      t.ok(admin.length >= 1 && admin.every((r) => r.from), 'the admin port only from named peers')
      const peers = find(objs, 'Service', 'jitsi-web-peers')[0]!
      t.equal(peers.spec.clusterIP, 'None', 'headless: one address per replica')
      t.ok(selects(peers.spec.selector, labels))
      t.same(resolvePort([sidecar], peers.spec.ports[0].targetPort), { container: 'sidecar', port: 9090 })
      t.equal(env.LOGOUT_PEERS, `jitsi-web-peers:${peers.spec.ports[0].port}`)
      t.ok(selects(find(objs, 'PodDisruptionBudget')[0]!.spec.selector.matchLabels, labels), 'the PodDisruptionBudget covers the pod')
      t.equal(find(objs, 'PodDisruptionBudget')[0]!.spec.maxUnavailable, 1, 'a drain can proceed even with one replica')
      t.ok(deployment.metadata.annotations?.['jitsi-oidc-sidecar/inject'], 'the sidecar went where the annotation is')
    })

    t.test(`${name}: security, probes, shutdown, spread`, async (t) => {
      const { pod, sidecar, env, labels } = injected(objs)
      t.match(sidecar.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } })
      if (name.startsWith('overlays/')) t.match(pod.securityContext, { seccompProfile: { type: 'RuntimeDefault' } })
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        t.equal(resolvePort([sidecar], sidecar[probe].httpGet.port)?.port, 9090, `${probe} on the admin port`)
      }
      t.equal(sidecar.readinessProbe.httpGet.path, '/readyz')
      t.ok(sidecar.resources.requests.memory && sidecar.resources.limits.memory && sidecar.resources.requests.cpu)
      const delay = Number(env.SHUTDOWN_DELAY_SECONDS)
      const grace = delay + Number(env.SHUTDOWN_TIMEOUT_SECONDS)
      t.ok(pod.terminationGracePeriodSeconds > grace, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${grace}`)
      const unready = sidecar.readinessProbe.periodSeconds * sidecar.readinessProbe.failureThreshold
      t.ok(delay >= unready, `the kubelet sees /readyz fail within ${unready} s, inside SHUTDOWN_DELAY_SECONDS ${delay}`)
      const spread = pod.topologySpreadConstraints as { topologyKey: string; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> } }[]
      t.same(spread.map((s) => s.topologyKey).sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'])
      for (const s of spread) {
        t.equal(s.whenUnsatisfiable, 'ScheduleAnyway')
        t.ok(selects(s.labelSelector.matchLabels, labels))
      }
      const mounts = sidecar.volumeMounts as { name: string; mountPath: string; subPath?: string }[]
      t.ok(mounts.length === 2 && mounts.every((m) => m.subPath === undefined), 'whole-volume mounts: rotated keys reach the pod')
      const volumes = pod.volumes as { name: string; secret?: { defaultMode?: number; optional?: boolean } }[]
      const key = volumes.find((v) => v.name === 'jitsi-jwt-key')!.secret!
      if (rs256) {
        const { settings } = injected(objs)
        t.ok(mounts.some((m) => settings!.data.JWT_PRIVATE_KEY_FILE.startsWith(`${m.mountPath}/`) && m.name === 'jitsi-jwt-key'))
        t.equal(key.optional, false, 'the key is required')
        // The kubelet makes Secret files root-owned, group fsGroup: the sidecar's user must be able to read the key.
        const mode = key.defaultMode ?? 0o644
        const fsGroup = (pod.securityContext as { fsGroup?: number } | undefined)?.fsGroup
        const readable = (mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && fsGroup !== undefined && fsGroup === sidecar.securityContext.runAsGroup)
        t.ok(readable, `the key (mode ${mode.toString(8)}, fsGroup ${fsGroup}) is readable by uid ${sidecar.securityContext.runAsUser}/gid ${sidecar.securityContext.runAsGroup}`)
        t.equal(mode & 0o004, 0, 'and not by everyone')
      } else {
        t.equal(key.optional, true, 'with a shared secret the key volume is an optional, empty folder')
      }
    })

    // The chart owns its replica count; the sidecar's own Deployment has a fixed one (tested below).
    if (name !== 'examples/helm' && !STANDALONE.includes(name)) {
      t.test(`${name}: the HorizontalPodAutoscaler owns the replica count`, async (t) => {
        const { deployment, containers } = injected(objs)
        const [hpa] = find(objs, 'HorizontalPodAutoscaler')
        t.match(hpa!.spec, { minReplicas: 2, scaleTargetRef: { kind: 'Deployment', name: deployment.metadata.name } })
        t.equal(deployment.spec.replicas, undefined, 'no replicas in the Deployment: an apply would reset the count')
        const metric = hpa!.spec.metrics[0]
        t.equal(metric.containerResource.name, 'cpu')
        t.ok(containers.some((c) => c.name === metric.containerResource.container), 'its container exists')
      })
    }
  }

  t.test('existing jitsi-web: patched by name, its own container untouched', async (t) => {
    const input = parse(readFileSync(join(k8s, 'examples/existing-jitsi-web/jitsi-web.yaml'), 'utf8'), 'jitsi-web.yaml')
    const objs = renderings['examples/existing-jitsi-web']!
    const { deployment, containers } = injected(objs)
    const before = find(input, 'Deployment', 'web')[0]!
    t.equal(deployment.metadata.name, 'web')
    t.same(containers.slice(0, -1), before.spec.template.spec.containers, 'the jitsi-web container is exactly as it was')
    t.same(deployment.spec.selector, before.spec.selector, 'the selector is unchanged (it is immutable)')
    t.same(find(objs, 'Service', 'web')[0]!.spec.selector, find(input, 'Service', 'web')[0]!.spec.selector)
    t.same(find(input, 'Service', 'web')[0]!.spec.ports.map((p: { port: number }) => p.port), [80, 443], 'before: 80 and 443 straight to jitsi-web')

    // By name: the same manifests under another name get no sidecar until select/ names them.
    const other = copyTree()
    t.teardown(other.remove)
    const file = join(other.dir, 'examples/existing-jitsi-web/jitsi-web.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}name: web$/gm, '  name: meet-web'))
    const hpa = join(other.dir, 'examples/existing-jitsi-web/hpa.yaml')
    writeFileSync(hpa, readFileSync(hpa, 'utf8').replace('name: web', 'name: meet-web'))
    const kust = join(other.dir, 'examples/existing-jitsi-web/kustomization.yaml')
    writeFileSync(kust, readFileSync(kust, 'utf8').replace('name: web', 'name: meet-web'))
    const renamed = render(join(other.dir, 'examples/existing-jitsi-web'))
    t.notOk(find(renamed, 'Deployment', 'meet-web')[0]!.spec.template.spec.containers.some((c: Container) => c.name === 'sidecar'), 'unnamed: no sidecar')
    const sel = join(other.dir, 'examples/existing-jitsi-web/select/kustomization.yaml')
    writeFileSync(sel, readFileSync(sel, 'utf8').replace(/name: web$/gm, 'name: meet-web'))
    t.equal(injected(render(join(other.dir, 'examples/existing-jitsi-web'))).deployment.metadata.name, 'meet-web', 'named in select/: the sidecar is there')
  })

  t.test('Helm: the post-renderer adds the sidecar to the chart’s web pods and leaves the rest alone', async (t) => {
    const input = parse(CHART, 'chart')
    const objs = renderings['examples/helm']!
    const { deployment, containers } = injected(objs)
    t.equal(deployment.metadata.name, 'myjitsi-jitsi-meet-web')
    const before = find(input, 'Deployment', 'myjitsi-jitsi-meet-web')[0]!
    t.same(containers.slice(0, -1), before.spec.template.spec.containers, 'the chart’s jitsi-meet container is exactly as it was')
    t.equal(resolvePort(before.spec.template.spec.containers, 'http')?.container, 'jitsi-meet', 'the chart names jitsi-web’s port http: a sidecar port of that name would lose to it')
    for (const o of input) {
      const after = find(objs, o.kind, o.metadata.name)[0]
      t.ok(after, `${o.kind}/${o.metadata.name} is still there`)
      if (o.metadata.name !== 'myjitsi-jitsi-meet-web' || o.kind === 'ConfigMap' || o.kind === 'Ingress') t.same(after, o, `${o.kind}/${o.metadata.name} unchanged`)
    }
    const ingress = find(objs, 'Ingress')[0]!
    const backend = ingress.spec.rules[0].http.paths[0].backend.service
    const service = find(objs, 'Service', backend.name)[0]!
    t.same(service.spec.ports.map((p: { port: number }) => p.port), [backend.port.number], 'the chart’s Ingress still finds its port, now the sidecar’s')
    t.equal(deployment.spec.replicas, 2, 'the chart’s replica count stays (no autoscaler here)')
  })

  t.test('rs256: the Prosody settings follow the overlay’s Service name and namespace', async (t) => {
    const prosody = (objs: Obj[]) => find(objs, 'ConfigMap', 'jitsi-prosody-auth')[0]!.data as Record<string, string>
    const service = find(renderings['overlays/rs256']!, 'Service', 'jitsi-web')[0]!
    t.equal(service.metadata.namespace, 'jitsi')
    t.equal(prosody(renderings['overlays/rs256']!).JWT_ASAP_KEYSERVER, 'http://jitsi-web.jitsi.svc/jitsi/asap')
    const other = copyTree()
    t.teardown(other.remove)
    const kust = join(other.dir, 'overlays/rs256/kustomization.yaml')
    writeFileSync(kust, readFileSync(kust, 'utf8').replace(/^namespace: jitsi$/m, 'namespace: video-conferences'))
    const moved = render(join(other.dir, 'overlays/rs256'))
    t.ok(moved.every((o) => o.metadata.namespace === 'video-conferences'), 'every object moved')
    t.equal(prosody(moved).JWT_ASAP_KEYSERVER, 'http://jitsi-web.video-conferences.svc/jitsi/asap', 'and the key server URL with them')
    // Other settings follow the sidecar's: PUBLIC_URL and JWT_APP_ID set once, in base/sidecar.env.
    const env = join(other.dir, 'base/sidecar.env')
    writeFileSync(env, readFileSync(env, 'utf8').replace('PUBLIC_URL=https://meet.example.com', 'PUBLIC_URL=https://video.example.org').replace('JWT_APP_ID=jitsi', 'JWT_APP_ID=video'))
    const edited = render(join(other.dir, 'overlays/rs256'))
    t.match(prosody(edited), { TOKEN_AUTH_URL: 'https://video.example.org/jitsi/login?room={room}', JWT_APP_ID: 'video', JWT_ACCEPTED_ISSUERS: 'video', JWT_ACCEPTED_AUDIENCES: 'video' })
    t.match(find(edited, 'ConfigMap').find((c) => c.metadata.name.startsWith('jitsi-web-env-'))!.data, { PUBLIC_URL: 'https://video.example.org', TOKEN_AUTH_URL: 'https://video.example.org/jitsi/login?room={room}' })
    // ... and the edit rolls the pods: a new ConfigMap name, referenced by the Deployment.
    const before = injected(renderings['overlays/rs256']!).settings!.metadata.name
    const after = injected(edited).settings!.metadata.name
    t.not(after, before, `${before} → ${after}`)
    t.equal(injected(edited).sidecar.envFrom![0]!.configMapRef!.name, after)
  })

  // The examples in the other modes.

  for (const [name, objs] of Object.entries(modes)) {
    const mode = MODE_EXAMPLES[name as keyof typeof MODE_EXAMPLES]
    const samePod = SAME_POD.includes(name)

    t.test(`${name}: the sidecar of components/sidecar placed for MODE=${mode}, with settings it starts with`, async (t) => {
      const { sidecar, containers, env, settings, secret } = injected(objs)
      t.equal(containers.at(-1), sidecar, 'appended')
      // Only where it listens differs, and UPSTREAM_URL is gone: it proxies nothing.
      const expected = placed(samePod ? { LISTEN_ADDRESS: '127.0.0.1:8080', UPSTREAM_URL: undefined } : { UPSTREAM_URL: undefined })
      t.same(unhash(sidecar, generatedNames(objs)), expected, 'the container of components/sidecar/container.yaml, placed')
      const names = [...Object.keys(settings!.data), ...Object.keys(secret!.data), ...Object.keys(env)]
      for (const n of names) t.ok(known.has(n), `${n} is a variable the sidecar reads`)
      t.equal(settings!.data.MODE, mode)
      t.notOk(Object.keys(settings!.data).some((k) => k in env), 'no setting is shadowed by the container’s own env')
      t.notOk(Object.keys(settings!.data).some((k) => SECRET_VARIABLES.includes(k as never)), 'no secret in the ConfigMap')
      t.ok('JWT_APP_SECRET' in secret!.data, 'shared-secret tokens')
      // What the sidecar makes of them at start-up, once the operator has written secret.env.
      const secrets = Object.fromEntries(Object.keys(secret!.data).map((k) => [k, randomBytes(32).toString('base64')]))
      const config = loadConfig({ ...settings!.data, ...secrets, ...env })
      t.equal(config.mode, mode)
      t.same(config.listen, { host: samePod ? '127.0.0.1' : '0.0.0.0', port: resolvePort([sidecar], 'sidecar-http')?.port }, 'it listens on its declared port')
    })
  }

  for (const name of SAME_POD) {
    const objs = modes[name]!
    const mode = MODE_EXAMPLES[name as keyof typeof MODE_EXAMPLES]

    t.test(`${name}: people reach jitsi-web’s nginx; the sidecar listens behind it, on loopback`, async (t) => {
      const { containers, env, settings, labels } = injected(objs)
      const web = containers.find((c) => c.name !== 'sidecar')!
      const front = frontServices(objs)
      t.equal(front.length, 1, 'one Service in front of the pod')
      const ports = front[0]!.spec.ports as { port: number; targetPort?: string | number }[]
      t.same(ports.map((p) => p.port), [80], 'one port, 80')
      t.same(resolvePort(containers, ports[0]!.targetPort ?? ports[0]!.port), { container: web.name, port: 80 }, 'it leads to jitsi-web’s nginx')
      t.equal(env.LISTEN_ADDRESS!.split(':')[0], '127.0.0.1', 'the sidecar on loopback: only jitsi-web’s nginx, in the pod, reaches it')
      const np = find(objs, 'NetworkPolicy')[0]!
      t.ok(selects(np.spec.podSelector.matchLabels, labels), 'the NetworkPolicy covers the pod')
      const open = (np.spec.ingress as { from?: unknown[]; ports: { port: string | number }[] }[]).filter((r) => !r.from)
      t.same(open.flatMap((r) => r.ports.map((p) => resolvePort(containers, p.port))), [{ container: web.name, port: 80 }], 'from anywhere: jitsi-web’s port only')
      const trusted = new BlockList()
      for (const cidr of settings!.data.TRUSTED_PROXIES!.split(',')) trusted.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]))
      t.ok(trusted.check('127.0.0.1'), 'TRUSTED_PROXIES has jitsi-web’s nginx, 127.0.0.1')
    })

    t.test(`${name}: jitsi-web gets the shipped nginx snippet, where its image includes it`, async (t) => {
      const shipped = readFileSync(join(k8s, name, 'jitsi-oidc-sidecar.conf'), 'utf8')
      const { pod, containers, sidecar, env, settings } = injected(objs)
      const web = containers.find((c) => c.name !== 'sidecar')!
      // docker-jitsi-meet's web image copies /config to /run/web/config and includes nginx-custom/*.conf.
      const mounts = (web.volumeMounts as { name: string; mountPath: string; subPath?: string }[]).filter((m) => m.mountPath.startsWith('/config/nginx-custom/'))
      t.equal(mounts.length, 1, 'one file in /config/nginx-custom/')
      const mount = mounts[0]!
      t.match(mount.subPath, /\.conf$/)
      t.equal(mount.mountPath, `/config/nginx-custom/${mount.subPath}`, 'the file alone (subPath): the rest of /config stays the image’s')
      const volume = (pod.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === mount.name)!
      const cm = find(objs, 'ConfigMap', volume.configMap!.name)[0]!
      t.ok(cm, `its ConfigMap ${volume.configMap!.name} is in the rendering`)
      t.match(cm.metadata.name, HASHED, 'hash-suffixed: an edit of the snippet rolls the pods')
      t.same(cm.data, { [mount.subPath!]: shipped }, 'exactly the shipped file')
      t.notOk((sidecar.volumeMounts as { name: string }[]).some((m) => m.name === mount.name), 'not in the sidecar')
      // The snippet and the settings agree: nginx sends PATH_PREFIX, and asks its questions, where the sidecar listens.
      const prefix = settings!.data.PATH_PREFIX ?? '/jitsi/'
      const passes = [...shipped.matchAll(/^\s*proxy_pass\s+(\S+);/gm)].map((m) => m[1]!)
      for (const p of passes) t.ok(p.startsWith(`http://${env.LISTEN_ADDRESS}`), `proxy_pass ${p} goes to LISTEN_ADDRESS ${env.LISTEN_ADDRESS}`)
      t.match(shipped, new RegExp(`^location \\^~ ${prefix} \\{$`, 'm'), `${prefix} goes to the sidecar`)
      if (mode === 'forward-auth') {
        t.ok(passes.includes(`http://${env.LISTEN_ADDRESS}${prefix}auth`), `the question goes to ${prefix}auth`)
        t.match(shipped, /^\s*auth_request \S+;$/m, 'and is asked')
      } else {
        t.notMatch(shipped, /auth_request/, 'no question in issuer mode')
      }
    })

    t.test(`${name}: Jitsi’s own log-in leads to the sidecar`, async (t) => {
      const { containers, settings } = injected(objs)
      const web = containers.find((c) => c.name !== 'sidecar')!
      const jitsiEnv = find(objs, 'ConfigMap', web.envFrom![0]!.configMapRef!.name)[0]!.data as Record<string, string>
      const prefix = settings!.data.PATH_PREFIX ?? '/jitsi/'
      t.match(jitsiEnv, { PUBLIC_URL: settings!.data.PUBLIC_URL, ENABLE_AUTH: '1', AUTH_TYPE: 'jwt', TOKEN_AUTH_URL: `${settings!.data.PUBLIC_URL}${prefix}login?room={room}` })
    })
  }

  /** The Service in front of a standalone sidecar's pods, and its one port. */
  const sidecarService = (objs: Obj[]) => {
    const [service] = frontServices(objs)
    return { name: service!.metadata.name, namespace: service!.metadata.namespace, port: service!.spec.ports[0].port as number }
  }

  for (const name of STANDALONE) {
    const objs = modes[name]!

    t.test(`${name}: the sidecar in pods of its own, behind a Service of its own`, async (t) => {
      const { deployment, containers, env, labels } = injected(objs)
      t.same(containers.map((c) => c.name), ['sidecar'], 'the sidecar only: jitsi-web is yours and stays as it is')
      t.ok(deployment.spec.replicas >= 2, `${deployment.spec.replicas} replicas: a drain keeps one`)
      const front = frontServices(objs)
      t.equal(front.length, 1, 'one Service in front of the pods')
      const ports = front[0]!.spec.ports as { port: number; targetPort?: string | number }[]
      t.equal(ports.length, 1)
      t.same(resolvePort(containers, ports[0]!.targetPort ?? ports[0]!.port), { container: 'sidecar', port: 8080 }, 'it leads to the sidecar')
      t.equal(env.LISTEN_ADDRESS, '0.0.0.0:8080', 'on the pod network: the ingress controller is elsewhere')
      const np = find(objs, 'NetworkPolicy')[0]!
      t.ok(selects(np.spec.podSelector.matchLabels, labels), 'the NetworkPolicy covers the pods')
      for (const r of np.spec.ingress as { ports: { port: string | number }[] }[]) for (const p of r.ports) t.equal(resolvePort(containers, p.port)?.container, 'sidecar')
    })

    t.test(`${name}: PATH_PREFIX goes to the sidecar unasked, everything else to jitsi-web after the question`, async (t) => {
      const { settings } = injected(objs)
      const prefix = settings!.data.PATH_PREFIX ?? '/jitsi/'
      const service = sidecarService(objs)
      const all = routes(objs)
      t.same([...new Set(all.map((r) => r.host))], [new URL(settings!.data.PUBLIC_URL!).host], 'for PUBLIC_URL’s host')
      const own = all.filter((r) => r.prefix === prefix)
      t.equal(own.length, 1, `one route for ${prefix}`)
      t.same(own[0]?.backend, { name: service.name, port: service.port }, `${own[0]?.via}: to the sidecar’s Service and port`)
      t.equal(own[0]?.auth, undefined, 'without the question: sign-in, callback and logout must be reachable')
      const rest = all.filter((r) => r.prefix !== prefix)
      t.ok(rest.length >= 1)
      for (const r of rest) {
        t.equal(r.prefix, '/', `${r.via}: everything else`)
        t.same(r.backend, JITSI_WEB, `${r.via}: to jitsi-web`)
        t.match(r.auth, { service: service.name, port: service.port, path: `${prefix}auth` }, `${r.via}: asked of ${service.name}:${service.port}${prefix}auth first`)
        if (r.auth?.namespace !== undefined) t.equal(r.auth.namespace, service.namespace, 'in the namespace the sidecar’s Service is in')
      }
    })
  }

  t.test('ingress-nginx: a 401 goes to the sidecar’s login; the address resolves without search domains; one description; no snippets', async (t) => {
    const objs = modes['examples/ingress-nginx']!
    const { settings } = injected(objs)
    const prefix = settings!.data.PATH_PREFIX ?? '/jitsi/'
    const ingresses = find(objs, 'Ingress')
    const asking = ingresses.filter((i) => i.metadata.annotations?.[AUTH_URL] !== undefined)
    t.ok(asking.length >= 1)
    for (const i of asking) {
      const a = i.metadata.annotations!
      t.equal(a['nginx.ingress.kubernetes.io/auth-signin'], `${settings!.data.PUBLIC_URL}${prefix}login`, 'the login; ingress-nginx appends ?rd=<the page> itself')
      t.match(a[AUTH_URL], /^http:\/\/[^/]+\.svc\.cluster\.local:\d+\//, 'fully qualified: nginx resolves it at request time, without the search domains')
      t.notOk('nginx.ingress.kubernetes.io/auth-method' in a, 'no auth-method: with it X-Original-URI comes along with X-Original-URL, two descriptions')
      t.notOk('nginx.ingress.kubernetes.io/auth-cache-key' in a, 'no cached answers: they depend on the cookie')
    }
    for (const i of ingresses) {
      t.equal(i.spec.ingressClassName, 'nginx')
      t.same(Object.keys(i.metadata.annotations ?? {}).filter((k) => k.endsWith('-snippet')), [], `${i.metadata.name}: no snippet annotations`)
    }
  })

  t.test('traefik: the question carries what the sidecar reads; the sidecar’s route wins for its paths', async (t) => {
    const objs = modes['examples/traefik']!
    const [middleware] = find(objs, 'Middleware')
    const forwardAuth = middleware!.spec.forwardAuth as { trustForwardHeader?: boolean; authRequestHeaders?: string[] }
    if (forwardAuth.authRequestHeaders === undefined) {
      t.pass('authRequestHeaders unset: Traefik sends every header of the request')
    } else {
      const sent = forwardAuth.authRequestHeaders.map((h) => h.toLowerCase())
      for (const h of NAVIGATION_HEADERS) t.ok(sent.includes(h), `${h} is sent`)
      for (const h of DESCRIBING_HEADERS) t.notOk(sent.includes(h), `a browser’s ${h} is not passed: Traefik describes the request itself`)
    }
    t.equal(forwardAuth.trustForwardHeader, true, 'X-Forwarded-* from the proxies Traefik’s entry point trusts are kept')
    // Traefik's default priority is the rule's length: the sidecar's route must have the longer rule.
    const [route] = find(objs, 'IngressRoute')
    const rules = route!.spec.routes as { match: string; priority?: number; middlewares?: unknown[] }[]
    t.ok(rules.every((r) => r.priority === undefined), 'default priorities')
    const unasked = rules.filter((r) => !r.middlewares).map((r) => r.match.length)
    const asked = rules.filter((r) => r.middlewares).map((r) => r.match.length)
    t.ok(Math.min(...unasked) > Math.max(...asked), 'the route without the question has the longer rule, so it wins for its paths')
  })

  t.test('envoy-gateway: the policy targets the route to jitsi-web and sends the headers the sidecar reads', async (t) => {
    const objs = modes['examples/envoy-gateway']!
    const httpRoutes = find(objs, 'HTTPRoute')
    const policies = find(objs, 'SecurityPolicy')
    t.equal(policies.length, 1)
    for (const ref of policies[0]!.spec.targetRefs as { group: string; kind: string; name: string }[]) {
      t.match(ref, { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' })
      t.ok(httpRoutes.some((r) => r.metadata.name === ref.name), `HTTPRoute ${ref.name} is in the rendering`)
    }
    const headers = policies[0]!.spec.extAuth.headersToExtAuth as string[]
    t.same(headers, headers.map((h) => h.toLowerCase()), 'lower case, as Envoy matches them')
    for (const h of NAVIGATION_HEADERS) t.ok(headers.includes(h), `${h} is sent (an HTTP service gets no other header unless listed)`)
    for (const h of DESCRIBING_HEADERS) t.notOk(headers.includes(h), `a browser’s ${h} is not passed: Envoy appends the path it asks about`)
    t.notMatch(policies[0]!.spec.extAuth.http.path, /\/$/, 'no trailing slash: Envoy appends the original path, which starts with one')
    t.equal(new Set(httpRoutes.map((r) => JSON.stringify(r.spec.parentRefs))).size, 1, 'both routes on the same Gateway')
  })
}
