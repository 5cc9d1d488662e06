/**
 * Logging in one place: JSON lines through pino, and the only function that
 * turns a request URL into loggable text. Token-bearing query values are
 * replaced, and pino's redaction drops cookie and authorization headers in
 * case an object carrying them is ever logged.
 */
import { pino, type Logger, type DestinationStream } from 'pino'
import type { AccessLog } from '../config/load.js'

export type { Logger }

/** Query parameters whose values are secrets: tokens, codes, state and anything like them. */
const SECRET_PARAMS = new Set(['jwt', 'token', 'code', 'state', 'id_token', 'id_token_hint', 'access_token', 'refresh_token', 'session_state', 'client_secret'])

export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.cookie',
  '*.authorization',
  '*.jwt',
  '*.token',
  '*.secret',
]

/**
 * JSON lines to `destination`, by default standard output, written
 * asynchronously and in batches of 4 KB or every 100 ms, whichever comes
 * first: under load the lines of many requests leave in one system call
 * instead of one each (pino flushes what is pending when the process exits).
 * For LOG_FORMAT=pretty the destination is prettyStream().
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  // Makes fd 1 non-blocking, as Node does for a pipe once process.stdout exists: on a blocking fd a
  // write to a full pipe (a stalled log reader) blocks a libuv thread, and process.exit waits for it
  // for ever. Non-blocking, sonic-boom gets EAGAIN and retries later, and the exit can happen.
  if (destination === undefined) void process.stdout.fd
  const out = destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100, maxLength: MAX_PENDING_LOG_BYTES })
  return pino(
    {
      level,
      base: undefined,
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    out,
  )
}

/**
 * Log output waiting for a slow or stuck standard output is bounded: beyond
 * 16 MB further lines are dropped rather than the process growing without
 * limit (a synchronous logger would stall every request instead).
 */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024

/**
 * Writes out what the logger holds, then exits, within `waitMs` whatever
 * standard output does. pino's exit hook would then flush synchronously, and
 * sonic-boom's synchronous flush retries a failing write for ever: a full pipe
 * (a stalled log reader) or a closed one held the process, deaf to signals.
 * So the exit disarms it; what the asynchronous flush could not write by
 * then is given up.
 */
export function flushAndExit(log: Logger, code: number, waitMs = 1000): void {
  const exit = () => {
    const out = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym]
    if (typeof out?.flushSync === 'function') out.flushSync = () => {}
    process.exit(code)
  }
  setTimeout(exit, waitMs).unref()
  // Twice: a flush asked for while a write is in flight is answered at that write's 'drain', and
  // sonic-boom keeps what came after it (less than minLength) unwritten; the second writes it.
  log.flush(() => log.flush(exit))
}

/**
 * Human-readable lines for a terminal (LOG_FORMAT=pretty), written to
 * `destination` (by default standard output) by pino-pretty, which is loaded
 * only here: it and its dependencies cost start-up time and memory that JSON
 * logging never uses.
 */
export async function prettyStream(destination?: DestinationStream, opts: { readonly brief?: boolean } = {}): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty')
  // brief (the demo): one line per event, without the start-up configuration dump.
  const brief = opts.brief ? { singleLine: true, ignore: 'pid,hostname,config,event' } : {}
  return pretty({ colorize: process.stdout.isTTY === true, destination: destination ?? 1, sync: true, ...brief })
}

/**
 * The lowest status that gets an access line under ACCESS_LOG (Infinity: none),
 * decided once at start-up. `errors` keeps the answers worth a look (4xx, 5xx,
 * and 499 for a client that left): on a busy pod the lines of assets and BOSH
 * polls cost about a tenth of the proxy's CPU.
 */
export function accessLogFloor(mode: AccessLog): number {
  return mode === 'all' ? 0 : mode === 'errors' ? 400 : Infinity
}

/**
 * A logger for lines whose every field the caller builds from safe values
 * (the access line): it skips pino's redaction pass, which costs more than
 * the rest of such a line's serialisation.
 */
export function unredacted(log: Logger): Logger {
  return log.child({}, { redact: [] })
}

let lastMs = 0
let lastTime = ''
/** pino's ISO timestamp, formatted once per millisecond instead of once per line. */
function isoTime(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastTime = `,"time":"${new Date(now).toISOString()}"`
  }
  return lastTime
}

/**
 * A request target with the values of secret query parameters replaced by
 * `[redacted]`. Parameter names are compared case-insensitively; an
 * unparsable query is dropped whole rather than risk logging a secret.
 */
export function redactUrl(target: string): string {
  const q = target.indexOf('?')
  if (q === -1) return target
  const path = target.slice(0, q)
  const parts = target.slice(q + 1).split('&')
  const out: string[] = []
  for (const part of parts) {
    const eq = part.indexOf('=')
    const rawName = eq === -1 ? part : part.slice(0, eq)
    let name: string
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase()
    } catch {
      return `${path}?[redacted]`
    }
    out.push(eq !== -1 && SECRET_PARAMS.has(name) ? `${rawName}=[redacted]` : part)
  }
  return `${path}?${out.join('&')}`
}
