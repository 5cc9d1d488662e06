/**
 * The pages people see when something stops them: one small self-contained
 * template (no external resources, strict CSP), plain words, the next step,
 * and a request id to quote to an operator. Never any secret or stack trace.
 * Written in English and German, picked from the request's Accept-Language.
 */
import { ERRORS, type ErrorCode } from '../outcomes.js'

/** Pages that are not errors: they answer 200. */
export type InfoPage = 'SIGNED_OUT' | 'LOGOUT_CONFIRM' | 'OPEN_APP'
export type PageName = ErrorCode | InfoPage

const INFO_PAGES: ReadonlySet<string> = new Set<InfoPage>(['SIGNED_OUT', 'LOGOUT_CONFIRM', 'OPEN_APP'])

interface PageText {
  readonly title: string
  readonly body: string
}

/** Languages the pages are written in; the first is the default. */
export const LANGUAGES = ['en', 'de'] as const
export type Language = (typeof LANGUAGES)[number]
export const DEFAULT_LANGUAGE: Language = 'en'

/** Everything a page shows in one language. */
export interface PageTexts {
  readonly pages: Readonly<Record<PageName, PageText>>
  /** Label of the page's next-step button, where it is not the default. */
  readonly next: Readonly<Partial<Record<PageName, string>>>
  /** The default next-step label. */
  readonly tryAgain: string
  /** Label in front of the request id. */
  readonly requestId: string
}

const EN: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Access denied',
      body: 'You are signed in, but your account is not allowed to use this video conference service. If you think this is wrong, ask your administrator for access.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Sign-in expired',
      body: 'This sign-in link has expired, was already used, or was opened in a different browser. Please start again.',
    },
    LOGIN_FAILED: {
      title: 'Sign-in failed',
      body: 'We could not complete your sign-in. Please try again.',
    },
    IDP_REFUSED: {
      title: 'Sign-in cancelled',
      body: 'The sign-in was cancelled or refused at your identity provider.',
    },
    IDP_UNAVAILABLE: {
      title: 'Sign-in is unavailable',
      body: 'The identity provider cannot be reached right now. Please try again in a moment.',
    },
    IDP_TIMEOUT: {
      title: 'Sign-in is taking too long',
      body: 'The identity provider did not answer in time. Please try again in a moment.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'The meeting service is unavailable',
      body: 'The video conference service is not answering right now. Please try again in a moment.',
    },
    LOGOUT_REFUSED: {
      title: 'Sign-out refused',
      body: 'This sign-out request did not come from this site, so it was ignored. Use the sign-out button on this site instead.',
    },
    BAD_REQUEST: {
      title: 'Bad request',
      body: 'This address is not a valid meeting link.',
    },
    URL_TOO_LONG: {
      title: 'Link too long',
      body: 'This meeting link is too long to sign in with. Please use a shorter link.',
    },
    NOT_FOUND: {
      title: 'Not found',
      body: 'There is nothing at this address.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Not allowed',
      body: 'This address does not accept that kind of request.',
    },
    INTERNAL: {
      title: 'Something went wrong',
      body: 'An unexpected error occurred. Please try again; if it keeps happening, tell your administrator.',
    },
    SIGNED_OUT: {
      title: 'Signed out',
      body: 'You have been signed out of the video conference service.',
    },
    LOGOUT_CONFIRM: {
      title: 'Sign out?',
      body: 'Sign out of the video conference service on this browser?',
    },
    OPEN_APP: {
      title: 'Continue in the Jitsi Meet app',
      body: 'You are signed in. Open the meeting in the Jitsi Meet desktop app to continue.',
    },
  },
  next: {
    SIGNED_OUT: 'Sign in again',
    LOGOUT_CONFIRM: 'Sign out',
    OPEN_APP: 'Open the Jitsi Meet app',
  },
  tryAgain: 'Try again',
  requestId: 'Request id',
}

const DE: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Zugriff verweigert',
      body: 'Sie sind angemeldet, aber Ihr Konto darf diesen Videokonferenzdienst nicht nutzen. Wenn Sie das für einen Fehler halten, bitten Sie Ihren IT-Support um Zugang.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Anmeldung abgelaufen',
      body: 'Dieser Anmeldelink ist abgelaufen, wurde schon benutzt oder in einem anderen Browser geöffnet. Bitte beginnen Sie von vorn.',
    },
    LOGIN_FAILED: {
      title: 'Anmeldung fehlgeschlagen',
      body: 'Ihre Anmeldung konnte nicht abgeschlossen werden. Bitte versuchen Sie es noch einmal.',
    },
    IDP_REFUSED: {
      title: 'Anmeldung abgebrochen',
      body: 'Die Anmeldung wurde bei Ihrem Identitätsanbieter abgebrochen oder abgelehnt.',
    },
    IDP_UNAVAILABLE: {
      title: 'Anmeldung nicht möglich',
      body: 'Der Identitätsanbieter ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.',
    },
    IDP_TIMEOUT: {
      title: 'Die Anmeldung dauert zu lange',
      body: 'Der Identitätsanbieter hat nicht rechtzeitig geantwortet. Bitte versuchen Sie es gleich noch einmal.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'Der Konferenzdienst ist nicht erreichbar',
      body: 'Der Videokonferenzdienst antwortet gerade nicht. Bitte versuchen Sie es gleich noch einmal.',
    },
    LOGOUT_REFUSED: {
      title: 'Abmeldung abgelehnt',
      body: 'Diese Abmeldeanfrage kam nicht von dieser Website und wurde deshalb ignoriert. Melden Sie sich bitte über die Abmelde-Schaltfläche dieser Website ab.',
    },
    BAD_REQUEST: {
      title: 'Ungültige Anfrage',
      body: 'Diese Adresse ist kein gültiger Link zu einer Besprechung.',
    },
    URL_TOO_LONG: {
      title: 'Link zu lang',
      body: 'Dieser Besprechungslink ist zu lang für die Anmeldung. Bitte verwenden Sie einen kürzeren Link.',
    },
    NOT_FOUND: {
      title: 'Nicht gefunden',
      body: 'Unter dieser Adresse wurde nichts gefunden.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Nicht erlaubt',
      body: 'Diese Art von Anfrage ist unter dieser Adresse nicht erlaubt.',
    },
    INTERNAL: {
      title: 'Etwas ist schiefgegangen',
      body: 'Ein unerwarteter Fehler ist aufgetreten. Bitte versuchen Sie es noch einmal; wenn er wieder auftritt, wenden Sie sich an Ihren IT-Support.',
    },
    SIGNED_OUT: {
      title: 'Abgemeldet',
      body: 'Sie wurden vom Videokonferenzdienst abgemeldet.',
    },
    LOGOUT_CONFIRM: {
      title: 'Abmelden?',
      body: 'Möchten Sie sich in diesem Browser vom Videokonferenzdienst abmelden?',
    },
    OPEN_APP: {
      title: 'Weiter in der Jitsi-Meet-App',
      body: 'Sie sind angemeldet. Öffnen Sie die Besprechung in der Jitsi-Meet-Desktop-App, um fortzufahren.',
    },
  },
  next: {
    SIGNED_OUT: 'Erneut anmelden',
    LOGOUT_CONFIRM: 'Jetzt abmelden',
    OPEN_APP: 'Jitsi-Meet-App öffnen',
  },
  tryAgain: 'Erneut versuchen',
  requestId: 'Anfrage-ID',
}

/** The page texts per language. */
export const TEXTS: Readonly<Record<Language, PageTexts>> = Object.freeze({ en: EN, de: DE })

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
export function contentSecurityPolicy(formLeavesSite = false): string {
  return `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; ${formLeavesSite ? '' : "form-action 'self'; "}frame-ancestors 'none'`
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
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function pageStatus(name: PageName): number {
  return INFO_PAGES.has(name) ? 200 : ERRORS[name as ErrorCode].status
}

export function renderPage(name: PageName, opts: PageOptions): string {
  const lang = opts.lang ?? DEFAULT_LANGUAGE
  const texts = TEXTS[lang]
  const text = texts.pages[name]
  const retry = INFO_PAGES.has(name) || ERRORS[name as ErrorCode].retry
  const label = escapeHtml(texts.next[name] ?? texts.tryAgain)
  let next = ''
  if (opts.nextUrl && retry) {
    next = opts.postFields
      ? `<form method="post" action="${escapeHtml(opts.nextUrl)}">${Object.entries(opts.postFields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}<button class="button" type="submit">${label}</button></form>`
      : `<p><a class="button" href="${escapeHtml(opts.nextUrl)}">${label}</a></p>`
  }
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
${next}${id}
</main>
</body>
</html>
`
}
