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
import { BlockList, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { randomBytes } from 'node:crypto'
import httpProxy from 'http-proxy'
import { createForwarder } from './forward.js'

export interface ProxyOptions {
  readonly upstream: URL
  /** Peers whose X-Forwarded-* headers are kept (appended to), e.g. the ingress. */
  readonly trustedProxies?: BlockList | undefined
  /** `http` or `https`: how people reach the site (PUBLIC_URL), since TLS ends before the sidecar. */
  readonly publicProtocol: string
  /** Called when the upstream fails before a response started; must answer `res`. */
  readonly onUpstreamError: (err: Error, req: IncomingMessage, res: ServerResponse) => void
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

/**
 * Forwarding headers a client may try to spoof. Matched after folding `_` to
 * `-`, because some servers treat `X_Forwarded_For` as `X-Forwarded-For`.
 */
function isForwardingHeader(name: string): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name
  return n.startsWith('x-forwarded-') || n === 'forwarded' || n === 'x-real-ip'
}

/** Builds the BlockList of TRUSTED_PROXIES once, at start-up. */
export function trustList(cidrs: readonly { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined
  const list = new BlockList()
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family)
  return list
}

function peerAddress(req: IncomingMessage): string {
  const remote = req.socket.remoteAddress ?? ''
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote
}

export function isTrustedPeer(address: string, trusted: BlockList | undefined): boolean {
  if (!trusted || address === '') return false
  return trusted.check(address, address.includes(':') ? 'ipv6' : 'ipv4')
}

/**
 * Sets the forwarding headers the upstream gets. From an untrusted peer,
 * whatever the client sent is replaced by what this hop knows; from a
 * trusted proxy its X-Forwarded-For is kept and the peer appended, and its
 * X-Forwarded-Proto/Host kept. `_` spellings are dropped either way.
 */
function setForwardedHeaders(req: IncomingMessage, publicProtocol: string, trusted?: BlockList): void {
  const headers = req.headers
  const peer = peerAddress(req)
  if (isTrustedPeer(peer, trusted)) {
    for (const name in headers) if (name.includes('_') && isForwardingHeader(name)) delete headers[name]
    const xff = headers['x-forwarded-for']
    headers['x-forwarded-for'] = xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${peer}` : peer
    const proto = headers['x-forwarded-proto']
    if (proto !== 'http' && proto !== 'https') headers['x-forwarded-proto'] = publicProtocol
    if (headers['x-forwarded-host'] === undefined && headers.host !== undefined) headers['x-forwarded-host'] = headers.host
    return
  }
  for (const name in headers) if (isForwardingHeader(name)) delete headers[name]
  headers['x-forwarded-for'] = peer
  headers['x-forwarded-proto'] = publicProtocol
  if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host
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
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      socket.destroySoon?.()
    }
  })

  return {
    web(req, res, roomPage) {
      setForwardedHeaders(req, opts.publicProtocol, opts.trustedProxies)
      forwarder.forward(req, res, roomPage ? ROOM_PAGE_HEADERS : undefined)
    },
    upstreamAt: (req) => forwarder.upstreamAt(req),
    ws(req, socket, head) {
      setForwardedHeaders(req, opts.publicProtocol, opts.trustedProxies)
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
