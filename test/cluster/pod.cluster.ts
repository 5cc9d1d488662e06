/**
 * The pod as Kubernetes runs it: every rendered layout's sidecar container started the way its
 * manifests tell the kubelet to start it (volumes, modes, fsGroup, user, read-only root: see
 * test/fixtures/kubelet.ts), then it must become ready within its startup probe's budget, sign a
 * person in and mint a token Prosody accepts, write nothing, and (RS256) take a rotated key Secret
 * without a restart while still publishing the old key. Run by `npm run test:cluster`.
 */
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { request } from 'undici'
import { decodeProtectedHeader } from 'jose'
import { verifyLikeProsody } from '../../src/commands/check.js'
import { Browser } from '../fixtures/client.js'
import { eventually } from '../fixtures/eventually.js'
import { startTestIdp } from '../fixtures/idp.js'
import { copyTree, injected, kubectl, noKubectl, renderAll, type Obj } from '../fixtures/k8s/render.js'
import { cannotRun, environment, projectedFiles, runContainer, type Container, type K8sObject, type PodSpec, type RunningContainer } from '../fixtures/kubelet.js'
import { freePorts } from '../fixtures/ports.js'
import { APP_SECRET, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET } from '../fixtures/secrets.js'
import { signIn } from '../fixtures/signin.js'
import { startUpstream } from '../fixtures/upstream.js'

const CLI = new URL('../../dist/bundle/cli.mjs', import.meta.url).pathname
/** The image's `USER 65532:65532` (Dockerfile), used when the manifests name no user. */
const IMAGE_USER: [number, number] = [65532, 65532]
const skip = (kubectl ? undefined : noKubectl) ?? cannotRun() ?? false

/** Secrets the operator creates (the example's names): the client's, the cookie key, the HS256 secret. */
const OPERATOR_SECRETS = { OIDC_CLIENT_SECRET: CLIENT_SECRET, COOKIE_SECRET, JWT_APP_SECRET: APP_SECRET }


function rsaPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/** Objects the operator creates by hand (named in the rendered pod but not rendered): filled with test values. */
function operatorObjects(pod: PodSpec, c: Container, rendered: readonly K8sObject[], keyPem: string): K8sObject[] {
  const have = (kind: string, name: string) => rendered.some((o) => o.kind === kind && o.metadata.name === name)
  const out: K8sObject[] = []
  const secretNames = new Set<string>([
    ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : [])),
    ...(c.envFrom ?? []).flatMap((e) => (e.secretRef ? [e.secretRef.name] : [])),
  ])
  for (const name of secretNames) if (!have('Secret', name)) out.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: OPERATOR_SECRETS })
  for (const v of pod.volumes ?? []) {
    // The RS256 key Secret: one PEM file, whatever key the volume names.
    if (v.secret && !have('Secret', v.secret.secretName!)) {
      const key = v.secret.items?.[0]?.key ?? 'key.pem'
      out.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: v.secret.secretName! }, stringData: { [key]: keyPem } })
    }
    // Optional ConfigMaps (the public keys published ahead of a rotation) start empty or absent.
  }
  return out
}

interface Pod {
  readonly container: RunningContainer
  readonly url: string
  readonly adminUrl: string
  readonly env: Record<string, string>
}

/** What the test changes from the rendered pod: the settings an operator edits for their IdP, and this machine's ports. */
async function startPod(t: Test, pod: PodSpec, c: Container, objects: K8sObject[], extra: Record<string, string> = {}): Promise<Pod & { idp: Awaited<ReturnType<typeof startTestIdp>> }> {
  const [port, adminPort] = await freePorts(2)
  const url = `http://127.0.0.1:${port}`
  const idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${url}/jitsi/callback`] })
  t.teardown(() => idp.close())
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const env = {
    PUBLIC_URL: url, OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_SCOPES: 'openid profile email groups',
    // The pod has its own network; here the pod's ports are mapped to free loopback ones, and jitsi-web's 127.0.0.1:80 to the stand-in.
    LISTEN_ADDRESS: `127.0.0.1:${port}`, ADMIN_LISTEN_ADDRESS: `127.0.0.1:${adminPort}`, UPSTREAM_URL: upstream.url,
    ...extra,
  }
  const container = runContainer(pod, c, objects, [process.execPath, CLI, 'serve'], { env, imageUser: IMAGE_USER })
  t.teardown(() => container.remove())
  return { container, url, adminUrl: `http://127.0.0.1:${adminPort}`, env, idp }
}

type Probe = { httpGet: { path: string; port: string | number }; periodSeconds?: number; failureThreshold?: number }

/** Asks the readiness probe's path, for as long as the startup probe allows (period × threshold). */
async function ready(pod: Pod, c: Container & { startupProbe?: Probe; readinessProbe?: Probe }): Promise<boolean> {
  const budget = (c.startupProbe?.periodSeconds ?? 10) * (c.startupProbe?.failureThreshold ?? 3) * 1000
  const path = c.readinessProbe?.httpGet.path ?? '/readyz'
  return eventually(async () => {
    if (pod.container.process.exitCode !== null) return true
    try {
      const r = await request(`${pod.adminUrl}${path}`, { headersTimeout: 2000 })
      await r.body.dump()
      return r.statusCode === 200
    } catch {
      return false
    }
  }, { timeoutMs: budget, everyMs: 100 })
}

/**
 * Every installation the manifests describe (base, overlays, the existing-jitsi-web example, the Helm
 * post-renderer on the chart's output), rendered once after the operator wrote secret.env.
 */
function renderings(): Record<string, Obj[]> {
  const tree = copyTree(OPERATOR_SECRETS)
  try {
    return renderAll(tree.dir)
  } finally {
    tree.remove()
  }
}

/** A fresh copy of one rendering's objects, its pod spec and sidecar container (tests change them). */
function podIn(objs: readonly Obj[]): { objects: K8sObject[]; pod: PodSpec; c: Container } {
  const objects = structuredClone(objs) as K8sObject[]
  const { pod, sidecar } = injected(objects as Obj[])
  return { objects, pod: pod as PodSpec, c: sidecar as Container }
}

const all = skip ? {} : renderings()
const layouts = Object.keys(all)
t.ok(skip || layouts.length >= 5, `layouts: ${layouts.join(', ')}`, { skip })

for (const layout of layouts) {
  t.test(`${layout}: the sidecar starts as the kubelet would start it, signs in, writes nothing`, async (t) => {
    const keyPem = rsaPem()
    const { objects: rendered, pod, c } = podIn(all[layout]!)
    const objects = [...rendered, ...operatorObjects(pod, c, rendered, keyPem)]
    // The settings the kubelet hands the container decide what to check, as they decide what it does.
    const settings = environment(c, objects)
    const rsa = /^RS/.test(settings.JWT_ALG ?? '')
    // The kubelet notices a rotated Secret within a minute; the sidecar polls every JWT_KEY_RELOAD_SECONDS: 1 s here, not to wait.
    const p = await startPod(t, pod, c, objects, rsa ? { JWT_KEY_RELOAD_SECONDS: '1' } : {})
    t.ok(await ready(p, c), 'ready within the startup probe’s budget')
    t.equal(p.container.process.exitCode, null, 'still running', { output: p.container.output().slice(-600) })

    const first = await signIn({ url: p.url, idp: p.idp }, new Browser(), '/MyRoom')
    t.equal(first.done.status, 302, `signed in: ${first.done.body.slice(0, 200)}`)
    const app = settings.JWT_APP_ID!
    const check = { alg: 'RS256' as const, issuers: [app], audiences: [app] }
    const keyserver = `${p.url}/jitsi/asap`
    const claims = await verifyLikeProsody(first.jwt!, rsa ? { ...check, keyserver } : { ...check, alg: 'HS256', secret: APP_SECRET })
    t.equal(claims.room, 'myroom')

    if (rsa) {
      const oldKid = decodeProtectedHeader(first.jwt!).kid
      // The operator updates the key Secret in place; the kubelet writes a new generation and swaps ..data.
      const [volume, folder] = [...p.container.volumes].find(([name]) => pod.volumes!.find((v) => v.name === name)?.secret)!
      const v = pod.volumes!.find((x) => x.name === volume)!
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === v.secret!.secretName)!
      const key = Object.keys(secret.stringData ?? secret.data ?? {})[0]!
      secret.stringData = { [key]: rsaPem() }
      delete secret.data
      folder.write(projectedFiles(v, objects)!)
      t.ok(await eventually(() => /"event":"key_rotated"/.test(p.container.output())), 'the rotated key is picked up without a restart')
      const second = await signIn({ url: p.url, idp: p.idp }, new Browser(), '/MyRoom')
      const newKid = decodeProtectedHeader(second.jwt!).kid
      t.not(newKid, oldKid, 'the new key signs')
      await t.resolves(verifyLikeProsody(second.jwt!, { ...check, keyserver }), 'the new token verifies through the key server')
      await t.resolves(verifyLikeProsody(first.jwt!, { ...check, keyserver }), 'and a token of the old key still does (published until it expires)')
    }
    t.same(p.container.writtenByUser(), [], 'nothing written outside the mounted volumes (root file system read-only)')
    t.equal(await p.container.stop(), 0, 'SIGTERM: a clean exit')
    t.notMatch(p.container.output(), /EROFS|read-only file system/i, 'never tried to write')
  })
}

t.test('the emulation catches the crash-loop of the first rs256 overlay (key 0400, no fsGroup)', { skip }, async (t) => {
  const { objects: rendered, pod, c } = podIn(all['overlays/rs256']!)
  // The overlay as it was before 0fdcadd: the kubelet lays the key out root:root 0400.
  for (const v of pod.volumes ?? []) if (v.secret) v.secret.defaultMode = 0o400
  delete pod.securityContext!.fsGroup
  const objects = [...rendered, ...operatorObjects(pod, c, rendered, rsaPem())]
  const p = await startPod(t, pod, c, objects)
  t.equal(await p.container.exited, 2, 'exits with status 2 (the pod would crash-loop)')
  t.match(p.container.output(), /JWT_PRIVATE_KEY_FILE.*(EACCES|permission denied)/i, 'saying the key file cannot be read')
})

t.test('the emulated root file system is read-only and the user is the rendered one', { skip }, async (t) => {
  const { objects: rendered, pod, c } = podIn(all['overlays/rs256']!)
  const objects = [...rendered, ...operatorObjects(pod, c, rendered, rsaPem())]
  const probe = runContainer(pod, c, objects, ['sh', '-c', 'id -u; id -G; touch /tmp/jos-probe 2>&1; touch /dev/shm/jos-probe-$$ && echo shm-writable'], { imageUser: IMAGE_USER })
  t.teardown(() => probe.remove())
  await probe.exited
  const [uid, groups] = probe.output().split('\n')
  t.equal(uid, String(c.securityContext?.runAsUser ?? IMAGE_USER[0]))
  if (pod.securityContext?.fsGroup !== undefined) t.ok(groups!.split(' ').includes(String(pod.securityContext.fsGroup)), `groups ${groups} include the fsGroup`)
  t.match(probe.output(), /Read-only file system/, 'a write to the root file system fails')
  t.match(probe.output(), /shm-writable/, '/dev/shm stays writable, as in a container')
  const written = probe.writtenByUser()
  t.equal(written.length, 1, `and writtenByUser sees what was written there: ${written.join(', ')}`)
  for (const f of written) (await import('node:fs')).rmSync(f)
})
