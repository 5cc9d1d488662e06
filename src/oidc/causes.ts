/**
 * Reading the failures libraries wrap: undici's fetch gives TypeError('fetch
 * failed') with the socket's error as its cause (an AggregateError when
 * several addresses were tried), openid-client wraps oauth4webapi's errors.
 */

/** The first error among `err`, its causes and an AggregateError's errors that `test` accepts (bounded, safe from loops). */
export function findCause(err: unknown, test: (e: Error & { code?: unknown }) => boolean): (Error & { code?: unknown }) | undefined {
  const queue: unknown[] = [err]
  const seen = new Set<unknown>()
  for (let i = 0; i < queue.length && i < 32; i++) {
    const e = queue[i]
    if (!(e instanceof Error) || seen.has(e)) continue
    seen.add(e)
    if (test(e)) return e
    queue.push(e.cause)
    if (e instanceof AggregateError && Array.isArray(e.errors)) queue.push(...e.errors.slice(0, 8))
  }
  return undefined
}

/** Text from another party (an IdP's error_description, a certificate's names) for a log: printable ASCII, at most `max`. */
export function printable(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value !== '' ? value.replace(/[^\x20-\x7e]/g, '?').slice(0, max) : undefined
}
