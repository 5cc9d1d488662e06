// The honest ceiling: the least a correct forwarder does, written the obvious way with undici's
// public API and nothing borrowed from the sidecar. node:http server, one undici Pool,
// pool.stream() straight into the response (undici applies the backpressure), hop-by-hop headers
// dropped both ways, X-Forwarded-For/Proto/Host set, request and response bodies streamed.
//   node bench/minimal-forwarder.mjs UPSTREAM PORT
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
  pool.stream({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, ({ statusCode, headers: h }) => {
    res.writeHead(statusCode, strip(h))
    return res
  }, (err) => {
    if (!err) return
    if (!res.headersSent) res.writeHead(502).end()
    else res.destroy()
  })
}).listen(Number(port), '127.0.0.1', () => console.log('listening'))
