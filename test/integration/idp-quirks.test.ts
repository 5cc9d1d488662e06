/**
 * What real identity providers do by default, against the real oidc-provider
 * configured the same way: HS* ID tokens signed with the client secret
 * (LemonLDAP::NG's default), an ID-token algorithm discovery does not list,
 * an IdP that answers its token endpoint with an error, and a denied person
 * switching accounts.
 */
import t from 'tap'
import { Browser } from '../fixtures/client.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { signIn } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'

t.test('ID tokens signed with HS256/HS512 (the client secret) are verified and accepted', async (t) => {
  for (const alg of ['HS256', 'HS512'] as const) {
    const stack = await startStack({ idp: { idTokenAlg: alg } })
    t.teardown(() => stack.close())
    const done = await signIn(stack, new Browser(), '/MyRoom', 'alice')
    t.equal(done.done.status, 302, alg)
    t.ok(done.jwt, `${alg}: a token`)
  }
})

t.test('an ID-token algorithm the discovery document does not offer: the page and the log name it and the fix', async (t) => {
  const stack = await startStack({ idp: { idTokenAlg: 'HS512' } })
  t.teardown(() => stack.close())
  rewriteIdpAnswers(stack.idp, '/.well-known/openid-configuration', (body) => {
    body.id_token_signing_alg_values_supported = ['RS256']
  })
  const { done } = await signIn(stack, new Browser(), '/MyRoom', 'alice')
  t.equal(done.status, 502)
  t.match(done.body, /not set up correctly/)
  t.match(done.body, /ID token algorithm HS512; expected RS256/, 'the page names the algorithm')
  t.match(stack.logs.join('\n'), /"code":"IDP_MISCONFIGURED".*signed the ID token with HS512.*set this client's ID-token signature algorithm at the IdP/)
})

t.test('the token endpoint answering 500 server_error: the IdP reported an error, it is not "unreachable"', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  stack.idp.onRequest = (req, res) => {
    if (!(req.url ?? '').startsWith('/token')) return false
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error', error_description: 'database <down>\n' + 'x'.repeat(500) }))
    return true
  }
  const { done } = await signIn(stack, new Browser(), '/MyRoom', 'alice')
  t.equal(done.status, 502)
  t.match(done.body, /reported an error/)
  t.notMatch(done.body, /cannot be reached/)
  const line = stack.logs.find((l) => l.includes('"code":"IDP_ERROR"'))
  t.ok(line, 'logged as the IdP\'s error')
  t.match(line, /HTTP 500 error=server_error error_description=\\"database <down>\?x+\\"/, 'status, error and a bounded, printable description')
  t.ok(line!.length < 1200, 'bounded')
})

t.test('the token endpoint answering an HTML error page: the IdP failed, with status and URL in the log', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  stack.idp.onRequest = (req, res) => {
    if (!(req.url ?? '').startsWith('/token')) return false
    res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>')
    return true
  }
  const { done } = await signIn(stack, new Browser(), '/MyRoom', 'alice')
  t.equal(done.status, 502)
  t.match(done.body, /reported an error/)
  t.match(stack.logs.join('\n'), /"code":"IDP_ERROR".*code exchange: http:\/\/127\.0\.0\.1:\d+\/token answered HTTP 502/)
})

t.test('Access denied offers another account: prompt=login, back to the same room', async (t) => {
  const stack = await startStack()
  t.teardown(() => stack.close())
  const b = new Browser()
  const { done } = await signIn(stack, b, '/acme/My%20Room', 'bob')
  t.equal(done.status, 403)
  const link = /href="([^"]+)">Sign in with another account/.exec(done.body)?.[1]?.replace(/&#38;/g, '&')
  t.ok(link, 'the denied page has the link')
  t.equal(new URL(link!).origin, new URL(stack.url).origin, 'on our own origin')
  const again = await b.fetch(link!)
  t.equal(again.status, 302)
  const authorize = new URL(again.location!)
  t.equal(authorize.origin, new URL(stack.idp.issuer).origin, 'to the IdP')
  t.equal(authorize.searchParams.get('prompt'), 'login', 'which must ask for the account again')
  const back = await b.fetch(await b.signInAtIdp(again.location!, 'alice'))
  t.equal(back.status, 302)
  t.match(back.location, new RegExp(`^${stack.url}/acme/My%20Room\\?jwt=`), 'alice lands in the same room')
})
