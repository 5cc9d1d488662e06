// The ceiling: the least work a correct forwarder does, on undici's pool with its low-level
// handler API (what the sidecar's forward.ts is built on): hop-by-hop headers dropped both ways,
// X-Forwarded-For/Proto/Host set, bodies streamed both ways with backpressure; no routing,
// cookies, logs or metrics.
//   node bench/bare-undici.mjs UPSTREAM PORT
import http from 'node:http'
import { Pool } from 'undici'

const [target, port] = process.argv.slice(2)
const pool = new Pool(target, { connections: 512, pipelining: 1 })
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'expect'])
const strip = (h) => {
  const out = {}
  for (const k in h) if (!HOP.has(k)) out[k] = h[k]
  return out
}

http.createServer((req, res) => {
  const headers = strip(req.headers)
  headers['x-forwarded-for'] = req.socket.remoteAddress
  headers['x-forwarded-proto'] = 'http'
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
  let controller
  res.once('close', () => {
    if (!res.writableFinished) controller?.abort(new Error('client gone'))
  })
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, {
    onRequestStart(c) {
      controller = c
    },
    onResponseStart(_c, status, h) {
      if (status >= 200) res.writeHead(status, strip(h))
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause()
        res.once('drain', () => c.resume())
      }
    },
    onResponseEnd: () => res.end(),
    onResponseError(_c, _err) {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    },
  })
}).listen(Number(port), '127.0.0.1', () => console.log('listening'))
