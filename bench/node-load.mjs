#!/usr/bin/env node
/**
 * The benchmark's built-in load generator, for machines without wrk and for
 * fixed-rate (open-loop) latency runs:
 *   node bench/node-load.mjs URL PATH '{"seconds":8,"connections":32,"rate":N,"method","body","headers"}'
 * Prints {"rps","p50","p99","errors"} as JSON. Closed loop with `connections`
 * workers, or, with `rate`, one request every 1/rate s whatever the answers
 * (latency is measured, not throughput).
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'

const [url, path, optsJson] = process.argv.slice(2)
const { method = 'GET', body, headers = {}, seconds = 8, connections = 32, rate } = JSON.parse(optsJson ?? '{}')
// Open loop: enough connections that requests never queue in the generator itself.
const pool = new Pool(url, { connections: rate ? 512 : connections, pipelining: 1 })
const lat = []
let n = 0
let errors = 0
const end = performance.now() + seconds * 1000
const one = async () => {
  const s = performance.now()
  try {
    const r = await pool.request({ path, method, body, headers })
    await r.body.dump()
    if (r.statusCode >= 400) errors++
  } catch {
    errors++
  }
  lat.push(performance.now() - s)
  n++
}
if (rate) {
  const inflight = new Set()
  const interval = 1000 / rate
  let next = performance.now()
  while (performance.now() < end) {
    const p = one().finally(() => inflight.delete(p))
    inflight.add(p)
    next += interval
    const wait = next - performance.now()
    if (wait > 1) await sleep(wait)
    else await new Promise((r) => setImmediate(r))
  }
  await Promise.all(inflight)
} else {
  await Promise.all(Array.from({ length: connections }, async () => { while (performance.now() < end) await one() }))
}
await pool.close()
lat.sort((a, b) => a - b)
process.stdout.write(JSON.stringify({ rps: n / seconds, p50: lat[Math.floor(lat.length * 0.5)] ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0, errors }))
