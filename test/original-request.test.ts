import t from 'tap'
import { originalRequest, relaysAnswers } from '../src/http/original-request.js'

t.test('each caller describes the original request its own way', async (t) => {
  t.same(originalRequest('GET', '', '', { 'x-original-uri': '/acme/MyRoom?jwt=x&lang=de', 'x-original-method': 'GET' }),
    { caller: 'nginx', method: 'GET', path: '/acme/MyRoom', query: 'jwt=x&lang=de' })
  t.same(originalRequest('GET', '', '', { 'x-original-url': 'https://meet.example.com/MyRoom?a=1#f', 'x-original-method': 'head' }),
    { caller: 'ingress-nginx', method: 'HEAD', path: '/MyRoom', query: 'a=1' })
  t.same(originalRequest('GET', '', '', { 'x-original-url': 'https://meet.example.com' }), { caller: 'ingress-nginx', method: 'GET', path: '/', query: '' })
  t.same(originalRequest('GET', '', '', { 'x-forwarded-uri': '/MyRoom', 'x-forwarded-method': 'POST', 'x-forwarded-host': 'meet.example.com' }),
    { caller: 'traefik', method: 'POST', path: '/MyRoom', query: '' })
  t.same(originalRequest('HEAD', '/acme/MyRoom', 'x=1', {}), { caller: 'envoy', method: 'HEAD', path: '/acme/MyRoom', query: 'x=1' })
  t.same(originalRequest('GET', '', '', { 'x-original-uri': ['/A', '/B'] }), { caller: 'nginx', method: 'GET', path: '/A', query: '' })
})

t.test('what does not describe a request is named', async (t) => {
  t.match(originalRequest('GET', '', '', {}), /no original request/)
  t.match(originalRequest('GET', '', '', { 'x-original-url': '/MyRoom' }), /not an absolute/)
  t.match(originalRequest('GET', '', '', { 'x-original-url': 'javascript:alert(1)' }), /not an absolute/)
  t.match(originalRequest('GET', '', '', { 'x-original-uri': 'MyRoom' }), /does not start with \//)
  t.match(originalRequest('GET', '', '', { 'x-forwarded-uri': 'http://x/MyRoom' }), /does not start with \//)
})

t.test('a question that describes two requests is refused: a client added one of them', async (t) => {
  const spoofs = [
    { 'x-forwarded-uri': '/MyRoom', 'x-original-url': 'https://meet.example.com/static/x' },
    { 'x-original-url': 'https://meet.example.com/MyRoom', 'x-forwarded-uri': '/static/x' },
    { 'x-original-uri': '/MyRoom', 'x-original-url': 'https://meet.example.com/static/x' },
    { 'x-original-uri': '/MyRoom', 'x-forwarded-uri': '/static/x' },
  ]
  for (const h of spoofs) t.match(originalRequest('GET', '', '', h), /more than one request/, JSON.stringify(h))
  t.match(originalRequest('GET', '/MyRoom', '', { 'x-original-uri': '/static/x' }), /more than one request/, 'Envoy passes a client\'s X-Original-URI on')
})

t.test('only Traefik and Envoy hand our answer to the client as it is', async (t) => {
  t.same((['nginx', 'ingress-nginx', 'traefik', 'envoy'] as const).map(relaysAnswers), [false, false, true, true])
})
