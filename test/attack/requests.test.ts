/**
 * Hostile requests at the HTTP layer: forwarding-header spoofing in every
 * spelling, Host games, oversized URLs and headers, request smuggling shapes.
 * The proxy must never forward an ambiguous request, and redirects must stay
 * on PUBLIC_URL whatever the Host says.
 */
import t from 'tap'
import { request } from 'undici'
import { header, rawRequest } from '../fixtures/raw.js'
import { startStack, type Stack } from '../fixtures/stack.js'

let stack: Stack
let port: number
t.before(async () => {
  stack = await startStack()
  port = Number(new URL(stack.url).port)
})
t.teardown(() => stack.close())

t.test('spoofed forwarding headers in every spelling are replaced', async (t) => {
  const spellings = [
    'X-Forwarded-For: 6.6.6.6', 'x-forwarded-for: 6.6.6.7', 'X-FORWARDED-FOR: 6.6.6.8', 'X_Forwarded_For: 6.6.6.9', 'X-Forwarded_For: 6.6.6.10',
    'X-Forwarded-Proto: https', 'X_FORWARDED_PROTO: https', 'X-Forwarded-Host: evil.example', 'x_forwarded_host: evil.example',
    'X-Forwarded-Port: 1', 'X-Forwarded-Prefix: /evil', 'Forwarded: for=6.6.6.6;host=evil.example;proto=https', 'X-Real-IP: 6.6.6.6', 'X_Real_IP: 6.6.6.6',
  ]
  const r = await rawRequest(port, `GET /echo HTTP/1.1\r\nHost: meet.example.com\r\n${spellings.join('\r\n')}\r\nConnection: close\r\n\r\n`)
  t.equal(r.status, 200)
  const echo = JSON.parse(r.body) as { headers: Record<string, string> }
  const forwarding = Object.entries(echo.headers).filter(([k]) => /^(x[-_]forwarded|forwarded|x[-_]real)/i.test(k))
  t.same(Object.fromEntries(forwarding), { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'meet.example.com' })
})

t.test('Host games never move a redirect off PUBLIC_URL', async (t) => {
  const refused: string[] = []
  for (const host of ['evil.example', 'evil.example:443', `127.0.0.1:${port}@evil.example`, '', 'meet.example.com\\@evil.example']) {
    const r = await rawRequest(port, `GET /MyRoom HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`)
    if (r.status === 400) {
      refused.push(host) // Node refuses some malformed Host values outright: fine
      continue
    }
    t.equal(r.status, 302, `Host: ${host}`)
    const location = header(r, 'location') ?? ''
    const u = new URL(location)
    t.equal(u.origin, stack.idp.issuer, 'off to the IdP')
    t.equal(u.searchParams.get('redirect_uri'), `${stack.url}/jitsi/callback`, 'the redirect URI comes from PUBLIC_URL, not Host')
  }
  t.ok(refused.every((h) => h === '' || h.includes('\\')), `only malformed Host values are refused outright (${JSON.stringify(refused)}): the well-formed hostile ones were answered and checked`)
  const noHost = await rawRequest(port, 'GET /MyRoom HTTP/1.0\r\nAccept: text/html\r\n\r\n')
  t.equal(noHost.status, 302, 'HTTP/1.0 without Host still works')
})

t.test('oversized URLs and headers get a clear 414/431, not a crash', async (t) => {
  for (const [name, req] of [
    ['URL', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['query', `GET /MyRoom?${'a=1&'.repeat(6000)} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n`],
    ['header', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`],
    ['cookie', `GET /MyRoom HTTP/1.1\r\nHost: x\r\nCookie: ${'c=1; '.repeat(5000)}\r\nConnection: close\r\n\r\n`],
    ['many headers', `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nConnection: close\r\n\r\n`],
  ] as const) {
    const r = await rawRequest(port, req)
    t.ok(r.status === 414 || r.status === 431, `${name}: ${r.status}`)
  }
  const ok = await request(`${stack.url}/config.js`)
  await ok.body.text()
  t.equal(ok.statusCode, 200, 'still serving')
})

t.test('request smuggling shapes are refused, never forwarded', async (t) => {
  const before = stack.upstream.seen.length
  const shapes = {
    'CL + TE': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    'TE + CL': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
    'two Content-Lengths': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'Content-Length list': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!',
    'obfuscated TE': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
    'TE with space before colon': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
    'bad chunk size': 'POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    'LF-only line ends': 'POST /http-bind HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello',
    'header folding': 'GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n',
    'NUL in header': 'GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n',
  }
  for (const [name, raw] of Object.entries(shapes)) {
    const r = await rawRequest(port, raw)
    t.equal(r.status, 400, `${name}: ${r.status}`)
  }
  t.equal(stack.upstream.seen.filter((q) => q.url === '/smuggled').length, 0, 'no smuggled request reached jitsi-web')
  t.equal(stack.upstream.seen.length, before, 'no ambiguous request was forwarded at all')
})
