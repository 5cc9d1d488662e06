/**
 * The IdP's key set (its jwks_uri), for the signatures of ID tokens, timed by
 * the OIDC client's clock. jose fetches and parses the set and picks the key
 * for a token; when to fetch is decided here: when there are no keys, when
 * they are older than OIDC_JWKS_REFRESH_SECONDS, or when a token names a kid
 * they lack (an IdP key rotation).
 *
 * Once the keys are older than the refresh time, a token whose kid they know
 * is verified with them at once while the set is fetched again in the
 * background: so a jwks_uri that fails or hangs while the rest of the IdP
 * works neither stops logins nor makes each wait out the timeout (as go-oidc
 * in oauth2-proxy keeps its keys), for up to a day after the last good fetch.
 * A kid those keys lack still waits for the IdP, and fails with it.
 */
import type { CryptoKey, FetchImplementation, FlattenedJWSInput, JWSHeaderParameters } from 'jose'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SidecarError } from '../outcomes.js'
import { keySetError } from './errors.js'
import type { IdpModules } from './modules.js'

/** The least time between two fetches for kids the keys lack: after a rotation the first token with the new kid refetches within a second. */
export const JWKS_COOLDOWN_MS = 1000
/** While the jwks_uri fails, keys older than the refresh time are fetched again in the background at most this often (or once per refresh time, if shorter). */
export const JWKS_REFRESH_RETRY_MS = 30_000
/** Keys fetched longer ago than this are not used while the jwks_uri fails: a withdrawn key must stop working some time. */
export const JWKS_STALE_MAX_MS = 24 * 3600_000

export interface KeySetOptions {
  readonly url: URL
  /** OIDC_JWKS_REFRESH_SECONDS, in ms: keys this old are fetched again. */
  readonly refreshMs: number
  /** How long one fetch may take (OIDC_TIMEOUT_SECONDS, in ms). */
  readonly timeoutMs: number
  readonly fetch: FetchImplementation
  /** The clock for every age and pause here, in ms since the epoch. */
  readonly now: () => number
  /** A background refetch failed; logins go on with the keys fetched before. */
  readonly onStale?: (reason: string) => void
  /** A fetch succeeded, with this many keys. */
  readonly onFetched?: (keys: number) => void
}

type LocalKeys = ReturnType<IdpModules['createLocalJWKSet']>

interface Keys {
  /** When the answer came (the clock of the options). */
  readonly at: number
  readonly set: LocalKeys
}

export class KeySet {
  readonly #idp: IdpModules
  readonly #opts: KeySetOptions
  /** jose's remote key set, used only to fetch (its own clock and caching are not asked). */
  readonly #remote: ReturnType<IdpModules['createRemoteJWKSet']>
  /** The keys of the last good fetch. */
  #keys: Keys | undefined
  /** The last fetch started, and when: the cooldown for unknown kids counts from it. */
  #last: { readonly at: number; readonly done: Promise<Keys> } | undefined
  #pending: Promise<Keys> | undefined
  /** No background refetch before this time. */
  #nextBackground = -Infinity

  constructor(idp: IdpModules, opts: KeySetOptions) {
    this.#idp = idp
    this.#opts = opts
    this.#remote = idp.createRemoteJWKSet(opts.url, { timeoutDuration: opts.timeoutMs, [idp.customFetch]: opts.fetch })
  }

  /** The key for a token's protected header (jose's key-resolver signature). Throws SidecarError when the IdP must be asked and fails. */
  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const now = this.#opts.now()
    const keys = this.#keys
    if (!keys || now - keys.at >= JWKS_STALE_MAX_MS) return (await this.#fetch()).set(header, token)
    if (now - keys.at >= this.#opts.refreshMs) this.#refetchInBackground(now)
    try {
      return await keys.set(header, token)
    } catch (err) {
      if (!(err instanceof this.#idp.errors.JWKSNoMatchingKey)) throw err
    }
    return (await this.#fetchForNewKid()).set(header, token)
  }

  /**
   * A kid the keys lack: the IdP may have rotated its keys since they were
   * fetched. A fetch that started less than the cooldown ago is waited out
   * first (the rotation may have come just after it); a fetch under way is joined.
   */
  async #fetchForNewKid(): Promise<Keys> {
    const last = this.#last
    const wait = last === undefined ? 0 : last.at + JWKS_COOLDOWN_MS - this.#opts.now()
    if (last !== undefined && wait > 0) {
      await sleep(wait)
      // Another login asked while this one waited: that answer is as new as this one's would be.
      if (this.#last !== last) return this.#last!.done
    }
    return this.#fetch()
  }

  #refetchInBackground(now: number): void {
    if (now < this.#nextBackground) return
    this.#nextBackground = now + Math.min(JWKS_REFRESH_RETRY_MS, this.#opts.refreshMs)
    this.#fetch().catch((err: SidecarError) => this.#opts.onStale?.(err.message))
  }

  /** Fetches the set, or joins the fetch under way. Throws SidecarError. */
  #fetch(): Promise<Keys> {
    if (this.#pending) return this.#pending
    const done = this.#load()
    this.#pending = done
    this.#last = { at: this.#opts.now(), done }
    return done
  }

  async #load(): Promise<Keys> {
    try {
      await this.#remote.reload()
    } catch (err) {
      throw keySetError(err)
    } finally {
      this.#pending = undefined
    }
    const jwks = this.#remote.jwks()!
    const keys = { at: this.#opts.now(), set: this.#idp.createLocalJWKSet(jwks) }
    this.#keys = keys
    this.#opts.onFetched?.(jwks.keys.length)
    return keys
  }
}
