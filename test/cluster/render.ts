/**
 * The manifests as an operator renders them: deploy/k8s copied to a scratch folder, the operator's
 * files written where the examples say (`secret.env` next to each `secret.env.example`), then
 * `kubectl kustomize`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'
import type { K8sObject } from '../fixtures/kubelet.js'

export const K8S = new URL('../../deploy/k8s', import.meta.url).pathname

export const kubectlMissing = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0
  ? undefined
  : 'kubectl is not installed (apt-get install kubernetes-client): the manifests cannot be rendered'

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]))
}

/** Every folder under deploy/k8s that kustomize can render on its own and that yields a Deployment with a sidecar. */
export function podLayouts(): string[] {
  return files(K8S)
    .filter((f) => f.endsWith('/kustomization.yaml') && /^kind: Kustomization$|^apiVersion: kustomize\.config\.k8s\.io\/v1beta1$/m.test(readFileSync(f, 'utf8')) && !/^kind: Component$/m.test(readFileSync(f, 'utf8')))
    .map((f) => relative(K8S, join(f, '..')))
    .filter((d) => d !== 'base')
    .sort()
}

/**
 * Renders `layout` (a folder under deploy/k8s) as the operator would after writing `secret.env`
 * with `secrets` (keys of secret.env.example not given keep the example's value).
 */
export function render(layout: string, secrets: Record<string, string>): K8sObject[] {
  const scratch = mkdtempSync(join(tmpdir(), 'jos-k8s-'))
  try {
    cpSync(K8S, scratch, { recursive: true })
    for (const f of files(scratch).filter((f) => f.endsWith('/secret.env.example'))) {
      const lines = readFileSync(f, 'utf8').split('\n').map((l) => {
        const m = /^([A-Z0-9_]+)=/.exec(l)
        return m && secrets[m[1]!] !== undefined ? `${m[1]}=${secrets[m[1]!]}` : l
      })
      writeFileSync(f.replace(/\.example$/, ''), lines.join('\n'))
    }
    const out = execFileSync('kubectl', ['kustomize', join(scratch, layout)], { encoding: 'utf8' })
    return parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter((o) => o !== null)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
