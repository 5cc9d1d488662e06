/**
 * 10,000 clients aborting mid-download and 10,000 mid-upload through the
 * built sidecar: no connections left open on either side, and the sidecar's
 * live heap and handle count (after forced full GCs, through a test-only
 * preload) do not grow with the number of aborts.
 */
import t from 'tap'
import { request } from 'undici'
import { startBuilt } from '../fixtures/built.js'
import { eventually } from '../fixtures/eventually.js'
import { abortedRequest } from '../fixtures/raw.js'
import { startUpstream } from '../fixtures/upstream.js'

const ABORTS = 10_000
const BATCH = 50

t.test(`${ABORTS} aborted downloads and ${ABORTS} aborted uploads`, async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const sidecar = await startBuilt({ PUBLIC_URL: 'https://meet.example.com', UPSTREAM_URL: upstream.url, ENABLE_AUTH: '0', LOG_LEVEL: 'info' }, { gc: true })
  t.teardown(() => sidecar.stop())
  const port = Number(new URL(sidecar.url).port)
  const round = async (n: number) => {
    for (let i = 0; i < n; i += BATCH) {
      await Promise.all([
        ...Array.from({ length: BATCH / 2 }, () => abortedRequest(port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', 'answered')),
        ...Array.from({ length: BATCH / 2 }, () => abortedRequest(port, `POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(4000)}`, 'sent')),
      ])
    }
  }
  // Warm up, then measure after forced full GCs: the live heap and the active handles after
  // 2,000 aborts against the same after each further 6,000.
  // Each sample once the aborted requests have drained (no upstream request open, the sidecar's
  // sockets back to what it holds at rest), so only what stays behind is counted.
  const fdsBefore = sidecar.fds()
  const drained = () => upstream.open() === 0 && sidecar.fds() <= fdsBefore + 64
  const quiet = () => eventually(drained)
  await round(2000)
  t.ok(await quiet(), 'drained')
  const rssWarm = sidecar.rssMb()
  const samples = [await sidecar.afterGc()]
  for (let done = 2000; done < 2 * ABORTS; done += 6000) {
    await round(Math.min(6000, 2 * ABORTS - done))
    t.ok(await quiet(), 'drained')
    samples.push(await sidecar.afterGc())
  }
  t.ok(await quiet(), 'drained')
  t.equal(upstream.open(), 0, 'no upstream request left open')
  const fdsAfter = sidecar.fds()
  t.ok(fdsAfter <= fdsBefore + 64, `sidecar file descriptors ${fdsBefore} before, ${fdsAfter} after (pooled upstream connections may stay)`)
  const rssEnd = sidecar.rssMb()
  const ok = await request(`${sidecar.url}/config.js`)
  await ok.body.text()
  t.equal(ok.statusCode, 200, 'still serving')
  const heaps = samples.map((s) => s.heapMb.toFixed(1)).join('→')
  const handles = samples.map((s) => s.resources).join('→')
  const line = `LOAD aborts=${2 * ABORTS} fds_before=${fdsBefore} fds_after=${fdsAfter} rss_after_2000_mb=${rssWarm.toFixed(0)} rss_after_all_mb=${rssEnd.toFixed(0)} live_heap_mb=${heaps} handles=${handles}`
  t.comment(line)
  console.log(line)
  // A leak of even 100 bytes per abort would add 1.8 MB over the 18,000 measured ones.
  const first = samples[0]!
  const last = samples[samples.length - 1]!
  t.ok(last.heapMb - first.heapMb < 1.5, `live heap after forced GC: ${heaps} MB`)
  t.ok(last.resources <= first.resources + 8, `active handles: ${handles} (pooled upstream sockets may vary)`)
})
