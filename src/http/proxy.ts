/**
 * Forwarding to jitsi-web. It knows nothing about auth. It replaces whatever
 * forwarding headers the client sent with the truth. Plain HTTP goes through
 * undici's pool (forward.ts: the hot path, measured faster than http-proxy);
 * WebSocket upgrades through http-proxy with a keep-alive agent, mending what
 * http-proxy 1.18.1 leaves undone there: a client leaving during the
 * handshake leaves the upstream request open, nothing bounds how long the
 * handshake may take, and its error event hands over a raw socket (answered
 * with a 502 status line).
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { randomBytes } from 'node:crypto'
import httpProxy from 'http-proxy'
import { createForwarder } from './forward.js'
import { upstreamHeaders, type ForwardPolicy } from './headers.js'

export interface ProxyOptions {
  readonly upstream: URL
  /** What the upstream is told about the request, and which cookies it never sees. */
  readonly forwarding: ForwardPolicy
  /** Called when the upstream fails before a response started; must answer `res`. */
  readonly onUpstreamError: (err: Error, req: IncomingMessage, res: ServerResponse) => void
  /** Called when the upstream fails a WebSocket handshake; must answer the socket. */
  readonly onUpstreamSocketError: (err: Error, req: IncomingMessage, socket: Duplex) => void
  /** Called for every upstream failure (for logging), including ones the client never sees. */
  readonly onError?: (err: Error, req: IncomingMessage, kind: 'http' | 'ws') => void
}

/** How long an upstream may take to answer a WebSocket upgrade. */
const WS_HANDSHAKE_TIMEOUT_MS = 30_000

export interface Proxy {
  /** `roomPage`: the response is a room page carrying a token in its URL; it gets a strict Referrer-Policy. */
  web(req: IncomingMessage, res: ServerResponse, roomPage?: boolean): void
  /** When the upstream's response headers arrived (performance.now()), for access logs. */
  upstreamAt(req: IncomingMessage): number | undefined
  ws(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Closes proxied WebSockets with a close frame (1001, going away) both ways; returns how many. */
  closeWebSockets(): number
  close(): void
}

/** A server-to-client WebSocket close frame: FIN+close, 2-byte payload, status 1001 (going away). */
const CLOSE_TO_CLIENT = Buffer.from([0x88, 0x02, 0x03, 0xe9])

/** The same frame client-to-server, which must be masked (RFC 6455 5.3). */
function closeToUpstream(): Buffer {
  const mask = randomBytes(4)
  return Buffer.from([0x88, 0x82, ...mask, 0x03 ^ (mask[0] as number), 0xe9 ^ (mask[1] as number)])
}

/** Room pages opened with a token in their URL: no Referer with it may leave the site. */
const ROOM_PAGE_HEADERS = Object.freeze({ 'referrer-policy': 'same-origin' })

export function createProxy(opts: ProxyOptions): Proxy {
  const forwarder = createForwarder({
    upstream: opts.upstream,
    onUpstreamError: opts.onUpstreamError,
    onError: (err, req) => opts.onError?.(err, req, 'http'),
  })
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' })
  const server = httpProxy.createProxyServer({ target: opts.upstream.origin, agent, xfwd: false, ws: true, changeOrigin: false })
  /** Proxied WebSockets: client socket → upstream socket. */
  const webSockets = new Map<Duplex, Socket>()

  server.on('proxyReqWs', (proxyReq, _req, socket) => {
    let settled = false
    const timer = setTimeout(() => proxyReq.destroy(new Error('upstream WebSocket handshake timed out')), WS_HANDSHAKE_TIMEOUT_MS)
    const done = () => {
      settled = true
      clearTimeout(timer)
    }
    proxyReq.once('upgrade', (_res, upstreamSocket: Socket) => {
      done()
      webSockets.set(socket, upstreamSocket)
      socket.once('close', () => webSockets.delete(socket))
    })
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
    opts.onError?.(err, req, 'ws')
    // For WebSocket upgrades http-proxy hands over the client's raw socket.
    const socket = resOrSocket as Socket | undefined
    if (socket && !socket.destroyed && !isServerResponse(socket)) {
      opts.onUpstreamSocketError(err, req, socket)
      socket.destroySoon?.()
    }
  })

  return {
    web(req, res, roomPage) {
      forwarder.forward(req, res, upstreamHeaders(req.headers, req.socket.remoteAddress, opts.forwarding), roomPage ? ROOM_PAGE_HEADERS : undefined)
    },
    upstreamAt: (req) => forwarder.upstreamAt(req),
    ws(req, socket, head) {
      // http-proxy builds the upstream handshake from req.headers: hand it the headers to send.
      req.headers = upstreamHeaders(req.headers, req.socket.remoteAddress, opts.forwarding, true)
      server.ws(req, socket, head)
    },
    closeWebSockets() {
      const n = webSockets.size
      for (const [client, upstream] of webSockets) {
        // Stop the byte pipes first so no half-forwarded frame follows our close frame.
        upstream.unpipe(client)
        client.unpipe(upstream)
        if (client.writable) client.end(CLOSE_TO_CLIENT)
        if (upstream.writable) upstream.end(closeToUpstream())
      }
      webSockets.clear()
      return n
    },
    close() {
      server.close()
      agent.destroy()
      void forwarder.close()
    },
  }
}

function isServerResponse(x: unknown): x is ServerResponse {
  return typeof x === 'object' && x !== null && typeof (x as ServerResponse).writeHead === 'function'
}
