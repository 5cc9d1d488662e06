/**
 * The Jitsi side the Kubernetes manifests ship is what `jitsi-oidc-sidecar jitsi-env` prints for
 * the sidecar those manifests configure: the rs256 overlay's ConfigMap for Prosody, jitsi-web's
 * own environment in the all-in-one pod, and the values for the jitsi-helm chart.
 */
import t from 'tap'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { loadConfig } from '../src/config/load.js'
import { jitsiEnv } from '../src/commands/jitsi-env.js'
import { copyTree, find, injected, k8s, kubectl, noKubectl, renderAll, type Obj } from './fixtures/k8s/render.js'

const KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string

const publicKeys = mkdtempSync(join(tmpdir(), 'jos-public-keys-'))
t.teardown(() => rmSync(publicKeys, { recursive: true, force: true }))

/** The variables jitsi-env prints (comments left out) for the sidecar one rendering configures. */
function printed(objs: Obj[], keyserverBase?: string): Record<string, string> {
  const { settings, secret, env } = injected(objs)
  // The Secret's values as an operator writes them (the shipped ones are placeholders).
  const secrets = Object.fromEntries(Object.keys(secret!.data).map((k) => [k, randomBytes(32).toString('base64')]))
  // The pod's key files: the private key read through loadConfig's file reader, the folder here.
  const folder = settings!.data.JWT_PUBLIC_KEYS_DIR === undefined ? {} : { JWT_PUBLIC_KEYS_DIR: publicKeys }
  const config = loadConfig({ ...settings!.data, ...secrets, ...env, ...folder }, () => KEY)
  const out = jitsiEnv(config, keyserverBase === undefined ? {} : { keyserverBase })
  return Object.fromEntries(out.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

if (!kubectl) t.test('the rendered manifests', { skip: noKubectl }, async () => {})
else {
  const tree = copyTree()
  t.teardown(tree.remove)
  const renderings = renderAll(tree.dir)

  t.test('rs256: jitsi-prosody-auth is what jitsi-env prints with the Service as key server', async (t) => {
    const objs = renderings['overlays/rs256']!
    const service = find(objs, 'Service', 'jitsi-web')[0]!
    const expected = printed(objs, `http://${service.metadata.name}.${service.metadata.namespace}.svc`)
    t.ok(Object.keys(expected).length >= 8, `${Object.keys(expected).length} variables`)
    const data = find(objs, 'ConfigMap', 'jitsi-prosody-auth')[0]!.data as Record<string, string>
    t.match(data, expected)
    t.match(data, { ENABLE_AUTH: '1', AUTH_TYPE: 'jwt', JWT_SIGN_TYPE: 'RS256', JWT_ASAP_KEYSERVER: /^http:\/\/[^/]+\/jitsi\/asap$/ })
    t.notOk('JWT_APP_SECRET' in data, 'no shared secret with a key server')
    // What docs/jitsi.md asks of Prosody and Jicofo besides: moderators from the token.
    t.match(data, { XMPP_MUC_MODULES: /\btoken_affiliation\b/, ENABLE_AUTO_OWNER: '0' })
  })

  for (const name of ['overlays/hs256', 'overlays/rs256']) {
    t.test(`${name}: jitsi-web in the pod gets what jitsi-env prints for it`, async (t) => {
      const objs = renderings[name]!
      const { containers, settings } = injected(objs)
      const jitsiWeb = containers.find((c) => c.name === 'jitsi-web')!
      const env = find(objs, 'ConfigMap', jitsiWeb.envFrom![0]!.configMapRef!.name)[0]!.data as Record<string, string>
      const expected = printed(objs)
      t.same(env, { PUBLIC_URL: settings!.data.PUBLIC_URL, ENABLE_AUTH: expected.ENABLE_AUTH, AUTH_TYPE: expected.AUTH_TYPE, TOKEN_AUTH_URL: expected.TOKEN_AUTH_URL })
      t.equal(env.TOKEN_AUTH_URL, 'https://meet.example.com/jitsi/login?room={room}')
    })
  }

  t.test('Helm: the chart values are what jitsi-env prints for the post-rendered sidecar', async (t) => {
    const values = parseYaml(readFileSync(join(k8s, 'examples/helm/values.yaml'), 'utf8')) as { publicURL: string; enableAuth: boolean; extraCommonEnvs: Record<string, string>; web: { replicaCount: number } }
    const objs = renderings['examples/helm']!
    const { settings } = injected(objs)
    // The chart renders its values with tpl: the key server is the web Service in the release's namespace.
    const expected = printed(objs, 'http://{{ include "jitsi-meet.web.fullname" . }}.{{ .Release.Namespace }}.svc')
    const { ENABLE_AUTH, ...rest } = expected
    t.equal(ENABLE_AUTH, '1')
    t.equal(values.enableAuth, true, 'enableAuth: the chart’s ENABLE_AUTH')
    t.equal(values.publicURL, settings!.data.PUBLIC_URL)
    t.ok(Object.keys(rest).length >= 7)
    t.match(values.extraCommonEnvs, rest)
    t.ok(values.web.replicaCount >= 2, 'two replicas or more')
  })
}
