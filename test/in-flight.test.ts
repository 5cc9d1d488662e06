import t from 'tap'
import type { ServerResponse } from 'node:http'
import { InFlight } from '../src/http/in-flight.js'

t.test('responses in flight: added, deleted in any order, iterated as a snapshot', async (t) => {
  const list = new InFlight()
  const r = Array.from({ length: 5 }, (_, i) => ({ id: i }) as unknown as ServerResponse)
  for (const x of r) list.add(x)
  const ids = () => [...list].map((x) => (x as unknown as { id: number }).id).sort()
  t.same(ids(), [0, 1, 2, 3, 4])
  list.delete(r[2]!)
  list.delete(r[4]!) // the head
  list.delete(r[0]!) // the tail
  t.same(ids(), [1, 3])
  list.delete(r[2]!) // twice: nothing happens
  list.delete({} as ServerResponse) // never added
  t.same(ids(), [1, 3])
  for (const x of list) list.delete(x) // deleting while iterating
  t.same(ids(), [])
  list.add(r[1]!)
  t.same(ids(), [1], 'added again after deletion')
})
