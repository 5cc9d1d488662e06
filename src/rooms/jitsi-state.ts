/**
 * Jitsi's `{state}` in TOKEN_AUTH_URL: the room to return to, its tenant, the
 * desktop-app flag and config overrides, of which only harmless ones are kept.
 */
import { segmentOf } from './classify.js'
import type { ReturnTarget } from './target.js'

/** Override keys we carry back: `config.x` / `interfaceConfig.x.y`, identifiers only. */
const OVERRIDE_KEY = /^(?:config|interfaceConfig)(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,4}$/
/**
 * Settings that point the app at other servers or code, or touch tokens: a
 * login link could otherwise send a freshly signed-in person's token
 * elsewhere. Matched against each part of the key.
 */
const DANGEROUS_KEY_PART = /url|uri|host|bosh|websocket|domain|server|endpoint|token|jwt|proxy|analytics|callstats|script|iframe|api|__proto__|constructor|prototype/i
const MAX_OVERRIDES = 32
const MAX_OVERRIDE_VALUE = 200

/**
 * One override value as the web app reads it from the hash (JSON text), or
 * undefined when it is not a plain boolean, number or short harmless string.
 */
function overrideValue(value: unknown): string | undefined {
  let parsed: unknown = value
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value)
    } catch {
      // Jitsi puts some settings (config.subject) in the state as plain text.
      parsed = value
    }
  }
  if (typeof parsed === 'boolean' || (typeof parsed === 'number' && Number.isFinite(parsed))) return JSON.stringify(parsed)
  if (typeof parsed === 'string' && parsed.length <= MAX_OVERRIDE_VALUE && parsed.isWellFormed() && !URL_LIKE.test(asBrowserReadsIt(parsed))) return JSON.stringify(parsed)
  return undefined
}

/**
 * A value as a browser's URL parser sees it: leading control characters and
 * spaces stripped, tabs and newlines removed anywhere (`java\tscript:` is
 * `javascript:` to it).
 */
function asBrowserReadsIt(value: string): string {
  return value.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '')
}

/** Values that could point somewhere: a scheme of the web, `//`, or a leading slash or backslash. */
const URL_LIKE = /:\/\/|^\s*(?:wss?|https?|ftp|javascript|data|vbscript|file|blob|about):|^\s*[/\\]/i

/** The hash (without `#`) that restores the harmless config overrides among `entries`. */
export function overridesHash(entries: Iterable<[string, unknown]>): string {
  const parts: string[] = []
  for (const [key, value] of entries) {
    if (parts.length >= MAX_OVERRIDES) break
    if (!OVERRIDE_KEY.test(key) || key.split('.').slice(1).some((p) => DANGEROUS_KEY_PART.test(p))) continue
    const v = overrideValue(value)
    if (v !== undefined) parts.push(`${key}=${encodeURIComponent(v)}`)
  }
  return parts.join('&')
}

/** Longest `{state}` we read: Jitsi's is a few hundred bytes. */
const MAX_STATE_LENGTH = 4096

/**
 * Parses Jitsi's `{state}` (URL-decoded JSON: room, roomSafe, tenant,
 * `config.*` overrides, `electron`) into a login target; undefined when it is
 * not usable. Anything else in it (a refresh token, unknown keys) is ignored.
 */
export function parseJitsiState(text: string): ReturnTarget | undefined {
  if (text.length > MAX_STATE_LENGTH) return undefined
  let state: unknown
  try {
    state = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return undefined
  const s = state as Record<string, unknown>
  const room = segmentOf(s.room)
  const tenant = s.tenant === undefined || s.tenant === null || s.tenant === '' ? undefined : segmentOf(s.tenant)
  if (room === undefined || (tenant === undefined && s.tenant !== undefined && s.tenant !== null && s.tenant !== '')) return undefined
  return { room, tenant, query: '', hash: overridesHash(Object.entries(s)), electron: s.electron === true }
}
