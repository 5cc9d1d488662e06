/**
 * Revocations reach every replica: LOGOUT_PEERS names a DNS name that
 * resolves to every replica's admin address (a headless Service), and each
 * revocation one replica learns (from the IdP) is posted to all of them at
 * `/revocations` on their admin port. Messages carry an HMAC with a key
 * derived from COOKIE_SECRET, which replicas share anyway; any secret of the
 * list verifies, so rotation works as it does for cookies. Best effort, with
 * one retry: a replica that was down or starts later does not learn earlier
 * revocations (see docs/identity-providers.md, "Logout at the IdP").
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { request } from 'undici'
import type { Logger } from '../ops/log.js'
import type { Revocation } from './revocations.js'

const TIMEOUT_MS = 2000
/** A message older than this is refused (a replay would only revoke again, but stale news is no news). */
const MAX_AGE_S = 600

export interface RelayPeers {
  readonly host: string
  readonly port: number
}

function relayKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'jitsi-oidc-sidecar', 'revocation-relay-v1', 32))
}

function sign(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url')
}

export class RevocationRelay {
  readonly #keys: readonly Buffer[]
  readonly #peers: RelayPeers | undefined
  readonly #log: Logger

  constructor(secrets: readonly string[], peers: RelayPeers | undefined, log: Logger) {
    this.#keys = secrets.map(relayKey)
    this.#peers = peers
    this.#log = log
  }

  /** Posts a revocation to every peer; never throws. */
  async send(r: Revocation): Promise<void> {
    const peers = this.#peers
    if (!peers) return
    const body = JSON.stringify({ sid: r.sid, sub: r.sub, at: r.at, sent: Math.floor(Date.now() / 1000) })
    const signature = sign(this.#keys[0] as Buffer, body)
    let addresses: { address: string; family: number }[]
    try {
      addresses = await lookup(peers.host, { all: true })
    } catch (err) {
      this.#log.warn({ event: 'relay_failed', peers: peers.host, error: (err as NodeJS.ErrnoException).code ?? 'error' }, 'LOGOUT_PEERS does not resolve: other replicas do not learn of this logout')
      return
    }
    await Promise.all(addresses.map(async ({ address, family }) => {
      const url = `http://${family === 6 ? `[${address}]` : address}:${peers.port}/revocations`
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-jos-signature': signature }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS })
          await res.body.dump()
          if (res.statusCode === 204) return
          throw new Error(`HTTP ${res.statusCode}`)
        } catch (err) {
          if (attempt === 2) this.#log.warn({ event: 'relay_failed', peer: address, error: (err as Error).message }, 'a replica did not take a logout')
        }
      }
    }))
  }

  /** A relayed message, if its signature holds and it is recent; undefined otherwise. */
  accept(body: string, signature: string | undefined, now = Date.now()): Revocation | undefined {
    if (signature === undefined || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return undefined
    const given = Buffer.from(signature)
    if (!this.#keys.some((k) => timingSafeEqual(Buffer.from(sign(k, body)), given))) return undefined
    let m: { sid?: unknown; sub?: unknown; at?: unknown; sent?: unknown }
    try {
      m = JSON.parse(body) as typeof m
    } catch {
      return undefined
    }
    if (typeof m.at !== 'number' || typeof m.sent !== 'number' || Math.abs(now / 1000 - m.sent) > MAX_AGE_S) return undefined
    const sid = typeof m.sid === 'string' ? m.sid : undefined
    const sub = typeof m.sub === 'string' ? m.sub : undefined
    return sid === undefined && sub === undefined ? undefined : { sid, sub, at: m.at }
  }
}
