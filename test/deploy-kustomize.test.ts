/**
 * The Kubernetes manifests as kustomize renders them (docs/kubernetes.md): every kustomization
 * renders, every component is used; every rendering validates against the Kubernetes schemas,
 * names only variables the sidecar reads, carries the one sidecar container of
 * components/sidecar, routes the Service and the NetworkPolicy to the sidecar only, and rolls the
 * pods when a setting changes; the existing-install example and the Helm post-renderer leave the
 * installation's own containers as they were.
 */
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SECRET_VARIABLES, VARIABLES } from '../src/config/load.js'
import {
  CHART, HASHED, MODELS, apiView, copyTree, find, injected, k8s, kubectl, kustomizations, noKubectl, parse, render, renderAll, resolvePort, selects, unhash,
  type Container, type Obj,
} from './fixtures/k8s/render.js'

const known = new Set<string>([...VARIABLES, ...SECRET_VARIABLES.map((v) => `${v}_FILE`)])
/** The sidecar container as components/sidecar defines it: the one source. */
const SOURCE = (parseYaml(readFileSync(join(k8s, 'components/sidecar/container.yaml'), 'utf8')) as { value: Container }[])[0]!.value

if (!kubectl) t.test('the rendered manifests', { skip: noKubectl }, async () => {})
else {
  const tree = copyTree()
  t.teardown(tree.remove)
  const renderings = renderAll(tree.dir)
  const installs = Object.keys(renderings).filter((k) => k !== 'base')

  t.test('every kustomization renders, and every component is used by one that does', async (t) => {
    const ks = kustomizations()
    const all = ks.filter((k) => k.kind === 'Kustomization').map((k) => k.dir).sort()
    t.same(all, ['base', 'examples/existing-jitsi-web', 'overlays/hs256', 'overlays/rs256'], 'each is rendered here')
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

  for (const [name, objs] of Object.entries(renderings)) {
    t.test(`${name}: every object validates`, async (t) => {
      t.ok(objs.length >= 7, `${objs.length} objects`)
      for (const o of objs) {
        const Model = MODELS[o.kind]
        t.ok(Model, `${o.kind} has a schema here`)
        if (Model) t.doesNotThrow(() => new Model(apiView(o) as never).validate(), `${o.kind}/${o.metadata.name}`)
      }
      t.notMatch(JSON.stringify(objs), /SERVICE|NAMESPACE|PUBLIC-HOST|SCHEME:|FROM-SETTINGS|FROM-SIDECAR/, 'no placeholder is left')
      // The examples go where they are applied; the overlays put everything in their one namespace.
      const namespaces = [...new Set(objs.map((o) => o.metadata.namespace))]
      t.same(namespaces, name.startsWith('overlays/') ? ['jitsi'] : [undefined], `namespaces: ${namespaces.join(', ')}`)
    })
  }

  const generatedNames = (objs: Obj[]) => new Set(objs.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret').map((o) => o.metadata.name).filter((n) => HASHED.test(n)))
  const base = injected(renderings.base!)

  for (const name of installs) {
    const objs = renderings[name]!
    const rs256 = name !== 'overlays/hs256'

    t.test(`${name}: the sidecar is the one of components/sidecar and reads only its own variables`, async (t) => {
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

    t.test(`${name}: people reach the sidecar only; the replicas find each other`, async (t) => {
      const { deployment, containers, sidecar, env, labels } = injected(objs)
      const services = find(objs, 'Service').filter((s) => s.metadata.name !== 'jitsi-web-peers')
      const front = services.filter((s) => selects(s.spec.selector, labels))
      t.equal(front.length, 1, 'one Service in front of the pod')
      const ports = front[0]!.spec.ports as { port: number; targetPort?: string | number }[]
      t.same(ports.map((p) => p.port), [80], 'one port, 80: nothing else of the pod is exposed')
      t.same(resolvePort(containers, ports[0]!.targetPort ?? ports[0]!.port), { container: 'sidecar', port: 8080 }, 'it leads to the sidecar (named ports resolve to the first container with the name)')
      const np = find(objs, 'NetworkPolicy')[0]!
      t.ok(selects(np.spec.podSelector.matchLabels, labels), 'the NetworkPolicy covers the pod')
      const rules = np.spec.ingress as { from?: unknown[]; ports: { port: string | number }[] }[]
      for (const r of rules) for (const p of r.ports) t.equal(resolvePort(containers, p.port)?.container, 'sidecar', `NetworkPolicy port ${p.port} is the sidecar’s`)
      t.ok(rules.filter((r) => r.ports.some((p) => p.port === 'sidecar-admin')).every((r) => r.from), 'the admin port only from named peers')
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

    if (name !== 'examples/helm') {
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
}
