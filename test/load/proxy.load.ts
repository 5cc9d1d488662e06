/** 50,000 proxied requests at full speed through the built sidecar: zero errors. */
import t from 'tap'
import { Pool } from 'undici'
import { startBuilt } from '../fixtures/built.js'
import { startUpstream } from '../fixtures/upstream.js'

const REQUESTS = 50_000
const CONCURRENCY = 64

t.test(`${REQUESTS} proxied requests`, async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const sidecar = await startBuilt({ PUBLIC_URL: 'https://meet.example.com', UPSTREAM_URL: upstream.url, ENABLE_AUTH: '1', OIDC_ISSUER: 'http://127.0.0.1:9', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', JWT_APP_ID: 'a', JWT_APP_SECRET: 'secret-of-32-bytes-0123456789abcd', COOKIE_SECRET: 'x'.repeat(32) })
  t.teardown(() => sidecar.stop())
  const pool = new Pool(sidecar.url, { connections: CONCURRENCY, pipelining: 1 })
  t.teardown(() => pool.close())
  const rssIdle = sidecar.rssMb()
  let sent = 0
  let errors = 0
  let bad = 0
  const started = Date.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < REQUESTS) {
        const i = sent++
        try {
          const r = await pool.request({ method: i % 10 === 0 ? 'POST' : 'GET', path: i % 10 === 0 ? '/http-bind' : '/config.js', body: i % 10 === 0 ? '<body/>' : null })
          await r.body.dump()
          if (r.statusCode !== 200) bad++
        } catch {
          errors++
        }
      }
    }),
  )
  const secs = (Date.now() - started) / 1000
  t.equal(errors, 0, 'no transport errors')
  t.equal(bad, 0, 'every response 200')
  const line = `LOAD proxied=${REQUESTS} seconds=${secs.toFixed(1)} rps=${(REQUESTS / secs).toFixed(0)} rss_idle_mb=${rssIdle.toFixed(0)} rss_after_mb=${sidecar.rssMb().toFixed(0)}`
  t.comment(line)
  console.log(line)
  t.equal(upstream.open(), 0)
})
