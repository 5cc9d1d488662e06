import t from 'tap'
import { Writable } from 'node:stream'
import { accessLogFloor, createLogger, prettyStream, redactUrl } from '../src/ops/log.js'

t.test('redactUrl', async (t) => {
  const cases: [string, string][] = [
    ['/MyRoom', '/MyRoom'],
    ['/MyRoom?jwt=eyJ.a.b&lang=de', '/MyRoom?jwt=[redacted]&lang=de'],
    ['/jitsi/callback?code=abc&state=xyz&iss=http%3A%2F%2Fidp', '/jitsi/callback?code=[redacted]&state=[redacted]&iss=http%3A%2F%2Fidp'],
    ['/http-bind?room=x&token=secret', '/http-bind?room=x&token=[redacted]'],
    ['/x?JWT=a&%6Awt=b&Code=c', '/x?JWT=[redacted]&%6Awt=[redacted]&Code=[redacted]'],
    ['/x?id_token_hint=a&access_token=b', '/x?id_token_hint=[redacted]&access_token=[redacted]'],
    ['/x?%zz=secret', '/x?[redacted]'],
    ['/x?jwt', '/x?jwt'],
  ]
  for (const [input, out] of cases) t.equal(redactUrl(input), out, input)
})

t.test('ACCESS_LOG: which answers get an access line', async (t) => {
  const wanted = (mode: 'all' | 'errors' | 'off', status: number) => status >= accessLogFloor(mode)
  for (const status of [200, 204, 302, 304, 399]) {
    t.ok(wanted('all', status), `all: ${status}`)
    t.notOk(wanted('errors', status), `errors: not ${status}`)
  }
  for (const status of [400, 403, 404, 499, 502, 503]) t.ok(wanted('errors', status), `errors: ${status}`)
  for (const status of [200, 404, 502]) t.notOk(wanted('off', status), `off: not ${status}`)
})

t.test('the logger redacts cookies and authorization wherever they appear', async (t) => {
  const lines: string[] = []
  const log = createLogger('info', new Writable({ write(c, _e, cb) { lines.push(c.toString()); cb() } }))
  log.info({ req: { headers: { cookie: 'jos_session=SECRET', authorization: 'Bearer SECRET' } }, x: { jwt: 'SECRET', token: 'SECRET' } }, 'm')
  t.equal(lines.length, 1)
  t.notMatch(lines[0], /SECRET/)
  t.match(lines[0], /"level":"info"/)
})

t.test('LOG_FORMAT=pretty: human-readable lines, pino-pretty loaded only then', async (t) => {
  const { createRequire } = await import('node:module')
  const cache = createRequire(import.meta.url).cache
  const prettyLoaded = () => Object.keys(cache).some((f) => f.includes('/node_modules/pino-pretty/'))
  const json: string[] = []
  createLogger('info', new Writable({ write(c, _e, cb) { json.push(c.toString()); cb() } })).info({ event: 'x' }, 'json line')
  t.match(json[0], /^\{"level":"info".*"msg":"json line"\}$/m)
  t.notOk(prettyLoaded(), 'JSON logging does not load pino-pretty')
  const lines: string[] = []
  const log = createLogger('info', await prettyStream(new Writable({ write(c, _e, cb) { lines.push(c.toString()); cb() } })))
  log.info({ req: { headers: { cookie: 'jos_session=SECRET' } } }, 'hello there')
  t.ok(prettyLoaded())
  t.match(lines.join(''), /INFO.*: hello there/)
  t.notMatch(lines.join(''), /SECRET/, 'redaction applies to pretty lines too')
  t.notMatch(lines.join(''), /^\{/, 'not JSON')
})
