/** Reading small request bodies: the forms our pages post (logout, the demo IdP's sign-in), relayed logouts. */
import type { IncomingMessage } from 'node:http'

/** Reads a small urlencoded form body; undefined when it is too big or not a form. */
export async function readForm(req: IncomingMessage, limit = 4096): Promise<URLSearchParams | undefined> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined
  const body = await readText(req, limit)
  return body === undefined ? undefined : new URLSearchParams(body)
}

/** A small body as UTF-8 text (decoded once: a character split across chunks stays whole); undefined when larger than `limit`. */
export async function readText(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
