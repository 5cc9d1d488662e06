// The baseline: bare http-proxy 1.18.1 with a keep-alive agent, nothing else.
import http from 'node:http'
import httpProxy from 'http-proxy'

const [target, port] = process.argv.slice(2)
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 })
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true })
proxy.on('error', (_err, _req, res) => {
  if (res.writeHead && !res.headersSent) res.writeHead(502)
  res.end?.()
})
http.createServer((req, res) => proxy.web(req, res)).listen(Number(port), '127.0.0.1', () => console.log('listening'))
