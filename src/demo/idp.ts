/**
 * An embedded OpenID provider (panva's oidc-provider) for the demo and the
 * tests: a login form with fixed accounts, no consent screen for the one
 * client. Development only: in-memory storage, throwaway signing keys.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { LRUCache } from 'lru-cache'
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import MemoryAdapter, { type MemoryStore } from 'oidc-provider/lib/adapters/memory_adapter.js'
import { readForm } from '../http/form.js'
import { listen } from '../http/listen.js'

/**
 * How many records (interactions, sessions, grants, codes, tokens: about seven per sign-in) one
 * demo IdP keeps. oidc-provider's own in-memory store holds 1,000 for the whole process, so 200
 * sign-ins at once lost authorization codes before their exchange ("authorization code not found").
 */
const IDP_STORE_MAX = 20_000

/** oidc-provider's memory adapter over a store of this IdP's own (lru-cache, expiring as the records do). */
class Store implements MemoryStore {
  readonly #cache = new LRUCache<string, NonNullable<unknown>>({ max: IDP_STORE_MAX })
  get(key: string): unknown {
    return this.#cache.get(key)
  }
  set(key: string, value: NonNullable<unknown>, options?: { maxAge?: number }): void {
    this.#cache.set(key, value, options?.maxAge === undefined ? undefined : { ttl: options.maxAge })
  }
  delete(key: string): void {
    this.#cache.delete(key)
  }
}

export interface DemoAccount {
  readonly password: string
  /** Claims released for the account (sub is the account id). */
  readonly claims: Readonly<Record<string, unknown>>
}

export const DEMO_ACCOUNTS: Readonly<Record<string, DemoAccount>> = Object.freeze({
  alice: {
    password: 'alice',
    claims: { name: 'Alice Example', email: 'alice@example.org', email_verified: true, groups: ['jitsi-users', 'staff'], picture: 'https://example.org/alice.png' },
  },
  carol: {
    password: 'carol',
    claims: { name: 'Carol Example', email: 'carol@example.org', email_verified: true, groups: ['jitsi-users'], org: 'acme' },
  },
  bob: {
    password: 'bob',
    claims: { name: 'Bob Example', email: 'bob@example.org', email_verified: true, groups: ['other'] },
  },
})

export interface IdpOptions {
  readonly host?: string
  readonly port?: number
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUris: readonly string[]
  readonly postLogoutRedirectUris?: readonly string[]
  readonly accounts?: Readonly<Record<string, DemoAccount>>
  /** Claims in the ID token (default) or only from userinfo, as some real IdPs do. */
  readonly claimsInIdToken?: boolean
  /** The client's back-channel logout URI: the IdP posts a logout token there when a session ends. */
  readonly backchannelLogoutUri?: string
  /** The client's ID-token algorithm (default RS256); HS* are signed with the client secret, LemonLDAP::NG's default. */
  readonly idTokenAlg?: 'RS256' | 'HS256' | 'HS384' | 'HS512'
  /** Extra oidc-provider configuration, merged last (tests use it for TTLs and keys). */
  readonly extra?: Partial<Configuration>
}

export interface Idp {
  readonly issuer: string
  readonly provider: Provider
  readonly server: Server
  close(): Promise<void>
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo identity provider: sign in</title>
<style>body{font:16px system-ui,sans-serif;background:#eef1f5;margin:0}main{max-width:22rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:8px}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1.2rem;padding:.6rem 1.2rem}.e{color:#b00020}</style>
</head><body><main><h1>Demo identity provider</h1><p>Sign in as <b>alice</b> / <b>alice</b> (allowed, moderator), <b>carol</b> / <b>carol</b> (allowed) or <b>bob</b> / <b>bob</b> (denied by the demo rule).</p>
${error ? `<p class="e">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">Username</label><input id="login" name="login" autocomplete="username" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form></main></body></html>`
}

const stalePage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo identity provider: page expired</title><style>body{font:16px system-ui,sans-serif;background:#eef1f5;margin:0}main{max-width:22rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:8px}</style>
</head><body><main><h1>This sign-in page has expired</h1><p>Open your meeting link again to sign in.</p></main></body></html>`

/** Starts the IdP; its issuer is `http://<host>:<port>`. */
export async function startIdp(opts: IdpOptions): Promise<Idp> {
  const accounts = opts.accounts ?? DEMO_ACCOUNTS
  const server = createServer()
  const host = opts.host ?? '127.0.0.1'
  const port = await listen(server, opts.port ?? 0, host)
  const issuer = `http://${host === '127.0.0.1' || host === '::1' ? host : 'localhost'}:${port}`

  const store = new Store()
  const configuration: Configuration = {
    adapter: (name: string) => new MemoryAdapter(name, store, opts.extra?.clockTolerance ?? 0),
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: [...opts.redirectUris],
        post_logout_redirect_uris: [...(opts.postLogoutRedirectUris ?? [])],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
        ...(opts.backchannelLogoutUri ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
        ...(opts.idTokenAlg ? { id_token_signed_response_alg: opts.idTokenAlg } : {}),
      },
    ],
    async findAccount(_ctx, sub) {
      const account = accounts[sub]
      if (!account) return undefined
      return { accountId: sub, claims: () => ({ sub, ...account.claims }) }
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'picture', 'preferred_username', 'org'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: opts.claimsInIdToken === false,
    // oidc-provider refuses to call loopback addresses (SSRF protection); the demo's sidecar lives on one.
    fetch: (url, init) => {
      if (init) delete (init as { dispatcher?: unknown }).dispatcher
      return fetch(url, init)
    },
    // HS* offered only when the client uses one, as an IdP set up for RS256 alone would publish.
    ...(opts.idTokenAlg?.startsWith('HS') ? { enabledJWA: { idTokenSigningAlgValues: ['RS256', opts.idTokenAlg] } } : {}),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Back-channel logout also puts `sid` in ID tokens, as most IdPs do.
    features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true } },
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
    // One first-party client: grant what it asks for, no consent screen.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const oidc = ctx.oidc
      if (!oidc.client || !oidc.session?.accountId) return undefined
      const existing = oidc.session.grantIdFor(oidc.client.clientId)
      const found = existing ? await oidc.provider.Grant.find(existing) : undefined
      // A grant for the account signed in now: after prompt=login it may be another account's.
      if (found && found.accountId === oidc.session.accountId) return found
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId })
      grant.addOIDCScope(String(oidc.params?.scope ?? 'openid'))
      await grant.save()
      oidc.session.grantIdFor(oidc.client.clientId, grant.jti)
      return grant
    },
    ...opts.extra,
  }
  const provider = new Provider(issuer, configuration)
  const handler = provider.callback()

  // The authorization requests behind recent login pages: Back or a reload on a page whose
  // interaction is finished or expired starts that request again (with an IdP session it goes
  // straight back to the client), as real IdPs restart a stale login instead of failing.
  const requests = new Map<string, URLSearchParams>()
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec((req.url ?? '').split('?')[0] ?? '')
    if (!m) return handler(req, res)
    const uid = m[1] as string
    void interaction(req, res, uid, m[2] !== undefined).catch(() => {
      if (res.headersSent) return res.end()
      const again = requests.get(uid)
      if (again) {
        res.writeHead(303, { location: `/auth?${again}`, 'cache-control': 'no-store' })
        return res.end()
      }
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(stalePage)
    })
  })

  function remember(uid: string, params: Record<string, unknown>): void {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (typeof v === 'string') q.set(k, v)
    requests.set(uid, q)
    // Bounded: the oldest go first.
    if (requests.size > 1000) requests.delete(requests.keys().next().value as string)
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, submit: boolean): Promise<void> {
    const details = await provider.interactionDetails(req, res)
    if (details.uid !== uid) throw new Error('interaction mismatch')
    remember(uid, details.params)
    if (!submit) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(loginPage(uid))
      return
    }
    if (req.method !== 'POST') throw new Error('POST expected')
    const form = (await readForm(req, 10_000)) ?? new URLSearchParams()
    const login = form.get('login') ?? ''
    const account = accounts[login]
    if (!account || account.password !== form.get('password')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(loginPage(uid, 'Unknown user or wrong password.'))
      return
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false })
  }

  return {
    issuer,
    provider,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
