/**
 * Whether the sidecar container in deploy/k8s/components/sidecar/container.yaml still fits what the
 * benchmark measured: the startup probe's budget (periodSeconds x failureThreshold) at least ten
 * times the slowest start, the memory request holding the idle process and the limit twice that.
 * bench/run.mjs prints the lines and exits non-zero when one does not fit.
 */
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

const CONTAINER = new URL('../deploy/k8s/components/sidecar/container.yaml', import.meta.url)

/** Kubernetes memory quantities in bytes (Ki, Mi, Gi, k, M, G, plain). */
export function bytes(q) {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(String(q))
  if (!m) throw new Error(`unsupported quantity ${q}`)
  return Number(m[1]) * ({ Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1)
}

/**
 * @param {{ slowestStartMs: number, largestIdleRssMb: number }} measured
 * @returns {{ ok: boolean, lines: string[] }}
 */
export function manifestFit({ slowestStartMs, largestIdleRssMb }) {
  const c = parse(readFileSync(CONTAINER, 'utf8'))[0].value
  const budgetMs = c.startupProbe.periodSeconds * c.startupProbe.failureThreshold * 1000
  const rss = largestIdleRssMb * 2 ** 20
  const checks = [
    [budgetMs >= 10 * slowestStartMs, `startupProbe allows ${budgetMs / 1000} s; slowest start to /readyz ${Math.round(slowestStartMs)} ms (needs ten times)`],
    [bytes(c.resources.requests.memory) >= rss, `memory request ${c.resources.requests.memory}; largest idle RSS ${Math.round(largestIdleRssMb)} MB`],
    [bytes(c.resources.limits.memory) >= 2 * rss, `memory limit ${c.resources.limits.memory}; twice the largest idle RSS ${Math.round(2 * largestIdleRssMb)} MB`],
  ]
  return { ok: checks.every(([ok]) => ok), lines: checks.map(([ok, line]) => `${ok ? 'fits' : 'DOES NOT FIT'}: ${line}`) }
}
