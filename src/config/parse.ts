/** Parsers for the values that have a syntax of their own. */
import { isIP } from 'node:net'
import type { Cidr, JwtConfig, ListenAddress } from './types.js'

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  const address = slash === -1 ? text : text.slice(0, slash)
  const v = isIP(address)
  if (v === 0) return undefined
  const max = v === 4 ? 32 : 128
  const prefix = slash === -1 ? max : Number(text.slice(slash + 1))
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash !== -1 && !/^\d{1,3}$/.test(text.slice(slash + 1)))) return undefined
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' }
}

export function isCidr(text: string): boolean {
  return parseCidr(text) !== undefined
}

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListenAddress(value: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim())
  if (!m) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

/** JWT_GROUP: `claim:NAME` reads a claim, anything else is a constant. */
export function parseGroup(value: string | undefined): JwtConfig['group'] {
  if (value === undefined) return undefined
  return value.startsWith('claim:') ? { claim: value.slice(6).trim() } : { value }
}

/**
 * Splits `a=rule,b=rule` on the commas that separate entries, not those
 * inside parentheses, brackets or quotes of a CEL expression.
 */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
    } else if (c === '"' || c === "'") quote = c
    else if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts.filter((p) => p.trim() !== '')
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

/** The `-----BEGIN CERTIFICATE-----` blocks of a PEM text. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
}
