import t from 'tap'
import { Agent, Pool } from 'undici'
import { collectDefaultMetrics } from 'prom-client'

t.test("the dependency files src imports past their index hold what the index exports (src/vendor.d.ts)", async (t) => {
  t.equal((await import('undici/lib/dispatcher/pool.js')).default, Pool)
  t.equal((await import('undici/lib/dispatcher/agent.js')).default, Agent)
  t.type((await import('undici/lib/web/fetch/index.js')).default.fetch, 'function', "fetch (the index wraps it)")
  t.equal((await import('prom-client/lib/defaultMetrics.js')).default, collectDefaultMetrics)
})
