/**
 * How the sidecar answers when it answers itself: `respond` turns an outcome
 * into its log line, its metric and its page (in the request's language,
 * with the request id the log line holds), all read from the outcome table.
 * Redirects, which may carry a token, are here too.
 */
import { randomUUID } from 'node:crypto'
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Config } from '../config/load.js'
import { OUTCOMES, asSidecarError, type OutcomeCode } from '../outcomes.js'
import { redactUrl, type Logger } from '../ops/log.js'
import type { Metrics } from '../ops/metrics.js'
import { PAGE_HEADERS, contentSecurityPolicy, negotiateLanguage, renderPage } from '../pages/render.js'

export interface Outcome {
  readonly code: OutcomeCode
  /** Operator detail for the log line; never shown. */
  readonly detail?: string | undefined
  /** A fact for the person to pass on to an operator, shown on the page (see SidecarError.note). */
  readonly note?: string | undefined
  /** The signed-in account the page is about (Access denied): its name or email. */
  readonly account?: string | undefined
  /** Link (or form action) for the page's next step; built from PUBLIC_URL only. */
  readonly nextUrl?: string | undefined
  /** Makes the next step a POST form with these hidden fields. */
  readonly postFields?: Readonly<Record<string, string>> | undefined
  /** The form's POST is answered by redirects off this site (no CSP form-action: see contentSecurityPolicy). */
  readonly formLeavesSite?: boolean | undefined
  /** An origin that may show the page in a frame (the IdP, for front-channel logout); by default none may. */
  readonly frameAncestor?: string | undefined
  readonly setCookies?: readonly string[] | undefined
  /** The Allow header of a 405. */
  readonly allow?: string | undefined
  /** The caller logged the outcome already, under this id. */
  readonly requestId?: string | undefined
  /** The outcome ends a sign-in: counted in jos_logins_total as the table says. */
  readonly signIn?: boolean | undefined
}

/** An outcome for anything thrown (see asSidecarError), with the rest of `extra`. */
export function failure(err: unknown, extra: Omit<Outcome, 'code' | 'detail'> = {}): Outcome {
  const e = asSidecarError(err)
  return { ...extra, code: e.code, detail: e.detail, note: e.note }
}

export class Responder {
  readonly #config: Config
  readonly #log: Logger
  readonly #metrics: Metrics | undefined

  constructor(config: Config, log: Logger, metrics?: Metrics) {
    this.#config = config
    this.#log = log
    this.#metrics = metrics
  }

  respond(req: IncomingMessage, res: ServerResponse, outcome: Outcome): void {
    const requestId = this.#record(req, outcome)
    if (res.headersSent) {
      res.destroy()
      return
    }
    const { code } = outcome
    const lang = negotiateLanguage(req.headers['accept-language'])
    const html = renderPage(code, {
      site: this.#config.publicHost,
      lang,
      requestId,
      nextUrl: outcome.nextUrl ?? `${this.#config.publicOrigin}/`,
      ...(outcome.postFields ? { postFields: outcome.postFields } : {}),
      ...(outcome.note ? { note: outcome.note } : {}),
      ...(outcome.account ? { account: outcome.account } : {}),
    })
    const headers: Record<string, string | string[]> = { ...PAGE_HEADERS, 'content-language': lang, 'content-length': String(Buffer.byteLength(html)) }
    if (outcome.formLeavesSite || outcome.frameAncestor !== undefined) headers['content-security-policy'] = contentSecurityPolicy(outcome.formLeavesSite, outcome.frameAncestor)
    // X-Frame-Options knows no single allowed origin: CSP frame-ancestors says it for browsers that matter.
    if (outcome.frameAncestor !== undefined) delete headers['x-frame-options']
    if (outcome.setCookies && outcome.setCookies.length > 0) headers['set-cookie'] = [...outcome.setCookies]
    if (outcome.allow !== undefined) headers.allow = outcome.allow
    res.writeHead(OUTCOMES[code].status, headers)
    res.end(req.method === 'HEAD' ? undefined : html)
  }

  /** The answer to a WebSocket upgrade we refuse: a bare status line, as nothing else can be read there. */
  respondSocket(req: IncomingMessage, socket: Duplex, outcome: Outcome): void {
    this.#record(req, outcome)
    const status = OUTCOMES[outcome.code].status
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    else socket.destroy()
  }

  /** Logs and counts an outcome; returns the request id a page shows. */
  #record(req: IncomingMessage, outcome: Outcome): string {
    const { code } = outcome
    const spec = OUTCOMES[code]
    if (outcome.signIn) this.#metrics?.logins.inc({ outcome: spec.signIn, reason: spec.signIn === 'failed' ? code : '' })
    if (outcome.requestId !== undefined) return outcome.requestId
    const requestId = randomUUID()
    if (spec.level !== undefined) {
      this.#log[spec.level]({ event: 'request_failed', code, requestId, method: req.method, url: redactUrl(req.url ?? ''), detail: outcome.detail }, outcome.detail ?? code)
    }
    return requestId
  }
}

export function redirect(res: ServerResponse, location: string, setCookies: readonly string[] = []): void {
  const headers: Record<string, string | string[]> = {
    location,
    'cache-control': 'no-store',
    // The location may carry a token: keep it out of Referer headers.
    'referrer-policy': 'no-referrer',
    'content-length': '0',
  }
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies]
  res.writeHead(302, headers)
  res.end()
}
