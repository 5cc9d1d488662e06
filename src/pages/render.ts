/**
 * The pages people see when something stops them: one small self-contained
 * template (no external resources, strict CSP), plain words, the next step,
 * and a request id to quote to an operator. Never any secret or stack trace.
 * In the languages of texts.ts, picked from the request's Accept-Language.
 */
import { OUTCOMES, type OutcomeCode } from '../outcomes.js'
import { DEFAULT_LANGUAGE, LANGUAGES, TEXTS, type Language } from './texts.js'

/** A language range of Accept-Language (RFC 4647): `*`, or a tag of alphanumeric subtags. */
const LANGUAGE_RANGE = /^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/
/** RFC 9110's qvalue: 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/
/** Ranges looked at, so a huge header costs no more than a normal one. */
const MAX_RANGES = 32

/**
 * The page language for an Accept-Language header (RFC 9110 § 12.5.4). For
 * each language we have, the most specific range that matches it gives its
 * weight (`de`, then `de-CH` and the like, then `*`); the heaviest language
 * wins, ties go to the one the header names first, then to our order.
 * `q=0` excludes. Malformed entries are ignored; nothing acceptable is English.
 */
export function negotiateLanguage(header: string | undefined, available: readonly Language[] = LANGUAGES): Language {
  const fallback = available[0] ?? DEFAULT_LANGUAGE
  if (!header) return fallback
  const ranges: { range: string; q: number; index: number }[] = []
  for (const part of header.split(',').slice(0, MAX_RANGES)) {
    const [rawRange = '', ...params] = part.split(';')
    const range = rawRange.trim().toLowerCase()
    if (!LANGUAGE_RANGE.test(range)) continue
    let q = 1
    let valid = true
    for (const param of params) {
      const m = /^\s*q\s*=\s*(\S*)\s*$/i.exec(param)
      if (!m || !QVALUE.test(m[1] ?? '')) valid = false
      else q = Number(m[1])
    }
    if (valid) ranges.push({ range, q, index: ranges.length })
  }
  let best: { lang: Language; q: number; index: number } | undefined
  for (const lang of available) {
    let match: { specificity: number; q: number; index: number } | undefined
    for (const { range, q, index } of ranges) {
      const specificity = range === lang ? 3 : range.startsWith(`${lang}-`) ? 2 : range === '*' ? 1 : 0
      if (specificity === 0) continue
      if (!match || specificity > match.specificity || (specificity === match.specificity && q > match.q)) match = { specificity, q, index }
    }
    if (!match || match.q <= 0) continue
    if (!best || match.q > best.q || (match.q === best.q && match.index < best.index)) best = { lang, q: match.q, index: match.index }
  }
  return best?.lang ?? fallback
}

/**
 * The pages' Content-Security-Policy: nothing external loads, nothing frames
 * them, forms post only to this site. Browsers apply form-action to every
 * redirect after a form's submission too, so a form whose answer is a
 * redirect chain we do not control (the logout's, through the IdP and any IdP
 * it federates with) gets none: `formLeavesSite`. Such a page holds only a
 * fixed form of ours, and a list of origins could never name the whole chain.
 */
export function contentSecurityPolicy(formLeavesSite = false, frameAncestor?: string): string {
  return `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; ${formLeavesSite ? '' : "form-action 'self'; "}frame-ancestors ${frameAncestor ?? "'none'"}`
}

/** Sent with every page: nothing external may load, nothing may frame it. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': contentSecurityPolicy(),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // The language follows Accept-Language (Content-Language is set per page).
  vary: 'Accept-Language',
})

export interface PageOptions {
  /** Site name shown in the header (PUBLIC_URL's host). */
  readonly site: string
  readonly requestId?: string
  /** Same-origin URL for "Try again" / "Continue"; only ever built from PUBLIC_URL (or the desktop app's own scheme). */
  readonly nextUrl?: string
  /** Makes the next step a POST form to nextUrl with these hidden fields. */
  readonly postFields?: Readonly<Record<string, string>>
  /** The page's language (see negotiateLanguage); English by default. */
  readonly lang?: Language
  /** A fact for the person to pass on (SidecarError.note), shown as it is. */
  readonly note?: string
  /** The signed-in account the page is about (its name or email), shown escaped. */
  readonly account?: string
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function renderPage(name: OutcomeCode, opts: PageOptions): string {
  const lang = opts.lang ?? DEFAULT_LANGUAGE
  const texts = TEXTS[lang]
  const text = texts.pages[name]
  const label = escapeHtml(texts.next[name] ?? texts.tryAgain)
  let next = ''
  if (opts.nextUrl && OUTCOMES[name].next) {
    next = opts.postFields
      ? `<form method="post" action="${escapeHtml(opts.nextUrl)}">${Object.entries(opts.postFields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}<button class="button" type="submit">${label}</button></form>`
      : `<p><a class="button" href="${escapeHtml(opts.nextUrl)}">${label}</a></p>`
  }
  // The template is ours; the account is escaped and put in with a function, so no `$&` in it is read as a pattern.
  const account = opts.account ? `<p>${escapeHtml(texts.signedInAs).replace('{account}', () => `<strong>${escapeHtml(opts.account as string)}</strong>`)}</p>\n` : ''
  const note = opts.note ? `<p class="id"><code>${escapeHtml(opts.note)}</code></p>` : ''
  const id = opts.requestId ? `<p class="id">${escapeHtml(texts.requestId)}: <code>${escapeHtml(opts.requestId)}</code></p>` : ''
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(text.title)} · ${escapeHtml(opts.site)}</title>
<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2430}
main{max-width:34rem;margin:12vh auto 0;padding:2rem 1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);overflow-wrap:break-word;hyphens:auto}
header{font-size:.9rem;color:#5b6472;margin-bottom:1rem}
h1{font-size:1.5rem;margin:0 0 .75rem}
.button{display:inline-block;padding:.6rem 1.2rem;background:#1f6feb;color:#fff;border:0;border-radius:6px;text-decoration:none;font:inherit;cursor:pointer}
.id{font-size:.8rem;color:#5b6472;margin-top:2rem}
@media (max-width:36rem){main{margin:0;border-radius:0;min-height:100vh;box-sizing:border-box}}
</style>
</head>
<body>
<main>
<header>${escapeHtml(opts.site)}</header>
<h1>${escapeHtml(text.title)}</h1>
<p>${escapeHtml(text.body)}</p>
${account}${note}${next}${id}
</main>
</body>
</html>
`
}
