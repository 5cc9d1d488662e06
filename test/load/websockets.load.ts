/** 1,000 WebSockets held through the built sidecar with echo traffic: none dropped; memory reported. */
import t from 'tap'
import WebSocket from 'ws'
import { startBuilt } from '../fixtures/built.js'
import { startUpstream } from '../fixtures/upstream.js'

const SOCKETS = 1000
const HOLD_SECONDS = Number(process.env.WS_HOLD_SECONDS ?? 60)

t.test(`${SOCKETS} WebSockets for ${HOLD_SECONDS} s`, async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const sidecar = await startBuilt({ PUBLIC_URL: 'https://meet.example.com', UPSTREAM_URL: upstream.url, ENABLE_AUTH: '0' })
  t.teardown(() => sidecar.stop())
  const rssIdle = sidecar.rssMb()
  const sockets: WebSocket[] = []
  let dropped = 0
  let echoes = 0
  let mismatches = 0
  for (let i = 0; i < SOCKETS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, SOCKETS - i) }, () => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${sidecar.url.replace('http', 'ws')}/xmpp-websocket`)
      ws.once('open', () => {
        sockets.push(ws)
        ws.on('close', () => dropped++)
        resolve()
      })
      ws.once('error', reject)
    })))
  }
  t.equal(sockets.length, SOCKETS, 'all open')
  const rssOpen = sidecar.rssMb()
  const end = Date.now() + HOLD_SECONDS * 1000
  let round = 0
  while (Date.now() < end) {
    round++
    await Promise.all(sockets.map((ws, i) => new Promise<void>((resolve) => {
      const msg = `ping ${i} ${round}`
      // An echo not back within 5 s counts as lost: the limit is the check, not an ordering.
      const timer = setTimeout(() => { mismatches++; resolve() }, 5000)
      ws.once('message', (d) => {
        clearTimeout(timer)
        if (d.toString() === msg) echoes++
        else mismatches++
        resolve()
      })
      ws.send(msg)
    })))
    // Traffic every 2 s while the sockets are held: the pace of the load, not an ordering.
    await new Promise((r) => setTimeout(r, 2000))
  }
  t.ok(round > 0, `${round} rounds of echoes`)
  t.equal(dropped, 0, 'none dropped')
  t.equal(mismatches, 0, 'every echo came back intact')
  t.equal(echoes, round * SOCKETS, 'one echo per socket and round')
  const perSocketKb = ((rssOpen - rssIdle) * 1024) / SOCKETS
  const line = `LOAD websockets=${SOCKETS} hold_s=${HOLD_SECONDS} echoes=${echoes} rss_idle_mb=${rssIdle.toFixed(0)} rss_open_mb=${rssOpen.toFixed(0)} rss_end_mb=${sidecar.rssMb().toFixed(0)} kb_per_socket=${perSocketKb.toFixed(1)}`
  t.comment(line)
  console.log(line)
  for (const ws of sockets) ws.terminate()
})
