/**
 * The claim shapes of the IdPs people run, served by the real oidc-provider
 * configured to release them: Keycloak (groups as full paths, roles under
 * realm_access), Entra ID (groups as object ids; group overage replaces them
 * with _claim_names), Google (no groups claim at all), Authentik (groups by
 * name, preferred_username). Each with the rule its recipe in
 * docs/identity-providers.md suggests.
 */
import t from 'tap'
import type { DemoAccount } from '../../src/demo/idp.js'
import type { Asserts } from '../fixtures/asserts.js'
import { Browser } from '../fixtures/client.js'
import { jwtOf, signIn, verify } from '../fixtures/signin.js'
import { startStack, type Stack } from '../fixtures/stack.js'

/** Every claim below released under the scopes the stack asks for. */
const CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'picture', 'realm_access', 'resource_access', '_claim_names', '_claim_sources', 'oid', 'tid'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
}

async function idpWith(t: Asserts, accounts: Record<string, DemoAccount>, env: Record<string, string>): Promise<Stack> {
  const stack = await startStack({ env, idp: { accounts, extra: { claims: CLAIMS } } })
  t.teardown(() => stack.close())
  return stack
}

t.test('Keycloak: groups as full paths, roles under realm_access', async (t) => {
  const stack = await idpWith(t, {
    kc1: { password: 'kc1', claims: { name: 'K One', preferred_username: 'kone', email: 'k1@example.org', groups: ['/jitsi-users', '/org/staff'], realm_access: { roles: ['offline_access', 'jitsi-moderator'] } } },
    kc2: { password: 'kc2', claims: { name: 'K Two', email: 'k2@example.org', groups: ['/guests'], realm_access: { roles: [] } } },
  }, { USE_RULE: "inGroup('jitsi-users')", MODERATOR_RULE: "'jitsi-moderator' in realm_access.roles", JWT_NAME_ATTRIBUTE: 'preferred_username' })
  const one = await signIn(stack, new Browser(), '/MyRoom', 'kc1')
  t.match((await verify(jwtOf(one.done.location))).context, { user: { id: 'kc1', name: 'kone', moderator: 'true' } }, "'/jitsi-users' matches inGroup('jitsi-users'); realm roles are readable")
  t.equal((await signIn(stack, new Browser(), '/MyRoom', 'kc2')).done.status, 403)
})

t.test('Entra ID: groups as object ids; group overage is named in the log', async (t) => {
  const STAFF = '6a3c7e1f-0d2b-4c55-9f0e-2b1d8f3a9c10'
  const stack = await idpWith(t, {
    e1: { password: 'e1', claims: { name: 'E One', email: 'e1@example.org', oid: 'o-1', groups: [STAFF] } },
    // More groups than fit: Entra sends a pointer to Microsoft Graph instead of the groups claim.
    e2: { password: 'e2', claims: { name: 'E Two', email: 'e2@example.org', oid: 'o-2', _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/o-2/getMemberObjects' } } } },
  }, { USE_RULE: `inGroup('${STAFF}')`, JWT_ID_ATTRIBUTE: 'oid' })
  const one = await signIn(stack, new Browser(), '/MyRoom', 'e1')
  t.match((await verify(jwtOf(one.done.location))).context, { user: { id: 'o-1', name: 'E One' } })
  t.equal((await signIn(stack, new Browser(), '/MyRoom', 'e2')).done.status, 403, 'no groups: the rule fails closed')
  t.match(stack.logs.join('\n'), /"event":"claims_missing".*"claims":\["groups"\].*"groupsOverage":true/, 'and the log says why')
})

t.test('Google: no groups claim at all; a domain rule instead', async (t) => {
  const stack = await idpWith(t, {
    g1: { password: 'g1', claims: { name: 'G One', email: 'g1@example.org', email_verified: true, hd: 'example.org' } },
    g2: { password: 'g2', claims: { name: 'G Two', email: 'g2@gmail.com', email_verified: true } },
  }, { USE_RULE: "email_verified && email.endsWith('@example.org')" })
  t.equal((await signIn(stack, new Browser(), '/MyRoom', 'g1')).done.status, 302)
  t.equal((await signIn(stack, new Browser(), '/MyRoom', 'g2')).done.status, 403)
  t.notMatch(stack.logs.join('\n'), /"event":"claims_missing"/, 'nothing the rule reads is missing')
})

t.test('Authentik: groups by name, preferred_username', async (t) => {
  const stack = await idpWith(t, {
    a1: { password: 'a1', claims: { name: 'A One', preferred_username: 'aone', email: 'a1@example.org', groups: ['authentik Admins', 'jitsi'] } },
  }, { USE_RULE: "inGroup('jitsi')", MODERATOR_RULE: "inGroup('authentik Admins')", JWT_NAME_ATTRIBUTE: 'preferred_username' })
  const one = await signIn(stack, new Browser(), '/MyRoom', 'a1')
  t.match((await verify(jwtOf(one.done.location))).context, { user: { name: 'aone', moderator: 'true' } })
})
