/**
 * Plain HTTP forwarding to jitsi-web over undici's connection pool: the hot
 * path for every asset and BOSH request. Bodies stream both ways with
 * backpressure; a client leaving aborts the upstream request; an upstream
 * failing before its response starts becomes the 502 page, and one dying
 * mid-response cuts the client's response instead of leaving it open.
 * (WebSocket upgrades stay with http-proxy, in proxy.ts.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
// The pool's own file (src/vendor.d.ts types it): undici's index also loads fetch,
// WebSocket, caches and mocks, which forwarding never uses (in the bundle, about
// 40 ms of start-up and 6 MB when listening).
import Pool from 'undici/lib/dispatcher/pool.js'
import { HOP_BY_HOP } from './headers.js'

/** The reason given to undici when the client leaves first. */
const CLIENT_GONE = new Error('the client closed the connection')

export interface ForwardOptions {
  readonly upstream: URL
  /** The upstream failed before a response started; must answer `res`. */
  readonly onUpstreamError: (err: Error, req: IncomingMessage, res: ServerResponse) => void
  /** Every upstream failure, for metrics and logs. */
  readonly onError?: (err: Error, req: IncomingMessage) => void
}

export interface Forwarder {
  /** Forwards `req` with `headers` (see upstreamHeaders); `extraHeaders` are added to the response (e.g. Referrer-Policy). */
  forward(req: IncomingMessage, res: ServerResponse, headers: Record<string, string | string[]>, extraHeaders?: Readonly<Record<string, string>>): void
  /** When the upstream's response headers arrived (performance.now()). */
  upstreamAt(req: IncomingMessage): number | undefined
  close(): Promise<void>
}

function responseHeaders(raw: Record<string, string | string[] | undefined>, extra: Readonly<Record<string, string>> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name in raw) {
    const v = raw[name]
    if (v === undefined || HOP_BY_HOP.has(name)) continue
    out[name] = v
  }
  if (extra) Object.assign(out, extra)
  return out
}

export function createForwarder(opts: ForwardOptions): Forwarder {
  // BOSH long-polls hold a request for up to a minute: no short timeouts here.
  const pool = new Pool(opts.upstream.origin, { connections: 512, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 300_000, bodyTimeout: 300_000 })
  const upstreamAt = new WeakMap<IncomingMessage, number>()

  function forward(req: IncomingMessage, res: ServerResponse, headers: Record<string, string | string[]>, extra?: Readonly<Record<string, string>>): void {
    // undici's low-level handler API: no AbortController, promise or stream wrapper per request.
    let controller: Dispatcher.DispatchController | undefined
    let clientGone = false
    let started = false
    const onClose = () => {
      if (res.writableFinished) return
      clientGone = true
      controller?.abort(CLIENT_GONE)
    }
    res.once('close', onClose)
    const onDrain = () => controller?.resume()
    // A body only when the request says it has one: GETs must not wait for an end that is already there.
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    pool.dispatch(
      { path: req.url ?? '/', method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: hasBody ? req : null },
      {
        onRequestStart(c) {
          controller = c
          if (clientGone) c.abort(CLIENT_GONE)
        },
        onResponseStart(_c, statusCode, headers) {
          if (statusCode < 200) return // 1xx: Node's server speaks for itself
          started = true
          upstreamAt.set(req, performance.now())
          res.writeHead(statusCode, responseHeaders(headers, extra))
        },
        onResponseData(c, chunk) {
          if (!res.write(chunk)) {
            c.pause()
            res.once('drain', onDrain)
          }
        },
        onResponseEnd() {
          res.end()
        },
        onResponseError(_c, err) {
          if (clientGone) return // the client left: nothing to tell anyone
          res.off('close', onClose)
          opts.onError?.(err, req)
          if (!started && !res.headersSent) opts.onUpstreamError(err, req, res)
          else res.destroy()
        },
      },
    )
  }

  return {
    forward,
    upstreamAt: (req) => upstreamAt.get(req),
    close: () => pool.destroy(),
  }
}
