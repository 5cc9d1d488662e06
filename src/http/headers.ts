/**
 * The request headers jitsi-web gets, built in one pass over what the client
 * sent (never by changing the request): hop-by-hop headers dropped, the
 * forwarding headers replaced with what this hop knows (or appended to, from
 * a trusted proxy), and the sidecar's own cookies removed. Also the client's
 * address for the access log. Pure functions of their inputs; this is the
 * hot path, so everything that can be is decided at start-up.
 */
import { BlockList } from 'node:net'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) and ones undici manages itself: never
 * forwarded either way. `expect` is answered by Node's server already.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'expect', 'http2-settings'])

export interface ForwardPolicy {
  /** `http` or `https`: how people reach the site (PUBLIC_URL), since TLS ends before the sidecar. */
  readonly publicProtocol: string
  /** Peers whose X-Forwarded-* headers are kept (appended to), e.g. the ingress. */
  readonly trusted: BlockList | undefined
  /** Cookies whose names start with this (or `__Host-` and this) are not forwarded. */
  readonly ownCookies: string | undefined
}

/** A request header's value; the first, if it was sent more than once. */
export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Builds the BlockList of TRUSTED_PROXIES once, at start-up. */
export function trustList(cidrs: readonly { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined
  const list = new BlockList()
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family)
  return list
}

export function isTrustedPeer(address: string, trusted: BlockList | undefined): boolean {
  if (!trusted || address === '') return false
  return trusted.check(address, address.includes(':') ? 'ipv6' : 'ipv4')
}

/** The peer's address, IPv4-mapped IPv6 addresses as plain IPv4. */
function peerAddress(remoteAddress: string | undefined): string {
  const remote = remoteAddress ?? ''
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote
}

/**
 * Forwarding headers a client may try to spoof. Matched after folding `_` to
 * `-`, because some servers treat `X_Forwarded_For` as `X-Forwarded-For`.
 */
export function isForwardingHeader(name: string): boolean {
  const first = name.charCodeAt(0)
  if (first !== 120 /* x */ && first !== 102 /* f */) return false
  const n = name.includes('_') ? name.replace(/_/g, '-') : name
  return n.startsWith('x-forwarded-') || n === 'forwarded' || n === 'x-real-ip'
}

/**
 * The headers for the upstream request. From an untrusted peer, whatever the
 * client sent about forwarding is replaced by what this hop knows; from a
 * trusted proxy its X-Forwarded-For is kept and the peer appended, and its
 * X-Forwarded-Proto/Host kept. `_` spellings are dropped either way.
 * `upgrade`: a WebSocket handshake, whose Connection and Upgrade must stay.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, remoteAddress: string | undefined, p: ForwardPolicy, upgrade = false): Record<string, string | string[]> {
  const peer = peerAddress(remoteAddress)
  const trusted = isTrustedPeer(peer, p.trusted)
  const connection = upgrade ? undefined : headers.connection
  const named = connection && connection !== 'keep-alive' && connection !== 'close' ? new Set(connection.toLowerCase().split(',').map((s) => s.trim())) : undefined
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined) continue
    if (!upgrade && (HOP_BY_HOP.has(name) || named?.has(name))) continue
    if (isForwardingHeader(name) && (!trusted || name.includes('_'))) continue
    out[name] = v
  }
  const cookie = out.cookie
  if (p.ownCookies !== undefined && typeof cookie === 'string' && cookie.includes(p.ownCookies)) {
    const kept = withoutCookies(cookie, p.ownCookies)
    if (kept === '') delete out.cookie
    else out.cookie = kept
  }
  const host = headers.host
  if (trusted) {
    const xff = out['x-forwarded-for']
    out['x-forwarded-for'] = xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${peer}` : peer
    const proto = out['x-forwarded-proto']
    if (proto !== 'http' && proto !== 'https') out['x-forwarded-proto'] = p.publicProtocol
    if (out['x-forwarded-host'] === undefined && host !== undefined) out['x-forwarded-host'] = host
  } else {
    out['x-forwarded-for'] = peer
    out['x-forwarded-proto'] = p.publicProtocol
    if (host !== undefined) out['x-forwarded-host'] = host
  }
  return out
}

/** A Cookie header without the cookies named `<mark>…` or `__Host-<mark>…`. */
export function withoutCookies(cookie: string, mark: string): string {
  return cookie
    .split(';')
    .filter((c) => {
      const name = c.slice(0, c.indexOf('=')).trim()
      return !(name.startsWith(mark) || name.startsWith(`__Host-${mark}`))
    })
    .join(';')
    .trim()
}

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the
 * X-Forwarded-For hop nearest to us that no trusted proxy stands for
 * (read right to left: entries further left are whatever the client wrote).
 */
export function clientAddress(remoteAddress: string | undefined, xff: string | string[] | undefined, trusted: BlockList | undefined): string {
  let client = peerAddress(remoteAddress)
  if (!isTrustedPeer(client, trusted)) return client
  const hops = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim()
    if (hop === '') continue
    client = hop
    if (!isTrustedPeer(hop, trusted)) break
  }
  return client
}
