/**
 * How the sidecar answers people: its HTML pages (in the language of the
 * request's Accept-Language, each logged once with the request id it shows)
 * and redirects that may carry a token.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Config } from '../config/load.js'
import { ERRORS, SidecarError, isSidecarError, type ErrorCode } from '../outcomes.js'
import { redactUrl, type Logger } from '../ops/log.js'
import { PAGE_HEADERS, contentSecurityPolicy, negotiateLanguage, pageStatus, renderPage, type PageName } from '../pages/render.js'

export interface PageReply {
  /** Link (or form action) for the page's next step; built from PUBLIC_URL only. */
  readonly nextUrl?: string | undefined
  /** Makes the next step a POST form with these hidden fields. */
  readonly postFields?: Readonly<Record<string, string>> | undefined
  /** The form's POST is answered by redirects off this site (no CSP form-action: see contentSecurityPolicy). */
  readonly formLeavesSite?: boolean | undefined
  /** Operator detail for the log line; never shown. */
  readonly detail?: string | undefined
  readonly setCookies?: string[] | undefined
  /** Set when the caller already logged the outcome with this id. */
  readonly requestId?: string | undefined
  /** The Allow header of a 405. */
  readonly allow?: string | undefined
}

export class Replies {
  readonly #config: Config
  readonly #log: Logger

  constructor(config: Config, log: Logger) {
    this.#config = config
    this.#log = log
  }

  /**
   * Sends the page `name`. Error pages log one line with the request id shown
   * on the page, unless the caller logged the outcome under `requestId`.
   */
  page(req: IncomingMessage, res: ServerResponse, name: PageName, opts: PageReply = {}): void {
    const requestId = opts.requestId ?? randomUUID()
    if (opts.requestId === undefined && name in ERRORS) {
      const level = ERRORS[name as ErrorCode].level
      this.#log[level]({ event: 'request_failed', code: name, requestId, method: req.method, url: redactUrl(req.url ?? ''), detail: opts.detail }, opts.detail ?? name)
    }
    if (res.headersSent) {
      res.destroy()
      return
    }
    const lang = negotiateLanguage(req.headers['accept-language'])
    const html = renderPage(name, {
      site: this.#config.publicHost,
      lang,
      requestId,
      nextUrl: opts.nextUrl ?? `${this.#config.publicOrigin}/`,
      ...(opts.postFields ? { postFields: opts.postFields } : {}),
    })
    const headers: Record<string, string | string[]> = { ...PAGE_HEADERS, 'content-language': lang, 'content-length': String(Buffer.byteLength(html)) }
    if (opts.formLeavesSite) headers['content-security-policy'] = contentSecurityPolicy(true)
    if (opts.setCookies && opts.setCookies.length > 0) headers['set-cookie'] = opts.setCookies
    if (opts.allow !== undefined) headers.allow = opts.allow
    res.writeHead(pageStatus(name), headers)
    res.end(req.method === 'HEAD' ? undefined : html)
  }

  /** Answers with the page for an error (any thrown value becomes INTERNAL). */
  fail(req: IncomingMessage, res: ServerResponse, err: unknown, nextUrl?: string, setCookies?: string[]): void {
    const e = isSidecarError(err) ? err : new SidecarError('INTERNAL', err instanceof Error ? err.name : 'error', { cause: err })
    this.page(req, res, e.code, { nextUrl, detail: e.detail, setCookies })
  }
}

export function redirect(res: ServerResponse, location: string, setCookies: string[] = []): void {
  const headers: Record<string, string | string[]> = {
    location,
    'cache-control': 'no-store',
    // The location may carry a token: keep it out of Referer headers.
    'referrer-policy': 'no-referrer',
    'content-length': '0',
  }
  if (setCookies.length > 0) headers['set-cookie'] = setCookies
  res.writeHead(302, headers)
  res.end()
}

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
