/**
 * The pages people see when something stops them: one small self-contained
 * template (no external resources, strict CSP), plain words, the next step,
 * and a request id to quote to an operator. Never any secret or stack trace.
 */
import { ERRORS, type ErrorCode } from './errors.js'

/** Pages that are not errors: they answer 200. */
export type InfoPage = 'SIGNED_OUT' | 'LOGOUT_CONFIRM' | 'OPEN_APP'
export type PageName = ErrorCode | InfoPage

const INFO_PAGES: ReadonlySet<string> = new Set<InfoPage>(['SIGNED_OUT', 'LOGOUT_CONFIRM', 'OPEN_APP'])

interface PageText {
  readonly title: string
  readonly body: string
}

const TEXT: Readonly<Record<PageName, PageText>> = {
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
}

/** Label of the page's next-step button. */
const NEXT_LABEL: Partial<Record<PageName, string>> = {
  SIGNED_OUT: 'Sign in again',
  LOGOUT_CONFIRM: 'Sign out',
  OPEN_APP: 'Open the Jitsi Meet app',
}

/** Sent with every page: nothing external may load, nothing may frame it. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
})

export interface PageOptions {
  /** Site name shown in the header (PUBLIC_URL's host). */
  readonly site: string
  readonly requestId?: string
  /** Same-origin URL for "Try again" / "Continue"; only ever built from PUBLIC_URL (or the desktop app's own scheme). */
  readonly nextUrl?: string
  /** Makes the next step a POST form to nextUrl with these hidden fields. */
  readonly postFields?: Readonly<Record<string, string>>
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function pageStatus(name: PageName): number {
  return INFO_PAGES.has(name) ? 200 : ERRORS[name as ErrorCode].status
}

export function renderPage(name: PageName, opts: PageOptions): string {
  const text = TEXT[name]
  const retry = INFO_PAGES.has(name) || ERRORS[name as ErrorCode].retry
  const label = escapeHtml(NEXT_LABEL[name] ?? 'Try again')
  let next = ''
  if (opts.nextUrl && retry) {
    next = opts.postFields
      ? `<form method="post" action="${escapeHtml(opts.nextUrl)}">${Object.entries(opts.postFields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}<button class="button" type="submit">${label}</button></form>`
      : `<p><a class="button" href="${escapeHtml(opts.nextUrl)}">${label}</a></p>`
  }
  const id = opts.requestId ? `<p class="id">Request id: <code>${escapeHtml(opts.requestId)}</code></p>` : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(text.title)} · ${escapeHtml(opts.site)}</title>
<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2430}
main{max-width:34rem;margin:12vh auto 0;padding:2rem 1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
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
