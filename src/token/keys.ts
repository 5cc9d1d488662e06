/**
 * The keys tokens are signed and checked with, and the public keys served to
 * Prosody.
 *
 * HS*: the shared secret (JWT_APP_SECRET), nothing is ever published.
 * RS*: the private key in JWT_PRIVATE_KEY_FILE signs; its public half, the
 * public keys in JWT_PUBLIC_KEYS_DIR (`<kid>.pem`) and any key that signed
 * since start-up are published by kid. Prosody caches a key per kid for the
 * life of its process, so a kid must never change its key: a file that tries
 * is refused and the keys in service stay as they are. Key files are polled,
 * so a rotated Kubernetes Secret takes effect without a restart; a file that
 * does not parse (half-written, wrong type) keeps the old key in service.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import type { JwtAlgorithm, JwtConfig } from '../config/types.js'
import { contentHash, nodeFiles, readPemFolder, type KeyFiles } from './key-files.js'
import { KID_RULE, isRsa, kidFileName, kidOfFileName, parsePrivateKey, parsePublicKey, publish, thumbprintKid, type PublishedKey } from './rsa-keys.js'

export type { KeyFiles } from './key-files.js'
export { KID_PATTERN, KID_RULE, MIN_RSA_BITS, kidFileName, kidOfFileName, isRsa, kidHash, parsePrivateKey, parsePublicKey, thumbprintKid, type PublishedKey } from './rsa-keys.js'

export interface SigningKey {
  readonly alg: JwtAlgorithm
  /** The private key (RS*) or the shared secret (HS*). */
  readonly key: KeyObject
  /** RS* only. */
  readonly kid?: string
}

export interface KeyEvent {
  readonly level: 'info' | 'error'
  readonly event: 'key_loaded' | 'key_rotated' | 'key_reload_failed' | 'public_keys_loaded'
  readonly message: string
  readonly kid?: string
  readonly file?: string
}

/** How long a rotated-out signing key stays published: its last tokens' lifetime plus clock slack. */
function retirementSeconds(jwt: JwtConfig): number {
  return jwt.ttlSeconds + 120
}

export class KeyStore {
  readonly #jwt: JwtConfig
  readonly #files: KeyFiles
  readonly #onEvent: (e: KeyEvent) => void
  #signing: SigningKey
  /** kid → key, for verification and publication. */
  #published = new Map<string, PublishedKey>()
  /** kid hash → key, for the ASAP endpoint. */
  #byHash = new Map<string, PublishedKey>()
  /** The keys published from JWT_PUBLIC_KEYS_DIR. */
  #dirKeys = new Map<string, PublishedKey>()
  #jwksJson = '{"keys":[]}'
  /** Keys rotated out of signing: published until their last tokens expired (unix ms). */
  readonly #retired = new Map<string, { key: PublishedKey; until: number }>()
  /** Every kid this process ever published, with its key: a kid never gets another key. */
  readonly #seen = new Map<string, KeyObject>()
  readonly #now: () => number
  #privateHash = ''
  #dirHash = ''
  #timer: NodeJS.Timeout | undefined

  private constructor(jwt: JwtConfig, files: KeyFiles, onEvent: (e: KeyEvent) => void, signing: SigningKey, now: () => number) {
    this.#jwt = jwt
    this.#files = files
    this.#onEvent = onEvent
    this.#signing = signing
    this.#now = now
  }

  /** Loads the keys; throws an Error naming the file and the problem when the signing key is unusable. */
  static async load(jwt: JwtConfig, onEvent: (e: KeyEvent) => void = () => {}, files: KeyFiles = nodeFiles, now: () => number = Date.now): Promise<KeyStore> {
    if (!isRsa(jwt.alg)) {
      const signing = { alg: jwt.alg, key: createSecretKey(Buffer.from(jwt.secret, 'utf8')) }
      return new KeyStore(jwt, files, onEvent, Object.freeze(signing), now)
    }
    const file = jwt.privateKeyFile
    const text = files.readFile(file)
    let key: KeyObject
    try {
      key = parsePrivateKey(text)
    } catch (err) {
      throw new Error(`JWT_PRIVATE_KEY_FILE ${file}: ${(err as Error).message}`)
    }
    const kid = jwt.keyId ?? (await thumbprintKid(createPublicKey(key)))
    const store = new KeyStore(jwt, files, onEvent, Object.freeze({ alg: jwt.alg, key, kid }), now)
    store.#privateHash = contentHash(text)
    store.#seen.set(kid, createPublicKey(key))
    try {
      await store.#loadDir(true)
    } catch (err) {
      const message = (err as Error).message
      throw new Error(message.startsWith('JWT_PUBLIC_KEYS_DIR') ? message : `JWT_PUBLIC_KEYS_DIR ${jwt.publicKeysDir}: ${message}`)
    }
    store.#rebuild()
    onEvent({ level: 'info', event: 'key_loaded', kid, file, message: `signing with ${jwt.alg} key ${kid}` })
    return store
  }

  get signing(): SigningKey {
    return this.#signing
  }

  /** The key that checks a token with header `kid` (HS*: the secret). */
  verifyKey(kid: string | undefined): KeyObject | undefined {
    if (!isRsa(this.#jwt.alg)) return this.#signing.key
    return kid === undefined ? undefined : this.#published.get(kid)?.publicKey
  }

  /** The published key whose kid hashes to `hash`, for the ASAP endpoint. */
  byKidHash(hash: string): PublishedKey | undefined {
    return this.#byHash.get(hash)
  }

  /** Every published key, active first. */
  get published(): readonly PublishedKey[] {
    return [...this.#published.values()]
  }

  /** The JWKS document, serialised once per change. */
  get jwksJson(): string {
    return this.#jwksJson
  }

  /**
   * Re-reads the key files when they changed. A file that does not parse,
   * or a kid that would change its key, is reported and ignored: the keys
   * in service stay. Returns true when anything changed.
   */
  async reload(): Promise<boolean> {
    if (!isRsa(this.#jwt.alg)) return false
    let changed = false
    try {
      changed = (await this.#loadDir(false)) || changed
    } catch (err) {
      this.#report(`JWT_PUBLIC_KEYS_DIR ${this.#jwt.publicKeysDir}: ${(err as Error).message}`)
    }
    changed = (await this.#reloadPrivate()) || changed
    for (const [kid, { until }] of this.#retired) {
      if (this.#now() >= until) {
        this.#retired.delete(kid)
        changed = true
      }
    }
    if (changed) this.#rebuild()
    return changed
  }

  /** Polls the key files every `seconds`; returns a function that stops it. */
  watch(seconds: number): () => void {
    if (!isRsa(this.#jwt.alg) || seconds <= 0) return () => {}
    let running = false
    this.#timer = setInterval(() => {
      if (running) return
      running = true
      this.reload()
        .catch((err: unknown) => this.#report(`key reload failed: ${(err as Error).message}`))
        .finally(() => {
          running = false
        })
    }, seconds * 1000)
    this.#timer.unref()
    return () => clearInterval(this.#timer)
  }

  async #reloadPrivate(): Promise<boolean> {
    const file = this.#jwt.privateKeyFile
    let text: string
    try {
      text = this.#files.readFile(file)
    } catch (err) {
      this.#report(`JWT_PRIVATE_KEY_FILE ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'}); still signing with ${this.#signing.kid}`, file)
      return false
    }
    const hash = contentHash(text)
    if (hash === this.#privateHash) return false
    let key: KeyObject
    try {
      key = parsePrivateKey(text)
      // A file caught mid-write reads differently a moment later.
      if (contentHash(this.#files.readFile(file)) !== hash) throw new Error('changed while being read')
    } catch (err) {
      this.#report(`JWT_PRIVATE_KEY_FILE ${file}: ${(err as Error).message}; still signing with ${this.#signing.kid}`, file)
      return false
    }
    const publicKey = createPublicKey(key)
    const kid = this.#jwt.keyId ?? (await thumbprintKid(publicKey))
    const known = this.#seen.get(kid)
    if (known && !known.equals(publicKey)) {
      this.#report(`JWT_PRIVATE_KEY_FILE ${file}: kid ${kid} already names a different key (Prosody caches keys per kid forever); give the new key a new kid. Still signing with ${this.#signing.kid}`, file)
      this.#privateHash = hash
      return false
    }
    this.#privateHash = hash
    const old = this.#signing
    if (old.kid !== kid && old.kid !== undefined) {
      const oldPublished = this.#published.get(old.kid)
      if (oldPublished) this.#retired.set(old.kid, { key: { ...oldPublished, source: 'retired' }, until: this.#now() + retirementSeconds(this.#jwt) * 1000 })
    }
    this.#seen.set(kid, publicKey)
    this.#retired.delete(kid)
    this.#signing = Object.freeze({ alg: this.#jwt.alg, key, kid })
    this.#onEvent({ level: 'info', event: 'key_rotated', kid, file, message: `now signing with key ${kid} (was ${old.kid}); the previous public key stays published for ${retirementSeconds(this.#jwt)} s` })
    return true
  }

  /**
   * Loads JWT_PUBLIC_KEYS_DIR. At start-up a bad file is an error; later it
   * is reported and the key it had (if any) stays.
   */
  async #loadDir(strict: boolean): Promise<boolean> {
    const dir = this.#jwt.publicKeysDir
    if (dir === undefined) return false
    const texts = readPemFolder(this.#files, dir)
    const hash = contentHash(JSON.stringify(texts.map(([n, t]) => [n, typeof t === 'string' ? t : t.message])))
    if (hash === this.#dirHash) return false
    const keys = new Map<string, PublishedKey>()
    for (const [name, text] of texts) {
      const kid = kidOfFileName(name) ?? name.slice(0, -4)
      try {
        if (text instanceof Error) throw text
        if (kidOfFileName(name) === undefined) throw new Error(`the file name is not a percent-encoded kid (${KID_RULE})`)
        const publicKey = parsePublicKey(text)
        const previous = this.#seen.get(kid)
        if (previous && !previous.equals(publicKey)) throw new Error(`kid ${kid} already names a different key (Prosody caches keys per kid forever)`)
        if (this.#jwt.keyId === undefined) {
          // Kids are thumbprints here: a file named for another key would publish it under the wrong kid.
          const thumbprint = await thumbprintKid(publicKey)
          if (thumbprint !== kid) throw new Error(`the file name must be the key's kid: ${kidFileName(thumbprint)} (as keygen prints it)`)
        }
        keys.set(kid, publish(kid, publicKey, this.#jwt.alg, 'JWT_PUBLIC_KEYS_DIR'))
      } catch (err) {
        const message = `JWT_PUBLIC_KEYS_DIR ${join(dir, name)}: ${(err as Error).message}`
        if (strict) throw new Error(message)
        this.#report(message, join(dir, name))
        const previous = this.#dirKeys.get(kid)
        if (previous) keys.set(kid, previous)
      }
    }
    for (const [kid, key] of keys) this.#seen.set(kid, key.publicKey)
    this.#dirKeys = keys
    this.#dirHash = hash
    this.#onEvent({ level: 'info', event: 'public_keys_loaded', message: `${keys.size} public key(s) from ${dir}: ${[...keys.keys()].join(', ') || 'none'}` })
    return true
  }

  #rebuild(): void {
    const signing = this.#signing
    const published = new Map<string, PublishedKey>()
    if (signing.kid !== undefined) published.set(signing.kid, publish(signing.kid, createPublicKey(signing.key), this.#jwt.alg, 'private key'))
    for (const [kid, key] of this.#dirKeys) if (!published.has(kid)) published.set(kid, key)
    for (const [kid, { key }] of this.#retired) if (!published.has(kid)) published.set(kid, key)
    this.#published = published
    this.#byHash = new Map([...published.values()].map((k) => [k.kidHash, k]))
    this.#jwksJson = JSON.stringify({ keys: [...published.values()].map((k) => k.jwk) })
  }

  #report(message: string, file?: string): void {
    this.#onEvent({ level: 'error', event: 'key_reload_failed', message, ...(file === undefined ? {} : { file }) })
  }
}
