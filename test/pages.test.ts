import t from 'tap'
import { ERRORS, type ErrorCode } from '../src/errors.js'
import { PAGE_HEADERS, escapeHtml, pageStatus, renderPage } from '../src/pages.js'

t.test('every page renders with a title, the site, the request id and no external resources', async (t) => {
  for (const code of [...(Object.keys(ERRORS) as ErrorCode[]), 'SIGNED_OUT' as const]) {
    const html = renderPage(code, { site: 'meet.example.com', requestId: 'rid-1', nextUrl: 'https://meet.example.com/Room?a=1&b=2' })
    t.match(html, /<html lang="en">/, code)
    t.match(html, /<title>[^<]+ · meet\.example\.com<\/title>/, code)
    t.match(html, /rid-1/, code)
    t.notMatch(html, /(src|href)="(?!https:\/\/meet\.example\.com)/, `${code}: only same-origin links`)
    t.equal(pageStatus(code), code === 'SIGNED_OUT' ? 200 : ERRORS[code].status)
  }
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/R' }), /href="https:\/\/s\/R">Try again/)
  t.notMatch(renderPage('ACCESS_DENIED', { site: 's', nextUrl: 'https://s/R' }), /Try again/, 'denied: retrying does not help')
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/?a=1&b="x"' }), /a=1&#38;b=&#34;x&#34;/)
  t.equal(escapeHtml(`<script>'&"`), '&#60;script&#62;&#39;&#38;&#34;')
  t.match(PAGE_HEADERS['content-security-policy'], /default-src 'none'/)
})
