import t from 'tap'
import { Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { readForm } from '../src/http/form.js'

/** A request whose body arrives in the given chunks. */
function request(chunks: Buffer[], type = 'application/x-www-form-urlencoded'): IncomingMessage {
  return Object.assign(Readable.from(chunks), { headers: { 'content-type': type } }) as unknown as IncomingMessage
}

t.test('readForm', async (t) => {
  const body = Buffer.from('name=Jos%C3%A9&city=Z\u00fcrich', 'utf8')
  const split = body.indexOf(0xc3, body.indexOf('city')) + 1 // inside the two bytes of ü
  const form = await readForm(request([body.subarray(0, split), body.subarray(split)]))
  t.equal(form?.get('name'), 'José')
  t.equal(form?.get('city'), 'Zürich', 'a character split across chunks stays whole')
  t.equal(await readForm(request([Buffer.alloc(3000, 'a'), Buffer.alloc(2000, 'b')])), undefined, 'over the limit')
  t.equal(await readForm(request([Buffer.from('{"a":1}')], 'application/json')), undefined, 'not a form')
})
