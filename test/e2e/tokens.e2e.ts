/**
 * JWT_DELIVERY=fragment in Chromium through the sidecar in front of the stand-in jitsi-web: the
 * person ends in the room with the token only after `#`, the page loads once on the pass cookie,
 * a reload comes back with a fresh token, and no log line ever holds a token.
 */
import t from 'tap'
import type { Browser } from 'playwright-core'
import { jwtVerify } from 'jose'
import { APP_SECRET, launchChromium, screenshot, signInAtIdp, startE2eStack } from './harness.js'

let browser: Browser
t.before(async () => {
  browser = await launchChromium()
})
t.teardown(() => browser?.close())

t.test('fragment delivery: the token after #, never in a request', async (t) => {
  const stack = await startE2eStack({ env: { JWT_DELIVERY: 'fragment', ACCESS_LOG: 'all' } })
  t.teardown(() => stack.close())
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  const requested: string[] = []
  page.on('request', (r) => requested.push(r.url()))
  await page.goto(`${stack.url}/MyRoom?lang=de`)
  await signInAtIdp(page, stack.idp.issuer, 'alice')
  await page.waitForURL((u) => u.origin === stack.url && u.pathname === '/MyRoom' && u.hash.startsWith('#jwt='))
  await page.locator('h1').waitFor()
  const url = new URL(page.url())
  t.equal(url.search, '?lang=de', 'no token in the query')
  const token = JSON.parse(decodeURIComponent(url.hash.slice('#jwt='.length))) as string
  const { payload } = await jwtVerify(token, new TextEncoder().encode(APP_SECRET), { issuer: 'demo-app', audience: 'demo-app', algorithms: ['HS256'], typ: 'JWT' })
  t.equal(payload.room, 'myroom', 'our token, for the room')
  t.match(await page.locator('h1').innerText(), /MyRoom/, 'the room page loaded')
  await screenshot(page, 'fragment-room')

  await page.reload()
  await page.waitForURL((u) => u.pathname === '/MyRoom' && u.hash.startsWith('#jwt='))
  await page.locator('h1').waitFor()
  t.pass('a reload comes back into the room with a token from the session')
  t.notOk(requested.some((r) => r.includes(token) && !r.includes('#')), 'the browser never sent the token')
  t.notOk(stack.logs.some((l) => l.includes(token)), 'no log line holds it, access lines included')
  t.ok(stack.logs.some((l) => l.includes('"event":"access"') && l.includes('/MyRoom')), 'the access lines are there')
})
