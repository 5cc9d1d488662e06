#!/usr/bin/env node
/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`): self time by
 * function and file, with the share of all samples (idle and GC included, so
 * the shares add up to the wall time the profile covers).
 *   node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [--files] [--total] [--per N]
 * --files: self time by file instead of by function.
 * --total: also the top functions by total time (self and what they call; a
 *   sample counts once per function however deep the recursion).
 * --per N: also µs per unit of N (say, the requests the profile served).
 * Bundled code (dist/bundle/*.mjs) is named by its source map when it sits
 * beside the file, so the sidecar's functions read as src/... and node_modules/....
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SourceMap } from 'node:module'

const args = process.argv.slice(2)
const flag = (f) => args.includes(f)
const per = args.includes('--per') ? Number(args[args.indexOf('--per') + 1]) : undefined
const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--per')
const [file, n = '30'] = positional
if (!file) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [--files] [--total] [--per N]')
  process.exit(2)
}
const prof = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(prof.nodes.map((node) => [node.id, node]))
const parent = new Map()
for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id)

const maps = new Map()
function sourceMap(url) {
  if (!maps.has(url)) {
    let map
    try {
      const path = fileURLToPath(url)
      if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')))
    } catch {}
    maps.set(url, map)
  }
  return maps.get(url)
}
const short = (p) => p.replace(/^file:\/\//, '').replace(/.*?\/(node_modules|src|dist|bench)\//, '$1/')
function where({ url, lineNumber, columnNumber }) {
  if (!url) return ''
  const map = url.startsWith('file:') ? sourceMap(url) : undefined
  const e = map?.findEntry(lineNumber, columnNumber)
  if (e?.originalSource) return `${short(e.originalSource.replace(/^(\.\.\/)+/, ''))}:${e.originalLine + 1}`
  return `${short(url)}:${lineNumber + 1}`
}
const keyOf = new Map()
function key(id) {
  if (!keyOf.has(id)) {
    const cf = byId.get(id).callFrame
    const w = where(cf)
    keyOf.set(id, flag('--files') ? (w.replace(/:\d+$/, '') || cf.functionName || '(native)') : `${cf.functionName || '(anonymous)'} ${w}`.trim())
  }
  return keyOf.get(id)
}

const self = new Map()
const total = new Map()
let all = 0
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0
  all += dt
  const k = key(id)
  self.set(k, (self.get(k) ?? 0) + dt)
  if (flag('--total')) {
    const seen = new Set()
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(key(at))
    for (const s of seen) total.set(s, (total.get(s) ?? 0) + dt)
  }
})
const idle = self.get('(idle)') ?? 0
const busy = all - idle
console.log(`${file}: ${(all / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (${((100 * busy) / all).toFixed(1)}%)${per ? `, ${(busy / per).toFixed(1)} µs busy per unit` : ''}`)
const show = (title, m) => {
  console.log(title)
  for (const [k, us] of [...m].filter(([k]) => k !== '(idle)' && k !== '(root)').sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}% of busy ${(us / 1000).toFixed(0).padStart(6)} ms${per ? ` ${(us / per).toFixed(2).padStart(7)} µs/unit` : ''}  ${k}`)
  }
}
show('self time:', self)
if (flag('--total')) show('total time (self and callees):', total)
