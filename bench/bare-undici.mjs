// The ceiling: bare forwarding over undici's pool with its low-level handler API (what the
// sidecar's forward.ts is built on), nothing else: no routing, headers, logs or metrics.
import http from 'node:http'
import { Pool } from 'undici'

const [target, port] = process.argv.slice(2)
const pool = new Pool(target, { connections: 512, pipelining: 1 })
http.createServer((req, res) => {
  const { connection, 'keep-alive': _k, ...headers } = req.headers
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, {
    onRequestStart() {}, // undici tells the new handler API from the old one by this method
    onResponseStart(_c, status, h) {
      if (status >= 200) res.writeHead(status, h)
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
