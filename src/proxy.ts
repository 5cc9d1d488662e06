/**
 * Forwarding to jitsi-web: HTTP and WebSocket upgrades through http-proxy with
 * a keep-alive agent. It knows nothing about auth. It replaces whatever
 * forwarding headers the client sent with the truth, turns upstream failures
 * into the 502 page (HTTP) or a 502 status line (WebSocket), and mends what
 * http-proxy 1.18.1 leaves undone:
 * - a client leaving during a response does not abort the upstream request;
 * - an upstream dying mid-response leaves the client's response open forever;
 * - a client leaving during a WebSocket handshake leaves the upstream request
 *   open, and nothing bounds how long the handshake may take.
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import httpProxy from 'http-proxy'

export interface ProxyOptions {
  readonly upstream: URL
  /** `http` or `https`: how people reach the site (PUBLIC_URL), since TLS ends before the sidecar. */
  readonly publicProtocol: string
  /** Called when the upstream fails before a response started; must answer `res`. */
  readonly onUpstreamError: (err: Error, req: IncomingMessage, res: ServerResponse) => void
  /** Called for every upstream failure (for logging), including ones the client never sees. */
  readonly onError?: (err: Error, req: IncomingMessage, kind: 'http' | 'ws') => void
}

/** How long an upstream may take to answer a WebSocket upgrade. */
export const WS_HANDSHAKE_TIMEOUT_MS = 30_000

export interface Proxy {
  web(req: IncomingMessage, res: ServerResponse): void
  ws(req: IncomingMessage, socket: Duplex, head: Buffer): void
  close(): void
}

/**
 * Forwarding headers a client may try to spoof. Matched after folding `_` to
 * `-`, because some servers treat `X_Forwarded_For` as `X-Forwarded-For`.
 */
function isForwardingHeader(name: string): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name
  return n.startsWith('x-forwarded-') || n === 'forwarded' || n === 'x-real-ip'
}

/** Replaces client-sent forwarding headers with what this hop knows to be true. */
export function setForwardedHeaders(req: IncomingMessage, publicProtocol: string): void {
  const headers = req.headers
  for (const name in headers) if (isForwardingHeader(name)) delete headers[name]
  const remote = req.socket.remoteAddress ?? ''
  headers['x-forwarded-for'] = remote.startsWith('::ffff:') ? remote.slice(7) : remote
  headers['x-forwarded-proto'] = publicProtocol
  if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host
}

export function createProxy(opts: ProxyOptions): Proxy {
  // No socket cap: every BOSH long-poll holds one, and queueing them would stall meetings.
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' })
  const target = opts.upstream.origin
  const server = httpProxy.createProxyServer({ target, agent, xfwd: false, ws: true, changeOrigin: false })

  server.on('proxyReq', (proxyReq, _req, res) => {
    // http-proxy only aborts on the request's 'aborted' event, which never
    // fires once the request body is complete (every GET): a client leaving
    // during the download would leave the upstream request running.
    res.once('close', () => {
      if (!res.writableFinished) proxyReq.destroy()
    })
  })

  server.on('proxyRes', (proxyRes, _req, res) => {
    proxyRes.once('close', () => {
      if (!proxyRes.complete) res.destroy()
    })
  })

  server.on('proxyReqWs', (proxyReq, _req, socket) => {
    let settled = false
    const timer = setTimeout(() => proxyReq.destroy(new Error('upstream WebSocket handshake timed out')), WS_HANDSHAKE_TIMEOUT_MS)
    const done = () => {
      settled = true
      clearTimeout(timer)
    }
    proxyReq.once('upgrade', done)
    proxyReq.once('response', done)
    proxyReq.once('close', done)
    // A client that hangs up (or half-closes: Node no longer manages an
    // upgraded socket, so a FIN alone never closes it) before the upstream
    // answered takes the upstream request with it.
    const abandon = () => {
      if (settled) return
      done()
      proxyReq.destroy()
      socket.destroy()
    }
    socket.once('close', abandon)
    socket.once('end', abandon)
  })

  server.on('error', (err, req, resOrSocket) => {
    opts.onError?.(err, req, isServerResponse(resOrSocket) ? 'http' : 'ws')
    if (isServerResponse(resOrSocket)) {
      const res = resOrSocket
      if (res.headersSent || res.destroyed || res.writableEnded) {
        res.destroy()
        return
      }
      opts.onUpstreamError(err, req, res)
      return
    }
    // For WebSocket upgrades http-proxy hands over the client's raw socket.
    const socket = resOrSocket as Socket | undefined
    if (socket && !socket.destroyed) {
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      socket.destroySoon?.()
    }
  })

  return {
    web(req, res) {
      setForwardedHeaders(req, opts.publicProtocol)
      server.web(req, res)
    },
    ws(req, socket, head) {
      setForwardedHeaders(req, opts.publicProtocol)
      server.ws(req, socket, head)
    },
    close() {
      server.close()
      agent.destroy()
    },
  }
}

function isServerResponse(x: unknown): x is ServerResponse {
  return typeof x === 'object' && x !== null && typeof (x as ServerResponse).writeHead === 'function'
}
