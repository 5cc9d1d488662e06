#!/usr/bin/env node
/**
 * The benchmark's built-in load generator, for machines without wrk and for
 * fixed-rate (open-loop) latency runs:
 *   node bench/node-load.mjs URL PATH '{"seconds":8,"connections":32,"rate":N,"method","body","headers"}'
 * Prints {"rps","p50","p99","errors"} as JSON. Closed loop with `connections`
 * workers, or, with `rate`, open loop: after a second of warm-up (connections
 * opened, JIT warm, not measured), the requests due are sent on every
 * millisecond tick whatever the answers, so latency is measured, not
 * throughput. Between ticks the generator sleeps: a generator spinning on the
 * core it shares with the upstream would add its own latency to every answer.
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
const WARM_UP_MS = rate ? 1000 : 0
const begin = performance.now()
const end = begin + WARM_UP_MS + seconds * 1000
const one = async (measured = true) => {
  const s = performance.now()
  try {
    const r = await pool.request({ path, method, body, headers })
    await r.body.dump()
    if (r.statusCode >= 400 && measured) errors++
  } catch {
    if (measured) errors++
  }
  if (!measured) return
  lat.push(performance.now() - s)
  n++
}
if (rate) {
  const inflight = new Set()
  let sent = 0
  for (let now = begin; now < end; now = performance.now()) {
    const due = Math.floor(((now - begin) / 1000) * rate)
    const measured = now - begin >= WARM_UP_MS
    for (; sent < due; sent++) {
      const p = one(measured).finally(() => inflight.delete(p))
      inflight.add(p)
    }
    await sleep(1)
  }
  await Promise.all(inflight)
} else {
  await Promise.all(Array.from({ length: connections }, async () => { while (performance.now() < end) await one() }))
}
await pool.close()
lat.sort((a, b) => a - b)
process.stdout.write(JSON.stringify({ rps: n / seconds, p50: lat[Math.floor(lat.length * 0.5)] ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0, errors }))
