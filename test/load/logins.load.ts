/** 200 complete sign-ins at once against a real oidc-provider: all succeed, every token valid. */
import t from 'tap'
import { jwtVerify } from 'jose'
import { Browser } from '../fixtures/client.js'
import { APP_SECRET, startStack } from '../fixtures/stack.js'

const LOGINS = 200

t.test(`${LOGINS} concurrent logins`, async (t) => {
  // The default IdP timeout (10 s), not the fixture's 2 s for fault tests: IdP, sidecar and 200
  // clients share one event loop here, and at 2 s some code exchanges timed out (504) on a busy machine.
  const stack = await startStack({ env: { LOG_LEVEL: 'warn', OIDC_TIMEOUT_SECONDS: '10' } })
  t.teardown(() => stack.close())
  const key = new TextEncoder().encode(APP_SECRET)
  const started = Date.now()
  const results = await Promise.allSettled(
    Array.from({ length: LOGINS }, async (_, i) => {
      const b = new Browser()
      const start = await b.fetch(`${stack.url}/Room${i}`)
      const done = await b.fetch(await b.signInAtIdp(start.location!, 'alice'))
      const jwt = new URL(done.location!).searchParams.get('jwt')!
      const { payload } = await jwtVerify(jwt, key, { issuer: 'test-app', audience: 'test-app' })
      if (payload.room !== `room${i}`) throw new Error(`token for ${payload.room}, expected room${i}`)
    }),
  )
  const secs = (Date.now() - started) / 1000
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
  t.equal(failed.length, 0, failed.slice(0, 3).map((f) => String(f.reason)).join('; '))
  t.comment(`${LOGINS} logins in ${secs.toFixed(1)} s (${(LOGINS / secs).toFixed(0)}/s, IdP, sidecar and clients in one process)`)
  console.log(`LOAD logins=${LOGINS} seconds=${secs.toFixed(1)} failed=${failed.length}`)
})
