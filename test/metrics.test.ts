import t from 'tap'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { Metrics } from '../src/ops/metrics.js'

t.test("the classes metrics.ts takes from prom-client's own files are the ones its index exports", async (t) => {
  const m = new Metrics()
  t.ok(m.registry instanceof Registry)
  t.ok(m.requests instanceof Counter)
  t.ok(m.idpLatency instanceof Histogram)
  t.ok(m.websockets instanceof Gauge)
  m.countRequest('proxy', 200)
  m.countRequest('proxy', 200)
  const text = await m.text()
  t.match(text, /jos_http_requests_total\{route="proxy",status="200"\} 2/)
  t.match(text, /process_cpu_user_seconds_total/, 'default metrics')
  t.match(text, /nodejs_eventloop_lag_seconds/)
  const later = new Metrics(false)
  t.notMatch(await later.registry.metrics(), /process_cpu_user_seconds_total/, 'without defaults')
  void later.collectDefaults()
  t.match(await later.text(), /process_cpu_user_seconds_total/, 'defaults registered later, as start does once listening; a scrape waits for them')
})
