/**
 * Logging in one place: JSON lines through pino, and the only function that
 * turns a request URL into loggable text. Token-bearing query values are
 * replaced, and pino's redaction drops cookie and authorization headers in
 * case an object carrying them is ever logged.
 */
import { pino, type Logger, type DestinationStream } from 'pino'
import pinoPretty from 'pino-pretty'

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
 * `pretty`: human-readable lines for a terminal (pino-pretty), otherwise JSON
 * lines. Standard output is written asynchronously and in batches of 4 KB or
 * every 100 ms, whichever comes first: under load the lines of many requests
 * leave in one system call instead of one each (pino flushes what is pending
 * when the process exits).
 */
export function createLogger(level: string, destination?: DestinationStream, format: 'json' | 'pretty' = 'json'): Logger {
  const out = format === 'pretty'
    ? pinoPretty({ colorize: process.stdout.isTTY === true, destination: destination ?? 1, sync: true })
    : destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 })
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
