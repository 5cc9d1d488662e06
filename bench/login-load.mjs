/**
 * Complete sign-ins for the benchmark, as a browser makes them: room page →
 * IdP authorization → its login form → POST → back to the sidecar's callback
 * → the room with ?jwt=. One cookie jar per simulated person; no automatic
 * redirects, so every hop is a real request.
 */
import { request } from 'undici'

class Jar {
  /** host → name → value (browsers ignore the port for cookies) */
  #jar = new Map()
  header(url) {
    const m = this.#jar.get(new URL(url).hostname)
    return m && m.size > 0 ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : undefined
  }
  take(url, setCookie) {
    const host = new URL(url).hostname
    const m = this.#jar.get(host) ?? new Map()
    this.#jar.set(host, m)
    for (const sc of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const pair = sc.split(';')[0]
      const eq = pair.indexOf('=')
      if (/;\s*max-age=0/i.test(sc) || eq === pair.length - 1) m.delete(pair.slice(0, eq))
      else m.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
  }
}

async function fetchWith(jar, url, init = {}) {
  const headers = { accept: 'text/html', 'sec-fetch-mode': 'navigate', ...init.headers }
  const cookie = jar.header(url)
  if (cookie) headers.cookie = cookie
  const res = await request(url, { method: init.method ?? 'GET', headers, body: init.body ?? null })
  const body = await res.body.text()
  jar.take(url, res.headers['set-cookie'])
  const loc = res.headers.location
  return { status: res.statusCode, body, location: loc === undefined ? undefined : new URL(loc, url).href }
}

/** One complete sign-in from `roomUrl`; resolves to the room URL with the token, or throws. */
export async function signIn(roomUrl, login, password = login) {
  const jar = new Jar()
  let url = roomUrl
  let r = await fetchWith(jar, url)
  for (let hops = 0; r.location && hops < 6; hops++) r = await fetchWith(jar, (url = r.location))
  const action = /action="([^"]+)"/.exec(r.body)?.[1]
  if (!action) throw new Error(`no login form (${r.status})`)
  r = await fetchWith(jar, (url = new URL(action.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))), url).href), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login, password }).toString(),
  })
  for (let hops = 0; r.location && !r.location.includes('jwt='); hops++) {
    if (hops > 8) throw new Error('too many redirects')
    r = await fetchWith(jar, (url = r.location))
  }
  if (!r.location) throw new Error(`sign-in ended with ${r.status}`)
  return r.location
}
