/**
 * The sidecar's probes and memory request in components/sidecar/container.yaml against what the
 * built sidecar measures here (test/fixtures/k8s/measure-startup.mjs, the figures in
 * docs/kubernetes.md): the startup probe allows many times the measured start, the memory
 * request holds the idle process.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { k8s, root, type Container } from './fixtures/k8s/render.js'

const bundle = join(root, 'dist/bundle/cli.mjs')
const sidecar = (parseYaml(readFileSync(join(k8s, 'components/sidecar/container.yaml'), 'utf8')) as { value: Container }[])[0]!.value

/** Kubernetes quantities in bytes (Mi, Gi, M, G, plain). */
const bytes = (q: string): number => {
  const m = /^(\d+)(Mi|Gi|M|G)?$/.exec(q)
  if (!m) throw new Error(`quantity ${q}`)
  return Number(m[1]) * ({ Mi: 2 ** 20, Gi: 2 ** 30, M: 1e6, G: 1e9 }[m[2] as string] ?? 1)
}

t.test('the probes and the memory request fit the measured start-up and idle memory', { skip: existsSync(bundle) ? false : 'no dist/bundle: npm run build first' }, async (t) => {
  const out = execFileSync(process.execPath, [join(root, 'test/fixtures/k8s/measure-startup.mjs'), '--rounds', '1', '--idle', '3', '--json'], { encoding: 'utf8', timeout: 90_000 })
  const { results } = JSON.parse(out) as { results: Record<string, { healthzMs: { max: number }; readyzMs: { max: number }; idleRssMb: { max: number } }> }
  t.same(Object.keys(results), ['HS256', 'RS256'])
  const startup = sidecar.startupProbe as { periodSeconds: number; failureThreshold: number }
  const budgetMs = startup.periodSeconds * startup.failureThreshold * 1000
  const request = bytes(sidecar.resources.requests.memory)
  const limit = bytes(sidecar.resources.limits.memory)
  for (const [mode, r] of Object.entries(results)) {
    t.ok(r.healthzMs.max > 0 && r.readyzMs.max >= r.healthzMs.max, `${mode}: /healthz after ${r.healthzMs.max} ms, /readyz after ${r.readyzMs.max} ms`)
    t.ok(budgetMs >= 10 * r.healthzMs.max, `${mode}: the startup probe allows ${budgetMs} ms, at least 10 times the measured start`)
    const rss = r.idleRssMb.max * 2 ** 20
    t.ok(rss > 30 * 2 ** 20, `${mode}: ${r.idleRssMb.max} MB resident (a real process was measured)`)
    t.ok(request >= rss, `${mode}: the memory request (${sidecar.resources.requests.memory}) holds the idle process`)
    t.ok(limit >= 2 * rss, `${mode}: the limit (${sidecar.resources.limits.memory}) leaves room for load`)
  }
})
