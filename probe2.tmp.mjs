import http from 'node:http'
import { Pool } from 'undici'
const srv = http.createServer((req,res)=>{res.writeHead(302,{location:'http://x/'+req.url.length}); res.end(JSON.stringify(req.url))})
await new Promise(r=>srv.listen(0,'127.0.0.1',r))
const pool = new Pool(`http://127.0.0.1:${srv.address().port}`, { connections: 2 })
for (const p of ['/a#b', '/ok?a#b&c', '/a"b<>\\{|}`^', '/%zz', '/\u00e4', '/a b', '/a\tb', '//evil', '/' + 'a'.repeat(17000)]) {
  try { const r = await pool.request({ path: p, method: 'GET' }); console.log(JSON.stringify(p).slice(0,40), r.statusCode, r.headers.location, (await r.body.text()).slice(0,40)) } catch (e) { console.log(JSON.stringify(p).slice(0,40), 'ERR', e.message) }
}
await pool.close(); srv.close()
