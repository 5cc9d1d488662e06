/**
 * Sessions ended at the identity provider (front- and back-channel logout):
 * the IdP's session ids (`sid`) and subjects (`sub`, every session that began
 * before the logout) that may no longer mint tokens. In memory, each entry
 * kept as long as a session could live; replicas learn of each other's
 * revocations through the relay (signin/relay.ts). Checked on every re-mint:
 * two map lookups.
 */
import { LRUCache } from 'lru-cache'
import type { Session } from './cookies.js'

/** Entries remembered at once (a few hundred bytes each); beyond it the oldest go first. */
const MAX_ENTRIES = 100_000

export interface Revocation {
  /** The IdP's session id: sessions that carry it are ended. */
  readonly sid?: string | undefined
  /** The IdP's subject: its sessions that began before `at` are ended. */
  readonly sub?: string | undefined
  /** When the logout happened, ms since the epoch. */
  readonly at: number
}

export class Revocations {
  /** sid → when it was revoked (seconds). */
  readonly #sids: LRUCache<string, number>
  readonly #subs: LRUCache<string, number>
  readonly #listeners: ((r: Revocation) => void)[] = []

  /** `ttlSeconds`: how long a session can live (SESSION_TTL_SECONDS), so how long an entry matters. */
  constructor(ttlSeconds: number, now: () => number = Date.now) {
    // ttlResolution 0: ask the clock each time (a cached reading would hide a moved test clock; the cost is one call).
    const opts = { max: MAX_ENTRIES, ttl: ttlSeconds * 1000, ttlResolution: 0, perf: { now } }
    this.#sids = new LRUCache<string, number>(opts)
    this.#subs = new LRUCache<string, number>(opts)
  }

  /** Records a revocation; `relay`: tell the listeners (the other replicas) too. Returns whether it named anything. */
  revoke(r: Revocation, relay = true): boolean {
    if (r.sid === undefined && r.sub === undefined) return false
    if (r.sid !== undefined) this.#sids.set(r.sid, Math.max(r.at, this.#sids.get(r.sid) ?? 0))
    if (r.sub !== undefined) this.#subs.set(r.sub, Math.max(r.at, this.#subs.get(r.sub) ?? 0))
    if (relay) for (const listen of this.#listeners) listen(r)
    return true
  }

  isRevoked(session: Session): boolean {
    const { idp } = session
    if (idp === undefined) return false
    if (idp.sid !== undefined && this.#sids.has(idp.sid)) return true
    // An IdP whose ID tokens carry no sid may still name one in its logouts: LemonLDAP::NG's
    // front-channel sid is the user's id (its sub). A session without a sid matches on sub then,
    // like a logout by sub: only sessions that began before it.
    const bySid = idp.sid === undefined ? this.#sids.get(idp.sub) : undefined
    if (bySid !== undefined && session.createdAt <= bySid) return true
    const since = this.#subs.get(idp.sub)
    return since !== undefined && session.createdAt <= since
  }

  onRevoke(listener: (r: Revocation) => void): void {
    this.#listeners.push(listener)
  }

  get size(): number {
    return this.#sids.size + this.#subs.size
  }
}
