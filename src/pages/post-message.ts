/**
 * The two pages that talk to Jitsi's web app by postMessage, always to
 * PUBLIC_URL's origin exactly.
 *
 * The end of an inline sign-in (Jitsi's `tokenAuthInline`): Jitsi's web app
 * opens TOKEN_AUTH_URL in a popup (appending `&nonce=`) and takes a token
 * from a message `{ type: 'oauth-success', accessToken }` posted by a page of
 * its own origin (react/features/authentication/actions.web.ts). This page
 * posts the fresh room token to its opener with PUBLIC_URL's origin as the
 * exact target, so a page of any other origin that opened the popup receives
 * nothing, and closes. Opened without a popup, it goes on to the room.
 * Nothing else is posted: Jitsi would put a refresh token into its next
 * login URL, and it never reads the ID token.
 */
import { createHash } from 'node:crypto'

/** Static, so the CSP can name it by hash; the values come from the JSON block. */
const SCRIPT = "(function(){var d=JSON.parse(document.getElementById('jos-token').textContent);" +
  "var o=window.opener;if(o&&o!==window){o.postMessage({type:'oauth-success',accessToken:d.token},d.origin);window.close();}" +
  "else{location.replace(d.room);}})();"

const SCRIPT_HASH = `'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`

export const TOKEN_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': `default-src 'none'; script-src ${SCRIPT_HASH}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
})

/**
 * The end of a silent sign-out (Jitsi's `tokenLogoutUrl`, loaded in a hidden
 * iframe of the meeting page, which waits for `{ type: 'logout-success' }`
 * from its own origin). Only our own origin may frame it.
 */
const LOGOUT_SCRIPT = "(function(){var d=JSON.parse(document.getElementById('jos-logout').textContent);" +
  "if(window.parent!==window){window.parent.postMessage({type:'logout-success'},d.origin);}})();"

export const LOGOUT_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${createHash('sha256').update(LOGOUT_SCRIPT).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`,
})

export function renderLogoutPage(origin: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body>
<script type="application/json" id="jos-logout">${scriptJson({ origin })}</script>
<script>${LOGOUT_SCRIPT}</script></body></html>
`
}

/** JSON safe inside a <script> element: no `<` (so no `</script>`), and no line separators JavaScript parsers once choked on. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

/** The page for `origin` (PUBLIC_URL's), the token, and the room URL with the token for a visit without a popup. */
export function renderTokenPage(origin: string, token: string, roomUrl: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head><body>
<script type="application/json" id="jos-token">${scriptJson({ origin, token, room: roomUrl })}</script>
<script>${SCRIPT}</script></body></html>
`
}
