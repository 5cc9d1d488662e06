/**
 * A stand-in for jitsi-web: room pages that show the claims of the token they
 * were opened with, a few static files, a BOSH-like echo and a WebSocket echo
 * at /xmpp-websocket. Enough to see the sidecar work without Jitsi.
 */
import { createServer, type Server } from 'node:http'
import { WebSocketServer } from 'ws'
import { listen } from '../http/listen.js'

export interface StandIn {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The payload of a JWT, decoded without verification: this is only a stand-in for Jitsi. */
export function decodePayload(jwt: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
}

function roomPage(path: string, jwt: string | null, prefix: string): string {
  const room = decodeURIComponent(path.slice(1))
  const claims = jwt ? decodePayload(jwt) : undefined
  const user = (claims?.context as { user?: { name?: string } } | undefined)?.user
  const who = user?.name ? `Signed in as ${escape(user.name)}` : 'No token: you would join as a guest (if allowed)'
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(room)} · Jitsi stand-in</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem;max-width:48rem}pre{background:#f3f3f3;padding:1rem;overflow:auto}</style></head>
<body><h1>Jitsi stand-in: room “${escape(room)}”</h1><p id="who">${who}</p>
${claims ? `<p><a id="signout" href="${escape(prefix)}logout">Sign out</a></p><h2>Token claims</h2><pre id="claims">${escape(JSON.stringify(claims, null, 2))}</pre>` : `<p><a href="${escape(`${prefix}login?room=${path.split('/').pop() ?? ''}`)}">Sign in (like Jitsi's login button)</a></p>`}
<p>In a real deployment this is Jitsi Meet, which passes the token on to Prosody.</p></body></html>`
}

export async function startStandIn(opts: { host?: string; port?: number; pathPrefix?: string } = {}): Promise<StandIn> {
  const prefix = opts.pathPrefix ?? '/jitsi/'
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in')
    if (url.pathname === '/http-bind' && req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' })
      req.pipe(res)
      return
    }
    if (url.pathname === '/config.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' })
      res.end('var config = { hosts: { domain: "meet.jitsi" } };\n')
      return
    }
    if (url.pathname === '/' ) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><html lang="en"><title>Jitsi stand-in</title><h1>Jitsi stand-in</h1><p>Open a room, e.g. <a href="/MyRoom">/MyRoom</a>.</p></html>')
      return
    }
    if (/^\/[^/]+(?:\/[^/]+)?$/.test(url.pathname) && !url.pathname.includes('.')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(roomPage(url.pathname, url.searchParams.get('jwt'), prefix))
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    if (!(req.url ?? '').startsWith('/xmpp-websocket')) return socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })))
  })
  const port = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1')
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
