/** 200 complete sign-ins at once against a real oidc-provider: all succeed, every token valid. */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Browser } from '../fixtures/client.js'
import { signIn, verify } from '../fixtures/signin.js'
import { startStack } from '../fixtures/stack.js'

const LOGINS = 200

/** IdP, sidecar and clients share this process: some 1,200 sockets at the peak. */
function openFilesLimit(): string {
  return /Max open files\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown'
}

const titleOf = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? html.slice(0, 100)

t.test(`${LOGINS} concurrent logins`, async (t) => {
  // The default IdP timeout (10 s), not the fixture's 2 s for fault tests: IdP, sidecar and 200
  // clients share one event loop here, and at 2 s some code exchanges timed out (504) on a busy machine.
  const stack = await startStack({ env: { LOG_LEVEL: 'warn', OIDC_TIMEOUT_SECONDS: '10' } })
  t.teardown(() => stack.close())
  // What the IdP itself refused, for the failure message (the sidecar logs only the OAuth error code).
  const idpErrors: string[] = []
  stack.idp.provider.on('grant.error', (_ctx, err: Error & { error_detail?: string }) => idpErrors.push(`${err.message}: ${err.error_detail ?? ''}`))
  const started = Date.now()
  const results = await Promise.allSettled(
    Array.from({ length: LOGINS }, async (_, i) => {
      const { done, jwt } = await signIn(stack, new Browser(), `/Room${i}`)
      if (jwt === undefined) throw new Error(`callback gave ${done.status} ${titleOf(done.body)}`)
      const payload = await verify(jwt)
      if (payload.room !== `room${i}`) throw new Error(`token for ${payload.room}, expected room${i}`)
    }),
  )
  const secs = (Date.now() - started) / 1000
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
  t.equal(failed.length, 0, failed.slice(0, 3).map((f) => String(f.reason)).join('; '))
  if (failed.length > 0) {
    t.comment(`IdP: ${[...new Set(idpErrors)].join('; ') || 'no grant errors'}; open files limit: ${openFilesLimit()}`)
    t.comment(stack.logs.filter((l) => /"level":"(warn|error)"/.test(l)).slice(0, 5).join('\n'))
  }
  t.comment(`${LOGINS} logins in ${secs.toFixed(1)} s (${(LOGINS / secs).toFixed(0)}/s, IdP, sidecar and clients in one process)`)
  console.log(`LOAD logins=${LOGINS} seconds=${secs.toFixed(1)} failed=${failed.length}`)
})
