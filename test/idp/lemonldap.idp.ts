/**
 * The LemonLDAP::NG fixture on its own, without the sidecar (issue 16, "Real providers in the test
 * suite"): Debian's LemonLDAP::NG started by the test on loopback answers discovery over HTTPS from a
 * throw-away CA, and a by-hand authorization-code flow with openid-client as the client works with
 * the IdP's defaults (HS512 ID tokens signed with the client secret, claims only at userinfo) and with
 * RS256 ID tokens that carry the claims; groups come as a list or as one `; `-joined string as
 * configured; logging out at the portal shows the front-channel logout iframe with `iss` and `sid`,
 * and the RP-initiated logout returns to the post_logout_redirect_uri. Packages missing: the suite
 * fails and says what to install (never skipped).
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import * as oidc from 'openid-client'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { fetch as undiciFetch, request } from 'undici'
import type { Asserts } from '../fixtures/asserts.js'
import { CaBrowser, DEMO_USERS, recipe, startLemonldap, type Lemonldap, type LemonldapOptions } from './lemonldap.js'

const CLIENT_ID = 'jitsi-interop'
const CLIENT_SECRET = 'interop-client-secret-0123456789abcdef'
const REDIRECT_URI = 'http://127.0.0.1:9/jitsi/callback'
const FRONTCHANNEL = 'http://127.0.0.1:9/jitsi/frontchannel-logout'
const SIGNED_OUT = 'http://127.0.0.1:9/jitsi/signed-out'

const started = Date.now()
t.teardown(() => t.comment(`LemonLDAP::NG smoke suite took ${((Date.now() - started) / 1000).toFixed(1)} s`))

async function start(t: Asserts, opts: Partial<LemonldapOptions> = {}): Promise<Lemonldap> {
  const t0 = Date.now()
  const idp = await startLemonldap({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, ...opts })
  t.comment(`LemonLDAP::NG ready at ${idp.issuer} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  t.teardown(() => idp.close())
  return idp
}

/**
 * openid-client's configuration for the IdP: discovery over undici trusting the throw-away CA, the
 * client secret in the token request's body (client_secret_post), as the sidecar sends it.
 */
async function discover(idp: Lemonldap, alg: string, auth = oidc.ClientSecretPost(CLIENT_SECRET)): Promise<oidc.Configuration> {
  const customFetch = ((url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: idp.dispatcher })) as unknown as typeof fetch
  return oidc.discovery(new URL(idp.issuer), CLIENT_ID, { client_secret: CLIENT_SECRET, id_token_signed_response_alg: alg }, auth, {
    [oidc.customFetch]: customFetch,
  })
}

/** The whole code flow by hand: authorization URL → portal login → callback → token → ID token → userinfo. */
async function codeFlow(idp: Lemonldap, config: oidc.Configuration, browser: CaBrowser, user: string, password = user) {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid profile email', state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const callback = await idp.login(browser, authUrl.href, user, password)
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
  const claims = tokens.claims()!
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
  return { callback, tokens, claims, userinfo }
}

const sorted = (v: unknown) => (Array.isArray(v) ? [...v].sort() : v)
const splitGroups = (v: unknown) => (typeof v === 'string' ? v.split(';').map((g) => g.trim()).sort() : v)

t.test("the IdP's defaults: HS512 ID tokens, claims only at userinfo", async (t) => {
  const idp = await start(t, { groupsMode: 'array', frontchannelLogoutUri: FRONTCHANNEL, postLogoutRedirectUris: [SIGNED_OUT] })

  t.comment(`configuration commands:\n${recipe(idp)}`)

  t.test('discovery over HTTPS from the throw-away CA', async (t) => {
    const res = await request(`${idp.issuer}/.well-known/openid-configuration`, { dispatcher: idp.dispatcher })
    t.equal(res.statusCode, 200)
    const doc = (await res.body.json()) as Record<string, unknown>
    t.equal(doc.issuer, idp.issuer, 'issuer is the origin (oidcServiceMetaDataIssuer)')
    t.equal(doc.authorization_endpoint, `${idp.issuer}/oauth2/authorize`)
    t.equal(doc.token_endpoint, `${idp.issuer}/oauth2/token`)
    t.equal(doc.userinfo_endpoint, `${idp.issuer}/oauth2/userinfo`)
    t.equal(doc.end_session_endpoint, `${idp.issuer}/oauth2/logout`)
    t.match(doc.id_token_signing_alg_values_supported, ['none', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512'])
    t.equal(doc.frontchannel_logout_supported, true)
    t.equal(doc.backchannel_logout_supported, false, 'LL::NG 2.16 has no back-channel logout for its relying parties')
    // Without the CA the certificate is refused, with the cause named (what the sidecar must report).
    const untrusted = await request(`${idp.issuer}/.well-known/openid-configuration`).catch((e: Error & { code?: string }) => e)
    t.ok(untrusted instanceof Error, 'the default trust store refuses the IdP')
    t.match((untrusted as { code?: string }).code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/)
  })

  t.test('code flow as dwho: HS512 ID token without claims, name/email/groups at userinfo', async (t) => {
    const config = await discover(idp, 'HS512')
    const browser = new CaBrowser(idp.dispatcher)
    const { callback, tokens, claims, userinfo } = await codeFlow(idp, config, browser, 'dwho')
    t.match(callback, /^http:\/\/127\.0\.0\.1:9\/jitsi\/callback\?/, 'the portal sends the browser back to the redirect URI')
    t.equal(new URL(callback).searchParams.get('iss'), null, 'no iss in the authorization response (RFC 9207 not implemented)')
    t.equal(decodeProtectedHeader(tokens.id_token!).alg, 'HS512')
    const verified = await jwtVerify(tokens.id_token!, new TextEncoder().encode(CLIENT_SECRET), { algorithms: ['HS512'], issuer: idp.issuer, audience: CLIENT_ID })
    t.equal(verified.payload.sub, 'dwho', 'the ID token verifies with the client secret')
    t.equal(claims.sub, 'dwho')
    t.equal(claims.sid, undefined, 'no sid in the ID token')
    t.equal(claims.name, undefined, 'no name in the ID token (IDTokenForceClaims 0)')
    t.equal(claims.email, undefined, 'no email in the ID token')
    t.equal(claims.groups, undefined, 'no groups in the ID token')
    t.equal(userinfo.sub, 'dwho')
    t.equal(userinfo.name, DEMO_USERS.dwho.name)
    t.equal(userinfo.email, DEMO_USERS.dwho.email)
    t.strictSame(sorted(userinfo.groups), [...DEMO_USERS.dwho.groups], 'groups as a list (groups;string;always)')
    t.equal(idp.sessionCount(), 1, 'one portal session')
    t.ok(await idp.signedIn(browser), 'the portal knows the browser')

    // A second authorization with the portal session: no form, straight back (consent remembered).
    const again = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid profile email', state: 's2', nonce: 'n2' })
    const back = await browser.fetch(again.href)
    t.match(back.location, /^http:\/\/127\.0\.0\.1:9\/jitsi\/callback\?.*code=/, 'signed in already: redirected with a code')

    // Logging out at the portal: the front-channel iframe names the sidecar's URL with iss and sid.
    const out = await idp.logoutAtPortal(browser)
    t.equal(out.frontchannelUrls.length, 1, 'one front-channel logout iframe')
    const frame = new URL(out.frontchannelUrls[0]!)
    t.equal(`${frame.origin}${frame.pathname}`, FRONTCHANNEL)
    t.equal(frame.searchParams.get('iss'), idp.issuer, 'iss')
    t.equal(frame.searchParams.get('sid'), 'dwho', 'LL::NG 2.16 sends the user id (the sub) as sid')
    t.notOk(await idp.signedIn(browser), 'portal session ended')
    t.equal(idp.sessionCount(), 0, 'no portal session left')
  })

  t.test('rtyler: other groups; a wrong password is refused with the portal message', async (t) => {
    const config = await discover(idp, 'HS512')
    const { userinfo } = await codeFlow(idp, config, new CaBrowser(idp.dispatcher), 'rtyler')
    t.strictSame(sorted(userinfo.groups), [...DEMO_USERS.rtyler.groups])
    const authUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's', nonce: 'n' })
    await t.rejects(idp.login(new CaBrowser(idp.dispatcher), authUrl.href, 'msmith', 'wrong'), /login of msmith refused by LemonLDAP::NG/)
  })

  t.test('client_secret_basic: LL::NG does not form-decode the credentials openid-client form-encodes', async (t) => {
    // RFC 6749 2.3.1: client_id and secret are form-urlencoded before Basic; openid-client v6 escapes
    // even "-" (%2D), and LL::NG 2.16 compares the encoded id: "No registered Relying Party found
    // with client_id jitsi%2Dinterop". Hence client_secret_post above, as the sidecar does.
    const config = await discover(idp, 'HS512', oidc.ClientSecretBasic(CLIENT_SECRET))
    const authUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 's', nonce: 'n' })
    const callback = await idp.login(new CaBrowser(idp.dispatcher), authUrl.href, 'dwho')
    const refused = await oidc.authorizationCodeGrant(config, new URL(callback), { expectedState: 's', expectedNonce: 'n' }).catch((e: Error & { status?: number }) => e)
    t.ok(refused instanceof Error && (refused as { status?: number }).status === 401, 'the token endpoint answers 401')
    t.match(idp.logs(), /No registered Relying Party found with client_id jitsi%2Dinterop/, "LL::NG's log names the encoded id")
  })

  t.test('RP-initiated logout after a consent page: the person is left at the login form', async (t) => {
    const config = await discover(idp, 'HS512')
    const browser = new CaBrowser(idp.dispatcher)
    // msmith's first login here: the consent page is shown, and its answer leaves LL::NG's
    // `lemonldappdata` cookie holding `_url` (the issuer path, /oauth2).
    const { tokens } = await codeFlow(idp, config, browser, 'msmith')
    t.match(decodeURIComponent(browser.cookies(idp.issuer).get('lemonldappdata') ?? ''), /"_url"/, 'pdata cookie with _url after the consent')
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' })
    const out = await idp.endSession(browser, end.href)
    t.strictSame(out.frontchannelUrls.map((u) => new URL(u).searchParams.get('sid')), ['msmith'], 'the front-channel iframe, even for the RP that asked (sid = sub)')
    // LL::NG 2.16: the "Information" page's Continue goes to that _url, not to the
    // post_logout_redirect_uri: the person lands on the login form and never comes back.
    t.equal(out.location, undefined, 'no redirect to the post_logout_redirect_uri')
    t.match(out.endedAt, `${idp.issuer}/oauth2?`, 'the last page is the issuer path')
    t.match(out.body, /id="lform"/, 'and it is the login form')
    t.notOk(await idp.signedIn(browser), 'portal session ended')

    // The same logout once consent is remembered (no pdata left): Continue goes back to the RP.
    const again = await codeFlow(idp, config, browser, 'msmith')
    t.equal(browser.cookies(idp.issuer).get('lemonldappdata'), undefined, 'no pdata cookie without the consent page')
    const out2 = await idp.endSession(browser, oidc.buildEndSessionUrl(config, { id_token_hint: again.tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' }).href)
    t.equal(out2.frontchannelUrls.length, 1, 'the front-channel iframe')
    t.equal(out2.location, `${SIGNED_OUT}?state=bye`, 'then the post_logout_redirect_uri with state')
  })
})

t.test('RS256 ID tokens with the claims in them, groups as one string', async (t) => {
  const idp = await start(t, { idTokenAlg: 'RS256', claimsInIdToken: true, groupsMode: 'string', bypassConsent: true, logoutBypassConfirm: true, postLogoutRedirectUris: [SIGNED_OUT], frontchannelLogoutUri: FRONTCHANNEL, hostname: '127.0.0.1' })
  const config = await discover(idp, 'RS256')
  const browser = new CaBrowser(idp.dispatcher)
  const { tokens, claims, userinfo } = await codeFlow(idp, config, browser, 'dwho')
  const header = decodeProtectedHeader(tokens.id_token!)
  t.equal(header.alg, 'RS256')
  t.type(header.kid, 'string', 'kid from rotateOidcKeys')
  const jwks = (await (await request(`${idp.issuer}/oauth2/jwks`, { dispatcher: idp.dispatcher })).body.json()) as JSONWebKeySet
  const verified = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), { algorithms: ['RS256'], issuer: idp.issuer, audience: CLIENT_ID })
  t.equal(verified.payload.sub, 'dwho', 'the ID token verifies with the JWKS')
  t.equal(claims.name, DEMO_USERS.dwho.name, 'name in the ID token (IDTokenForceClaims 1)')
  t.equal(claims.email, DEMO_USERS.dwho.email)
  t.type(claims.groups, 'string', 'groups as one string (groups;string;never)')
  t.strictSame(splitGroups(claims.groups), [...DEMO_USERS.dwho.groups])
  t.match(claims.groups as string, /^\w+; \w+$/, 'joined with LL::NG\'s multiValuesSeparator "; "')
  t.strictSame(splitGroups(userinfo.groups), [...DEMO_USERS.dwho.groups], 'the same string at userinfo')

  // RP-initiated logout, consent and confirmation bypassed: the iframes' page, then back to the RP.
  const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' })
  const out = await idp.endSession(browser, end.href)
  t.equal(out.location, `${SIGNED_OUT}?state=bye`, 'to the post_logout_redirect_uri with state')
  t.strictSame(out.frontchannelUrls, [`${FRONTCHANNEL}?iss=${encodeURIComponent(idp.issuer)}&sid=dwho`], 'after the front-channel iframe')
  t.notOk(await idp.signedIn(browser), 'portal session ended')
  t.equal(idp.sessionCount(), 0, 'no portal session left')

  // close(): every process of both groups ended, the folder removed.
  const { dir, processGroups } = idp
  t.equal(processGroups.length, 2)
  await idp.close()
  const alive = processGroups.filter((pgid) => {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  })
  t.strictSame(alive, [], 'no process left in the IdP\'s process groups')
  t.notOk(existsSync(dir), 'the temporary folder is removed')
})
