// MODE=forward-auth under load (run by bench/run.mjs, or alone: node bench/forward-auth.mjs [--quick] [--json out.json]).
// A jitsi-web-like tree served by nginx from disk (the 20 KB app page, a 20 KB and a 1 MB asset), two ways
// in the same run, alternating: as it is, and with the shipped snippet
// (deploy/k8s/examples/forward-auth-nginx/jitsi-oidc-sidecar.conf) asking the sidecar about room pages.
// Goals: assets through the snippet >= 0.95x without it (the sidecar is not asked); room page
// decisions >= 10,000/s on one core (wrk asking PATH_PREFIX/auth directly, the sidecar alone on core 0).
// Room page loads through nginx with a usable token are reported beside it (nginx asks once per load).
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const QUICK = args.includes('--quick')
const JSON_OUT = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined
const NODE = args.includes('--node') ? args[args.indexOf('--node') + 1] : process.execPath
const DURATION = QUICK ? 2 : 6
const ROUNDS = QUICK ? 1 : 5
const CONNECTIONS = 32
const PORTS = { plain: 18621, auth: 18622, sidecar: 18623, admin: 18624, idp: 18625 }

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
for (const cmd of ['nginx', 'wrk']) if (!has(cmd)) throw new Error(`bench/forward-auth.mjs needs ${cmd} (apt-get install nginx-light wrk)`)
const TASKSET = has('taskset') && cpus().length >= 2
const pin = (core, cmd, argv) => (TASKSET ? ['taskset', ['-c', String(core), cmd, ...argv]] : [cmd, argv])
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const children = []
const dir = mkdtempSync(join(tmpdir(), 'jos-bench-fa-'))
const cleanup = () => {
  // nginx's master stops its workers on SIGTERM (SIGKILL would leave them holding the ports).
  for (const c of children) c.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)

async function waitFor(url, ok = (s) => s === 200) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url)
      await r.arrayBuffer()
      if (ok(r.status)) return
    } catch {
      // not yet
    }
    await sleep(50)
  }
  throw new Error(`${url} did not answer`)
}

// ---------- the tree and the two nginx servers ----------
const www = join(dir, 'www')
for (const d of [www, join(www, 'libs'), join(www, 'static'), join(dir, 'temp')]) mkdirSync(d, { recursive: true })
chmodSync(dir, 0o755)
writeFileSync(join(www, 'index.html'), `<!doctype html><title>room</title>${'x'.repeat(20 * 1024 - 40)}`)
writeFileSync(join(www, 'static', 'page.html'), `<!doctype html><title>asset</title>${'y'.repeat(20 * 1024 - 40)}`)
writeFileSync(join(www, 'libs', 'app.bundle.min.js'), Buffer.alloc(1024 * 1024, 'a'))
const snippet = readFileSync(join(root, 'deploy/k8s/examples/forward-auth-nginx/jitsi-oidc-sidecar.conf'), 'utf8').replaceAll('127.0.0.1:8080', `127.0.0.1:${PORTS.sidecar}`)
writeFileSync(join(dir, 'snippet.conf'), snippet)

/** The locations of docker-jitsi-meet's meet.conf that serve these files, with or without the snippet. */
const server = (port, withSnippet) => `
  server { listen 127.0.0.1:${port}; root ${www}; index index.html;
    ${withSnippet ? `include ${join(dir, 'snippet.conf')};` : ''}
    location ~ ^/(libs|css|static|images|fonts|lang|sounds)/(.*)$ { alias ${www}/$1/$2; }
    location ~ ^/([^/?&:'"]+)$ { try_files $uri @root_path; }
    location @root_path { rewrite ^/(.*)$ / break; }
    location ~ ^/([^/?&:'"]+)/(.*)$ { rewrite ^/([^/?&:'"]+)/(.*)$ /$2; }
  }`
const conf = join(dir, 'nginx.conf')
writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root root;' : ''}
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${dir}/temp/body; proxy_temp_path ${dir}/temp/proxy; fastcgi_temp_path ${dir}/temp/fcgi; uwsgi_temp_path ${dir}/temp/uwsgi; scgi_temp_path ${dir}/temp/scgi;
  ${server(PORTS.plain, false)}
  ${server(PORTS.auth, true)}
}`)

// ---------- the IdP and the sidecar (MODE=forward-auth, pinned alone to core 0) ----------
const { startIdp } = await import(join(root, 'dist/demo/idp.js'))
const idp = await startIdp({ port: PORTS.idp, clientId: 'bench', clientSecret: 'bench-client-secret', redirectUris: [`http://127.0.0.1:${PORTS.auth}/jitsi/callback`] })
const APP_SECRET = 'bench-app-secret-0123456789abcdef'
const env = {
  MODE: 'forward-auth', TRUSTED_PROXIES: '127.0.0.1/32', PUBLIC_URL: `http://127.0.0.1:${PORTS.auth}`,
  LISTEN_ADDRESS: `127.0.0.1:${PORTS.sidecar}`, ADMIN_LISTEN_ADDRESS: `127.0.0.1:${PORTS.admin}`,
  OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: 'bench', OIDC_CLIENT_SECRET: 'bench-client-secret', JWT_APP_ID: 'bench', JWT_APP_SECRET: APP_SECRET,
  COOKIE_SECRET: 'bench-cookie-secret-0123456789abcdef', LOG_LEVEL: 'info', ACCESS_LOG: 'errors', SHUTDOWN_DELAY_SECONDS: '0',
}
{
  const [c, a] = pin(0, NODE, [join(root, 'dist/bundle/cli.mjs'), 'serve'])
  const p = spawn(c, a, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(p)
  await waitFor(`http://127.0.0.1:${PORTS.admin}/readyz`)
}
{
  const [c, a] = pin(1, 'nginx', ['-c', conf, '-p', dir])
  children.push(spawn(c, a, { stdio: 'ignore' }))
  await waitFor(`http://127.0.0.1:${PORTS.plain}/static/page.html`)
}

// A token the sidecar finds usable for /MyRoom (as it mints them: HS256, typ JWT, its issuer and audience).
const { SignJWT } = await import('jose')
const now = Math.floor(Date.now() / 1000)
const token = await new SignJWT({ room: 'myroom', context: { user: { id: 'bench', name: 'Bench' } } })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer('bench').setAudience('bench').setSubject('*').setIssuedAt(now).setExpirationTime(now + 3600)
  .sign(new TextEncoder().encode(APP_SECRET))

function wrk(url, headers = []) {
  const [c, a] = pin(1, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url])
  const r = spawnSync(c, a, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`wrk ${url}: ${r.stderr}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0)
  if (!(rps > 0)) throw new Error(`wrk ${url}: no requests completed:\n${r.stdout}`)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0)
  if (non2xx > 0) throw new Error(`wrk ${url}: ${non2xx} answers were not 2xx/3xx`)
  return rps
}

const NAV = ['Accept: text/html', 'Sec-Fetch-Mode: navigate']
const asked = (uri) => [...NAV, `X-Original-URI: ${uri}`, 'X-Original-Method: GET']
const CASES = [
  { name: '20 KB asset', pair: true, path: '/static/page.html' },
  { name: '1 MB asset', pair: true, path: '/libs/app.bundle.min.js' },
  { name: 'room page with a token, through nginx', url: `http://127.0.0.1:${PORTS.auth}/MyRoom?jwt=${token}`, headers: NAV },
  { name: 'decisions: room page with a token (200)', url: `http://127.0.0.1:${PORTS.sidecar}/jitsi/auth`, headers: asked(`/MyRoom?jwt=${token}`) },
  { name: 'decisions: room page, no session (401)', url: `http://127.0.0.1:${PORTS.sidecar}/jitsi/auth`, headers: asked('/MyRoom') },
  { name: 'decisions: asset (200)', url: `http://127.0.0.1:${PORTS.sidecar}/jitsi/auth`, headers: asked('/libs/app.bundle.min.js') },
]

// The 401 case would count as non-2xx: wrk reports them, so it is measured with its own check.
function decisions(kase) {
  const [c, a] = pin(1, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, ...kase.headers.flatMap((h) => ['-H', h]), kase.url])
  const r = spawnSync(c, a, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`wrk ${kase.url}: ${r.stderr}`)
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0)
}

/** The median of paired per-round ratios, with their range. */
const paired = (ratios) => ({ ratio: Number(median(ratios).toFixed(3)), range: [Number(Math.min(...ratios).toFixed(3)), Number(Math.max(...ratios).toFixed(3))] })

const rows = {}
for (let round = 0; round < ROUNDS; round++) {
  for (const k of CASES) {
    const row = (rows[k.name] ??= { with: [], without: [] })
    if (k.pair) {
      // Alternating within the round: with the snippet, then without.
      row.with.push(wrk(`http://127.0.0.1:${PORTS.auth}${k.path}`))
      row.without.push(wrk(`http://127.0.0.1:${PORTS.plain}${k.path}`))
    } else {
      row.with.push(k.name.includes('401') ? decisions(k) : wrk(k.url, k.headers))
    }
  }
}

const result = {
  rounds: ROUNDS,
  durationSeconds: DURATION,
  connections: CONNECTIONS,
  cases: Object.fromEntries(Object.entries(rows).map(([name, r]) => [name, r.without.length > 0
    ? { withSnippet: Math.round(median(r.with)), without: Math.round(median(r.without)), ...paired(r.with.map((w, i) => w / r.without[i])) }
    : { rps: Math.round(median(r.with)) }])),
}
const decisionRate = result.cases['decisions: room page with a token (200)'].rps
result.goals = [
  ...['20 KB asset', '1 MB asset'].map((n) => ({ goal: `forward-auth: ${n} through nginx with the snippet >= 0.95x nginx without auth (median of ${ROUNDS} paired rounds)`, value: `${result.cases[n].ratio} (${result.cases[n].range.join('-')})`, met: result.cases[n].ratio >= 0.95 })),
  { goal: 'forward-auth: room page decisions >= 10,000/s on one core', value: decisionRate, met: decisionRate >= 10_000 },
]
await idp.close?.()
if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`)
else console.log(JSON.stringify(result, null, 2))
process.exit(0)
