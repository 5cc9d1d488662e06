/**
 * The whole journey in a real browser (Debian's Chromium via playwright-core)
 * against the demo's embedded IdP and stand-in Jitsi page: sign-in, cookies,
 * parallel tabs, Jitsi's TOKEN_AUTH_URL, logout through the IdP, and the
 * pages people see when something is wrong. Every journey saves screenshots
 * under test-results/ and asserts on what the page shows.
 */
import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core'
import { roomClaim } from '../../src/rooms/classify.js'
import { TEXTS } from '../../src/pages/texts.js'
import { CookieCodec } from '../../src/signin/cookies.js'
import { sealReturn } from '../../src/signin/return-state.js'
import type { Asserts } from '../fixtures/asserts.js'
import { rewriteIdpAnswers } from '../fixtures/idp-rewrite.js'
import { closeServer, listenServer } from '../fixtures/stack.js'
import {
  APP_SECRET, CLIENT_SECRET, COOKIE_SECRET, launchChromium, logLinesWith, readSidecarPage, screenshot, shownClaims, signInAtIdp, startE2eStack, waitForRoom,
  type E2eStack, type ShownPage,
} from './harness.js'

const started = Date.now()
let browser: Browser
let stack: E2eStack

t.before(async () => {
  browser = await launchChromium()
  stack = await startE2eStack()
})
t.teardown(async () => {
  await browser?.close()
  await stack?.close()
  t.comment(`e2e journeys took ${((Date.now() - started) / 1000).toFixed(1)} s`)
})

async function newContext(t: Asserts, opts: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', ...opts })
  context.setDefaultTimeout(15_000)
  t.teardown(() => context.close())
  return context
}

/** Opens `url` as a link on a page of `elsewhere` would (Sec-Fetch-Site: cross-site); its response. */
async function openFromAnotherSite(page: Page, url: string, elsewhere: string): Promise<Response> {
  await page.goto(`${elsewhere}/.well-known/openid-configuration`)
  const [response] = await Promise.all([page.waitForResponse(url), page.evaluate(`location.href = ${JSON.stringify(url)}`)])
  return response
}

/** The sidecar's log lines with this event, parsed. */
function logLinesWithEvent(logs: readonly string[], event: string): Record<string, unknown>[] {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event)
}

/** Document requests a page made to an origin (redirect hops included). */
function documentsTo(page: Page, origin: string): string[] {
  const seen: string[] = []
  page.on('request', (r: Request) => {
    if (r.resourceType() === 'document' && new URL(r.url()).origin === origin) seen.push(new URL(r.url()).pathname)
  })
  return seen
}

/** What every page of the sidecar must be: template, headers, no secrets, readable on a phone, id in the log. */
function checkSidecarPage(t: Asserts, shown: ShownPage, want: { status: number; heading: string; lang?: string; logged?: Record<string, unknown> }, s: E2eStack = stack): void {
  const lang = want.lang ?? 'en'
  t.equal(shown.status, want.status, `status ${want.status}`)
  t.equal(shown.heading, want.heading, `shows “${want.heading}”`)
  t.equal(shown.title, `${want.heading} · ${new URL(s.url).host}`, 'title names the page and the site')
  t.equal(shown.site, new URL(s.url).host, 'site name from PUBLIC_URL')
  t.equal(shown.lang, lang, `lang="${lang}"`)
  t.equal(shown.headers['content-language'], lang, 'Content-Language')
  t.match(shown.headers.vary ?? '', /Accept-Language/i, 'Vary: Accept-Language')
  t.match(shown.headers['content-security-policy'] ?? '', /default-src 'none'/, 'strict CSP')
  t.equal(shown.viewportMeta, 'width=device-width, initial-scale=1', 'meta viewport')
  t.ok(shown.fitsPhone, 'no horizontal scrolling at 375 px')
  for (const secret of [CLIENT_SECRET, COOKIE_SECRET, APP_SECRET]) t.notOk(shown.text.includes(secret), 'no secret on the page')
  t.notMatch(shown.text, /\bat .+:\d+:\d+|Error:|eyJ/, 'no stack trace or token on the page')
  if (want.logged) {
    t.match(shown.requestId, /^[0-9a-f-]{36}$/, 'a request id to quote')
    t.match(shown.text, new RegExp(`${TEXTS[lang as 'en'].requestId}: ${shown.requestId}`), 'the request id is visible')
    t.match(logLinesWith(s.logs, shown.requestId), [want.logged], 'the same request id is in the log line')
  }
}

t.test('sign-in: room URL → IdP page → the room with ?jwt= and the name', async (t) => {
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${stack.url}/MyRoom`)
  await page.locator('h1').waitFor()
  t.equal(await page.locator('h1').innerText(), 'Demo identity provider', 'the IdP asks who you are')
  await screenshot(page, 'sign-in-idp')
  let callback = ''
  page.on('request', (r) => {
    if (r.url().startsWith(`${stack.url}/jitsi/callback?`)) callback = r.url()
  })
  await signInAtIdp(page, stack.idp.issuer, 'alice')
  const landed = await waitForRoom(page, stack.url, '/MyRoom')
  await screenshot(page, 'sign-in-room')
  t.equal(await page.locator('#who').innerText(), 'Signed in as Alice Example', 'the room shows the name from the token')
  t.match(await page.locator('h1').innerText(), /room “MyRoom”/)
  const claims = await shownClaims(page)
  t.match(claims, { room: 'myroom', context: { user: { name: 'Alice Example', moderator: 'true' } } }, 'token for this room, alice a moderator')
  t.equal(landed.searchParams.getAll('jwt').length, 1, 'one token in the query')
  t.equal(landed.hash, '', 'no fragment')

  const cookies = await context.cookies(stack.url)
  const session = cookies.filter((c) => /jos_session$/.test(c.name))
  t.equal(session.length, 1, 'one session cookie')
  t.match(session[0], { name: 'jos_session', domain: 'localhost', path: '/', httpOnly: true, sameSite: 'Lax', secure: false }, 'over http: no __Host- prefix, not Secure; HttpOnly, SameSite=Lax, Path=/')
  t.same(cookies.filter((c) => c.name.includes('jos_tx_')).map((c) => c.name), [], 'the login transaction cookie is gone')
  t.notMatch(String(await page.evaluate('document.cookie')), /jos_/, 'scripts on the page cannot read the session')

  // Back after sign-in: the IdP's login page is gone; the IdP restarts its request, the spent
  // callback that comes of it finds the session, and the person is in the room again.
  const back = page.goBack()
  await back
  const again = await waitForRoom(page, stack.url, '/MyRoom')
  await screenshot(page, 'back-after-sign-in')
  t.ok(again.searchParams.get('jwt'), 'Back after sign-in: in the room again, with a token')
  t.equal(await page.locator('#who').innerText(), 'Signed in as Alice Example')
  t.notMatch(await page.locator('body').innerText(), /interaction failed|expired/i, 'no error page on the way')

  // The callback once more (a reload, a bookmark): single use, yet the session takes the person on.
  t.ok(callback, 'went through the callback')
  await page.goto(callback)
  const reopened = await waitForRoom(page, stack.url, '/MyRoom')
  await screenshot(page, 'callback-reopened')
  t.ok(reopened.searchParams.get('jwt'), 'a reopened callback: the room, not an error')
  t.match(logLinesWithEvent(stack.logs, 'callback_repeated'), [{ room: 'MyRoom' }], 'logged as a repeated callback')
  t.equal((await context.cookies(stack.url)).filter((c) => c.name === 'jos_session').length, 1, 'still signed in')

  await t.test('a second room in the same browser: no IdP', async (t) => {
    const page2 = await context.newPage()
    const toIdp = documentsTo(page2, stack.idp.issuer)
    const toSidecar = documentsTo(page2, stack.url)
    await page2.goto(`${stack.url}/SecondRoom`)
    await waitForRoom(page2, stack.url, '/SecondRoom')
    await screenshot(page2, 'second-room')
    t.equal(await page2.locator('#who').innerText(), 'Signed in as Alice Example')
    t.match(await shownClaims(page2), { room: 'secondroom' })
    t.ok(toSidecar.length > 0, `the documents are being watched (${toSidecar.join(', ')})`)
    t.same(toIdp, [], 'never saw the IdP')
  })

  await t.test('logout from another site: our confirmation, which warns the IdP may ask again', async (t) => {
    const response = await openFromAnotherSite(page, `${stack.url}/jitsi/logout`, stack.idp.issuer)
    t.equal(await response.request().headerValue('sec-fetch-site'), 'cross-site', 'the browser says cross-site')
    const confirm = await readSidecarPage(page, response, 'logout-confirm')
    checkSidecarPage(t, confirm, { status: 200, heading: 'Sign out?' })
    t.match(confirm.text, /Sign out of the video conference service on this browser\? Your identity provider may ask you to confirm once more\./)
    t.notMatch(confirm.headers['content-security-policy'], /form-action/, 'the form may go on to the IdP and wherever it sends the browser')
    t.equal(await page.locator('main form button').innerText(), 'Sign out')
    t.equal((await context.cookies(stack.url)).filter((c) => c.name === 'jos_session').length, 1, 'a link from elsewhere signs nobody out')
  })

  await t.test('logout from the room: one question (the IdP\'s), our signed-out page, Sign in again to the room', async (t) => {
    await page.goto(`${stack.url}/MyRoom`)
    await waitForRoom(page, stack.url, '/MyRoom')
    await page.locator('#signout').click()
    // No confirmation of ours: the link is on our own site. oidc-provider's end-session page asks.
    await page.waitForURL((u) => u.origin === stack.idp.issuer)
    await page.locator('button[name="logout"]').waitFor()
    await screenshot(page, 'logout-idp')
    t.match(await page.locator('body').innerText(), /sign-out/i, 'the IdP asks to sign out')
    const [signedOut] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(`${stack.url}/jitsi/signed-out?`)), page.locator('button[name="logout"]').click()])
    const out = await readSidecarPage(page, signedOut, 'signed-out')
    checkSidecarPage(t, out, { status: 200, heading: 'Signed out' })
    t.match(out.text, /You have been signed out/)
    t.same((await context.cookies(stack.url)).filter((c) => c.name.includes('jos_')).map((c) => c.name), [], 'no session cookie left')
    const again = page.locator('main a.button')
    t.equal(await again.innerText(), 'Sign in again')
    t.equal(await again.getAttribute('href'), `${stack.url}/MyRoom`, 'to the room signed in for')
    // Signed out at the IdP too: Sign in again asks for the password, then the room.
    await again.click()
    await page.waitForURL((u) => u.origin === stack.idp.issuer && u.pathname.startsWith('/interaction/'))
    t.equal(await page.locator('h1').innerText(), 'Demo identity provider', 'the IdP asks again')
    await signInAtIdp(page, stack.idp.issuer, 'alice')
    await waitForRoom(page, stack.url, '/MyRoom')
  })
})

t.test('a restarted sign-in that lost its transaction again (cookies blocked): the page, Try again to the room', async (t) => {
  // Playwright cannot drop cookies inside a redirect chain, so the second loss is made directly: the
  // callback of a sign-in the sidecar restarted (its state sealed with the stack's cookie key), in a
  // browser without the transaction cookie. test/integration/login.test.ts drives the whole chain.
  const context = await newContext(t)
  const page = await context.newPage()
  const state = await sealReturn(new CookieCodec([COOKIE_SECRET], false), { room: 'CookieRoom' }, true)
  const response = await page.goto(`${stack.url}/jitsi/callback?code=spent&state=${state}&iss=${encodeURIComponent(stack.idp.issuer)}`)
  const shown = await readSidecarPage(page, response!, 'sign-in-no-cookies')
  checkSidecarPage(t, shown, { status: 400, heading: 'Sign-in expired', logged: { code: 'LOGIN_STATE_INVALID', event: 'request_failed' } })
  t.match(shown.text, /allow cookies for this site/, 'the page names what to do')
  t.equal(await page.locator('main a.button').innerText(), 'Try again')
  t.equal(await page.locator('main a.button').getAttribute('href'), `${stack.url}/CookieRoom`, 'Try again returns to the room')
  await page.locator('main a.button').click()
  await page.waitForURL((u) => u.origin === stack.idp.issuer)
  t.pass('Try again starts the sign-in for that room')
})

t.test('two tabs signing in at the same time both land in their rooms', async (t) => {
  const context = await newContext(t)
  const [one, two] = await Promise.all([context.newPage(), context.newPage()])
  await Promise.all([one.goto(`${stack.url}/TabOne`), two.goto(`${stack.url}/TabTwo`)])
  // Both at the IdP before either signs in: two login transactions side by side.
  await Promise.all([one.locator('#login').waitFor(), two.locator('#login').waitFor()])
  t.equal((await context.cookies(stack.url)).filter((c) => c.name.startsWith('jos_tx_')).length, 2, 'one transaction cookie per tab')
  await Promise.all([signInAtIdp(one, stack.idp.issuer, 'carol'), signInAtIdp(two, stack.idp.issuer, 'carol')])
  await Promise.all([waitForRoom(one, stack.url, '/TabOne'), waitForRoom(two, stack.url, '/TabTwo')])
  await screenshot(one, 'two-tabs-one')
  await screenshot(two, 'two-tabs-two')
  for (const [page, room] of [[one, 'tabone'], [two, 'tabtwo']] as const) {
    t.equal(await page.locator('#who').innerText(), 'Signed in as Carol Example', `${room}: the name`)
    t.match(await shownClaims(page), { room, context: { user: { name: 'Carol Example' } } }, `${room}: the token is for this room`)
  }
  t.same((await context.cookies(stack.url)).filter((c) => c.name.startsWith('jos_tx_')).map((c) => c.name), [], 'both transactions used up')
})

t.test('a denied account sees the 403 page', async (t) => {
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${stack.url}/MyRoom`)
  const callback = page.waitForResponse((r) => r.url().startsWith(`${stack.url}/jitsi/callback?`))
  await signInAtIdp(page, stack.idp.issuer, 'bob')
  const shown = await readSidecarPage(page, await callback, 'denied')
  checkSidecarPage(t, shown, { status: 403, heading: 'Access denied', logged: { event: 'login_denied', user: 'bob', ruleResult: false } })
  t.match(shown.text, /your account is not allowed to use this video conference service/)
  t.match(shown.text, /ask your administrator for access/, 'the next step')
  t.match(shown.text, /Signed in as Bob Example \(bob@example\.org\)\./, 'the page says which account is signed in')
  t.same((await context.cookies(stack.url)).filter((c) => c.name.includes('jos_')).map((c) => c.name), [], 'no session')
  // Retrying would sign bob in again: the one button signs in with another account, back to the same room.
  const another = page.locator('main a.button')
  t.equal(await another.count(), 1)
  t.equal(await another.textContent(), 'Sign in with another account')
  t.equal(await another.getAttribute('href'), `${stack.url}/jitsi/login?room=MyRoom&prompt=login`)
  await another.click()
  await signInAtIdp(page, stack.idp.issuer, 'alice')
  const room = await waitForRoom(page, stack.url, '/MyRoom')
  t.ok(room.searchParams.get('jwt'), 'alice is in the room bob could not enter')
})

t.test('German browser: the 403 page in German', async (t) => {
  const context = await newContext(t, { locale: 'de-DE' })
  const page = await context.newPage()
  await page.goto(`${stack.url}/MeinRaum`)
  const callback = page.waitForResponse((r) => r.url().startsWith(`${stack.url}/jitsi/callback?`))
  await signInAtIdp(page, stack.idp.issuer, 'bob')
  const response = await callback
  t.equal(await response.request().headerValue('accept-language'), 'de-DE', 'the browser asked for German')
  const shown = await readSidecarPage(page, response, 'denied-de')
  checkSidecarPage(t, shown, { status: 403, heading: 'Zugriff verweigert', lang: 'de', logged: { event: 'login_denied', user: 'bob' } })
  t.match(shown.text, /Sie sind angemeldet, aber Ihr Konto darf diesen Videokonferenzdienst nicht nutzen/)
  t.notMatch(shown.text, /Access denied|Request id|signed in/, 'nothing left in English')
  t.match(shown.text, /Angemeldet als Bob Example \(bob@example\.org\)\./)
})

t.test('French browser: the 403 page in French', async (t) => {
  const context = await newContext(t, { locale: 'fr-FR' })
  const page = await context.newPage()
  await page.goto(`${stack.url}/Salle`)
  const callback = page.waitForResponse((r) => r.url().startsWith(`${stack.url}/jitsi/callback?`))
  await signInAtIdp(page, stack.idp.issuer, 'bob')
  const shown = await readSidecarPage(page, await callback, 'denied-fr')
  checkSidecarPage(t, shown, { status: 403, heading: TEXTS.fr.pages.ACCESS_DENIED.title, lang: 'fr', logged: { event: 'login_denied', user: 'bob' } })
  t.match(shown.text, TEXTS.fr.signedInAs.replace('{account}', 'Bob Example (bob@example.org)'))
  t.notMatch(shown.text, /Access denied|Request id|Signed in as/, 'nothing left in English')
})

t.test("Jitsi's TOKEN_AUTH_URL: /jitsi/login?room=", async (t) => {
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${stack.url}/jitsi/login?room=Room`)
  await signInAtIdp(page, stack.idp.issuer, 'carol')
  await waitForRoom(page, stack.url, '/Room')
  await screenshot(page, 'token-auth-url')
  t.equal(await page.locator('#who').innerText(), 'Signed in as Carol Example')
  t.match(await shownClaims(page), { room: 'room', context: { user: { name: 'Carol Example', affiliation: 'member' } } }, 'carol is no moderator')

  // A login link without a usable room: the bad-request page, no way on that would not help.
  const response = await page.goto(`${stack.url}/jitsi/login?room=a%2Fb`)
  const shown = await readSidecarPage(page, response!, 'bad-request')
  checkSidecarPage(t, shown, { status: 400, heading: 'Bad request', logged: { event: 'request_failed', code: 'BAD_REQUEST' } })
  t.match(shown.text, /This address is not a valid meeting link/)
  t.equal(await page.locator('main a.button').count(), 0, 'no retry link')
})

t.test('a Unicode room name', async (t) => {
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${stack.url}/Café-Über Raum`)
  await signInAtIdp(page, stack.idp.issuer, 'alice')
  const segment = 'Caf%C3%A9-%C3%9Cber%20Raum'
  const landed = await waitForRoom(page, stack.url, `/${segment}`)
  await screenshot(page, 'unicode-room')
  t.equal(landed.pathname, `/${segment}`, 'back at exactly the address asked for')
  t.equal(await page.locator('h1').innerText(), 'Jitsi stand-in: room “Café-Über Raum”')
  t.equal(await page.locator('#who').innerText(), 'Signed in as Alice Example')
  const claims = await shownClaims(page)
  t.equal(claims.room, roomClaim(segment), 'the room claim is what Jitsi computes from the URL')
  t.equal(claims.room, 'caf%c3%a9-%c3%bcber%20raum')
})

t.test('upstream down shows the 502 page', async (t) => {
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${stack.url}/UpRoom`)
  await signInAtIdp(page, stack.idp.issuer, 'carol')
  await waitForRoom(page, stack.url, '/UpRoom')
  await stack.jitsi.close()
  const response = await page.goto(`${stack.url}/UpRoom`)
  const shown = await readSidecarPage(page, response!, 'upstream-down')
  checkSidecarPage(t, shown, { status: 502, heading: 'The meeting service is unavailable', logged: { event: 'request_failed', code: 'UPSTREAM_UNAVAILABLE' } })
  t.match(shown.text, /not answering right now. Please try again in a moment/)
  t.equal(await page.locator('main a.button').innerText(), 'Try again')
  t.equal(await page.locator('main a.button').getAttribute('href'), `${stack.url}/UpRoom`, 'retry: the room, without the token')
})

t.test('IdP down shows the 503 page', async (t) => {
  const down = await startE2eStack({ idpDown: true })
  t.teardown(() => down.close())
  const context = await newContext(t)
  const page = await context.newPage()
  const response = await page.goto(`${down.url}/MyRoom`)
  const shown = await readSidecarPage(page, response!, 'idp-down')
  checkSidecarPage(t, shown, { status: 503, heading: 'Sign-in is unavailable', logged: { event: 'request_failed', code: 'IDP_UNAVAILABLE' } }, down)
  t.match(shown.text, /The identity provider cannot be reached right now/)
  t.equal(await page.locator('main a.button').getAttribute('href'), `${down.url}/MyRoom`, 'retry: the room')
})

t.test("logout through a federated chain: the IdP's end-session endpoint redirects on to another origin", async (t) => {
  // As with Keycloak brokering to another IdP: the end_session_endpoint the sidecar discovers is a hop
  // (its own origin) that sends the browser on, here to the real IdP's end-session page.
  let realEndSession = ''
  const hop = await listenServer()
  hop.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(302, { location: `${realEndSession}${(req.url ?? '').slice((req.url ?? '').indexOf('?'))}` }).end()
  })
  t.teardown(() => closeServer(hop.server))
  const hopUrl = `http://127.0.0.1:${hop.port}`
  const fed = await startE2eStack({
    beforeStart: (idp) => rewriteIdpAnswers(idp, '/.well-known/openid-configuration', (body) => {
      realEndSession = String(body.end_session_endpoint)
      body.end_session_endpoint = `${hopUrl}/logout`
    }),
  })
  t.teardown(() => fed.close())
  const context = await newContext(t)
  const page = await context.newPage()
  await page.goto(`${fed.url}/FedRoom`)
  await signInAtIdp(page, fed.idp.issuer, 'carol')
  await waitForRoom(page, fed.url, '/FedRoom')
  const hops = documentsTo(page, hopUrl)
  // Through our confirmation (a link from another site), whose form's answer leaves the site.
  await openFromAnotherSite(page, `${fed.url}/jitsi/logout`, fed.idp.issuer)
  await page.locator('main form button').click()
  await page.waitForURL((u) => u.origin === fed.idp.issuer)
  await page.locator('button[name="logout"]').waitFor()
  await screenshot(page, 'logout-federated-idp')
  t.same(hops, ['/logout'], 'through the hop')
  await page.locator('button[name="logout"]').click()
  await page.waitForURL((u) => u.href.startsWith(`${fed.url}/jitsi/signed-out?`))
  t.equal(await page.locator('h1').innerText(), 'Signed out', 'back on our signed-out page at the end of the chain')
  t.same((await context.cookies(fed.url)).filter((c) => c.name.includes('jos_')).map((c) => c.name), [], 'no session cookie left')
})
