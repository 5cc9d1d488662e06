import t from 'tap'
import { OUTCOMES, type OutcomeCode } from '../src/outcomes.js'
import { PAGE_HEADERS, contentSecurityPolicy, escapeHtml, negotiateLanguage, renderPage } from '../src/pages/render.js'
import { DEFAULT_LANGUAGE, LANGUAGES, TEXTS } from '../src/pages/texts.js'

const PAGES = Object.keys(OUTCOMES) as OutcomeCode[]

t.test('every page renders with a title, the site, the request id and no external resources', async (t) => {
  for (const lang of LANGUAGES) {
    for (const code of PAGES) {
      const html = renderPage(code, { site: 'meet.example.com', requestId: 'rid-1', nextUrl: 'https://meet.example.com/Room?a=1&b=2', lang })
      t.match(html, new RegExp(`<html lang="${lang}">`), code)
      t.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/, code)
      t.match(html, /<title>[^<]+ · meet\.example\.com<\/title>/, code)
      t.match(html, /rid-1/, code)
      t.notMatch(html, /(src|href)="(?!https:\/\/meet\.example\.com)/, `${code}: only same-origin links`)
    }
  }
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/R' }), /<html lang="en">/, 'English by default')
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/R' }), /href="https:\/\/s\/R">Try again/)
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/R', lang: 'de' }), /href="https:\/\/s\/R">Erneut versuchen/)
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', requestId: 'r', lang: 'de' }), /Anfrage-ID: <code>r<\/code>/)
  t.notMatch(renderPage('ACCESS_DENIED', { site: 's', nextUrl: 'https://s/R' }), /Try again/, 'denied: retrying does not help')
  t.match(renderPage('IDP_UNAVAILABLE', { site: 's', nextUrl: 'https://s/?a=1&b="x"' }), /a=1&#38;b=&#34;x&#34;/)
  t.match(renderPage('LOGOUT_CONFIRM', { site: 's', nextUrl: 'https://s/jitsi/logout', postFields: { csrf: 'a"b' }, lang: 'de' }), /<input type="hidden" name="csrf" value="a&#34;b"><button class="button" type="submit">Jetzt abmelden<\/button>/)
  t.equal(escapeHtml(`<script>'&"`), '&#60;script&#62;&#39;&#38;&#34;')
  t.match(PAGE_HEADERS['content-security-policy'], /default-src 'none'/)
  t.match(PAGE_HEADERS['content-security-policy'], /form-action 'self';/)
  t.equal(PAGE_HEADERS.vary, 'Accept-Language')
  t.notMatch(contentSecurityPolicy(true), /form-action/, 'a form whose answer leaves the site: no form-action, the redirect chain is not ours to list')
  t.match(contentSecurityPolicy(true), /default-src 'none'; .*base-uri 'none'; frame-ancestors 'none'$/, 'the rest stays strict')
})

/** Every string a language's texts hold, by a path like `pages.ACCESS_DENIED.title`. */
function strings(value: unknown, path = ''): Map<string, string> {
  const out = new Map<string, string>()
  if (typeof value === 'string') out.set(path, value)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) for (const [p, s] of strings(v, path === '' ? k : `${path}.${k}`)) out.set(p, s)
  }
  return out
}

t.test('every language has every text, none left in English, and every page renders in it', async (t) => {
  const en = strings(TEXTS.en)
  t.same([...LANGUAGES], ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl'], 'English, German and Jitsi\'s next largest user bases')
  const english = [...en.values()]
  for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
    const other = strings(TEXTS[lang])
    t.same([...other.keys()].sort(), [...en.keys()].sort(), `${lang}: the same texts as English`)
    for (const code of PAGES) t.ok(other.has(`pages.${code}.title`) && other.has(`pages.${code}.body`), `${lang}: ${code} has its text`)
    for (const [path, text] of en) {
      t.not(other.get(path), text, `${lang}: ${path} is translated`)
      t.ok((other.get(path) ?? '').trim().length > 0, `${lang}: ${path} is not empty`)
    }
    t.equal(TEXTS[lang].signedInAs.split('{account}').length, 2, `${lang}: the account line names {account} once`)
    // Nothing English leaks into the page: no English title, body or label appears in it.
    for (const code of PAGES) {
      const html = renderPage(code, { site: 'meet.example.com', requestId: 'rid-1', nextUrl: 'https://meet.example.com/Room', lang, account: 'Alice' })
      t.match(html, new RegExp(`<html lang="${lang}">[\\s\\S]*<h1>${escapeHtml(TEXTS[lang].pages[code].title).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</h1>`), `${lang}: ${code} renders its title`)
      const leaked = english.filter((s) => html.includes(escapeHtml(s)))
      t.same(leaked, [], `${lang}: ${code} has no English text`)
    }
  }
})

t.test('the account line: escaped, and never read as a replacement pattern', async (t) => {
  const html = renderPage('ACCESS_DENIED', { site: 's', nextUrl: 'https://s/R', account: `Bob <b>"x"</b> $& $' (bob@example.com)` })
  t.match(html, /<p>Signed in as <strong>Bob &#60;b&#62;&#34;x&#34;&#60;\/b&#62; \$&#38; \$&#39; \(bob@example\.com\)<\/strong>\.<\/p>/)
  t.match(renderPage('ACCESS_DENIED', { site: 's', account: 'Anna', lang: 'de' }), /<p>Angemeldet als <strong>Anna<\/strong>\.<\/p>/)
  t.notMatch(renderPage('ACCESS_DENIED', { site: 's' }), /Signed in as/, 'no line without an account')
})

t.test('the language comes from Accept-Language', async (t) => {
  const cases: [string | undefined, string][] = [
    [undefined, 'en'],
    ['', 'en'],
    ['de', 'de'],
    ['DE', 'de'],
    ['de-DE', 'de'],
    ['de-CH;q=0.9, en;q=0.8', 'de'],
    ['en-US,en;q=0.9,de;q=0.8', 'en'],
    ['fr-FR, fr;q=0.9, de;q=0.7, en;q=0.5', 'fr'],
    ['ja-JP, de;q=0.7, en;q=0.5', 'de'],
    ['fr', 'fr'],
    ['pt-BR,pt;q=0.9', 'pt'],
    ['nl-BE', 'nl'],
    ['es-419', 'es'],
    ['it-CH, pl;q=0.9', 'it'],
    ['pl', 'pl'],
    ['ja', 'en'],
    ['*', 'en'],
    ['de;q=0.5, *;q=0.1', 'de'],
    ['fr, *;q=0.5', 'fr'],
    ['ja, *;q=0.5', 'en'],
    ['en;q=0, *', 'de'],
    ['en;q=0, de;q=0', 'en'],
    ['de;q=0, *', 'en'],
    ['de-AT, de;q=0', 'en'],
    ['en;q=0.8, de;q=0.8', 'en'],
    ['de;q=0.8, en;q=0.8', 'de'],
    ['de ; q=0.7 , en;q=0.6', 'de'],
    ['de;q=1.0, en', 'de'],
    ['en;q=0.001, de;q=0.000', 'en'],
    ['de;q=2, en;q=0.5', 'en'],
    ['de;q=abc, en;q=0.5', 'en'],
    ['de;q=0.5000, en;q=0.4', 'en'],
    ['de;level=1', 'en'],
    ['deutsch-x, de_DE, d€', 'en'],
    ['germany, de-1996;q=0.3', 'de'],
    [',,, ;q=1, de', 'de'],
    [`${'x, '.repeat(40)}de`, 'en'],
  ]
  for (const [header, want] of cases) t.equal(negotiateLanguage(header), want, JSON.stringify(header))
  t.equal(negotiateLanguage('de', ['en']), 'en', 'only what is available')
  t.equal(negotiateLanguage('fr', []), DEFAULT_LANGUAGE, 'nothing available: the default')
})
