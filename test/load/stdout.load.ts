/**
 * The built sidecar, as the image runs it, stopping while nobody reads its
 * logs (a stalled collector: the pipe is full) or right after the reader went
 * away (the pipe is closed): it must still exit, within the second its log
 * flush is given. As in a container, standard output starts blocking
 * (startBuilt keeps tap's process hooks out, which would make it non-blocking
 * and hide the hang).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'
import { startBuilt } from '../fixtures/built.js'
import { eventually } from '../fixtures/eventually.js'
import { accepts } from '../fixtures/raw.js'
import { startUpstream } from '../fixtures/upstream.js'

const CRASH_HOOK = new URL('../fixtures/crash-hook.mjs', import.meta.url).pathname

/** Access lines of about 2.3 KB each: 400 of them are several times what a pipe holds (about 250 KB). */
const PAD = 'p'.repeat(2000)
const O_NONBLOCK = 0o4000

const CASES = [
  { name: 'a stop with a stalled standard output', output: 'stalled', crash: false },
  { name: 'a stop with a standard output closed after the signal', output: 'closed', crash: false },
  { name: 'a crash (an uncaught error) with a stalled standard output', output: 'stalled', crash: true },
] as const

for (const { name, output, crash } of CASES) {
  t.test(`${name}: the process still exits`, async (t) => {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    const sidecar = await startBuilt({ PUBLIC_URL: 'https://meet.example.com', UPSTREAM_URL: upstream.url, ENABLE_AUTH: '0' }, crash ? { preload: CRASH_HOOK } : {})
    const p = sidecar.process
    t.teardown(() => p.kill('SIGKILL'))
    const flags = Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/fdinfo/1`, 'utf8'))?.[1] ?? '0', 8)
    t.ok(flags & O_NONBLOCK, 'standard output is non-blocking (a full pipe cannot block a write the exit waits for)')
    p.stdout!.pause()
    const pool = new Pool(sidecar.url, { connections: 16 })
    t.teardown(() => pool.destroy())
    for (let sent = 0; sent < 400; sent += 50) {
      await Promise.all(Array.from({ length: 50 }, () => pool.request({ path: `/config.js?pad=${PAD}`, method: 'GET' }).then((r) => r.body.dump())))
    }
    await pool.close()
    p.kill(crash ? 'SIGUSR2' : 'SIGTERM')
    if (output === 'closed') {
      // Once the stop has begun (the listener closes at once: no shutdown delay), the collector goes
      // away with lines still waiting: every further write fails (EPIPE).
      t.ok(await eventually(async () => !(await accepts(Number(new URL(sidecar.url).port)))), 'the stop began')
      p.stdout!.destroy()
    }
    // The time limit is the feature: the process must exit within it, not hang on its output.
    const code = await Promise.race([sidecar.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 8000))])
    t.not(code, 'running', 'the process exited (the log flush gives up after a second)')
    t.equal(code, crash ? 1 : 0, crash ? 'as a crash, status 1' : 'as a stop, status 0')
  })
}
