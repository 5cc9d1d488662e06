import t from 'tap'
import { clientAddress, isForwardingHeader, trustList, upstreamHeaders, withoutCookies, type ForwardPolicy } from '../src/http/headers.js'

const trusted = trustList([{ address: '10.0.0.0', prefix: 8, family: 'ipv4' }])
const policy: ForwardPolicy = { publicProtocol: 'https', trusted, ownCookies: 'jos_' }

t.test('from an untrusted peer, forwarding headers are replaced by what this hop knows', async (t) => {
  const sent = {
    host: 'meet.example.com', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example',
    'x_forwarded_for': '7.7.7.7', forwarded: 'for=8.8.8.8', 'x-real-ip': '9.9.9.9', accept: 'text/html',
  }
  const out = upstreamHeaders(sent, '::ffff:192.0.2.7', policy)
  t.same(out, { host: 'meet.example.com', accept: 'text/html', 'x-forwarded-for': '192.0.2.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'meet.example.com' })
  t.equal(sent['x-forwarded-for'], '6.6.6.6', 'the request itself is left as it was')
})

t.test('from a trusted proxy, its X-Forwarded-* are kept and the peer appended; `_` spellings dropped', async (t) => {
  const out = upstreamHeaders({ host: 'h', 'x-forwarded-for': '203.0.113.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'meet.example.com', 'x_forwarded_for': '1.1.1.1' }, '10.1.2.3', policy)
  t.same(out, { host: 'h', 'x-forwarded-for': '203.0.113.1, 10.1.2.3', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'meet.example.com' })
  const bare = upstreamHeaders({ host: 'h', 'x-forwarded-proto': 'gopher' }, '10.1.2.3', policy)
  t.same(bare, { host: 'h', 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.1.2.3', 'x-forwarded-host': 'h' }, 'a proto that is not http(s) is ours')
})

t.test('hop-by-hop headers go, except on a WebSocket handshake; our cookies never reach jitsi-web', async (t) => {
  const sent = { host: 'h', connection: 'keep-alive, x-private', 'x-private': '1', te: 'trailers', upgrade: 'websocket', 'keep-alive': 'timeout=5', cookie: 'a=1; jos_session=SECRET; __Host-jos_tx_abc=SECRET; b=2' }
  const http = upstreamHeaders(sent, '192.0.2.1', policy)
  t.same(Object.keys(http).sort(), ['cookie', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'])
  t.equal(http.cookie, 'a=1; b=2')
  const ws = upstreamHeaders({ ...sent, connection: 'Upgrade' }, '192.0.2.1', policy, true)
  t.equal(ws.connection, 'Upgrade')
  t.equal(ws.upgrade, 'websocket')
  t.equal(ws.cookie, 'a=1; b=2')
  t.notOk('cookie' in upstreamHeaders({ cookie: 'jos_session=x' }, '192.0.2.1', policy), 'no Cookie header left when all were ours')
  t.equal(upstreamHeaders({ cookie: 'jos_session=x' }, '192.0.2.1', { ...policy, ownCookies: undefined }).cookie, 'jos_session=x', 'without sign-in, cookies are not ours to remove')
  t.equal(withoutCookies('jos_a=1;x=2;  __Host-jos_b=3 ;y=4', 'jos_'), 'x=2;y=4')
})

t.test('isForwardingHeader folds `_` to `-`', async (t) => {
  for (const name of ['x-forwarded-for', 'x_forwarded_host', 'forwarded', 'x-real-ip', 'x_real_ip']) t.ok(isForwardingHeader(name), name)
  for (const name of ['x-request-id', 'forward', 'host', 'accept', 'xforwarded-for']) t.notOk(isForwardingHeader(name), name)
})

t.test('clientAddress: the nearest hop no trusted proxy stands for', async (t) => {
  const cases: [string | undefined, string | string[] | undefined, string][] = [
    ['192.0.2.1', '6.6.6.6', '192.0.2.1'],
    ['::ffff:192.0.2.1', undefined, '192.0.2.1'],
    ['10.0.0.1', '203.0.113.9', '203.0.113.9'],
    ['10.0.0.1', '6.6.6.6, 203.0.113.9, 10.0.0.2', '203.0.113.9'],
    ['10.0.0.1', ['6.6.6.6', '203.0.113.9'], '203.0.113.9'],
    ['10.0.0.1', ' , ', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.3', '10.0.0.3'],
    [undefined, '1.2.3.4', ''],
  ]
  for (const [remote, xff, want] of cases) t.equal(clientAddress(remote, xff, trusted), want, JSON.stringify([remote, xff]))
  t.equal(clientAddress('10.0.0.1', '1.2.3.4', undefined), '10.0.0.1', 'nobody trusted: the peer')
})
