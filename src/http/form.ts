/** Reading the small urlencoded forms our pages post (logout, the demo IdP's sign-in). */
import type { IncomingMessage } from 'node:http'

/** Reads a small urlencoded form body; undefined when it is too big or not a form. */
export async function readForm(req: IncomingMessage, limit = 4096): Promise<URLSearchParams | undefined> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  // Decoded once: a character split across chunks stays whole.
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
