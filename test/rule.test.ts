import t from 'tap'
import { compileRule, groupsOf, RuleEvaluationError } from '../src/identity/rule.js'

const GROUPS = { claim: 'groups', separators: ';' }
const alice = { sub: 'a1', email: 'alice@example.org', email_verified: true, groups: ['/jitsi-meet', 'staff'], age: 42, 'https://x.example/roles': ['admin'] }

t.test('rules', async (t) => {
  const cases: [string, boolean][] = [
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    [" 1 ", true],
    ["inGroup('jitsi-meet')", true],
    ["inGroup('/jitsi-meet')", true],
    ["inGroup('staff')", true],
    ["inGroup('other')", false],
    ["email.endsWith('@example.org') && email_verified", true],
    ["claims.email == 'alice@example.org'", true],
    ["'admin' in claims['https://x.example/roles']", true],
    ['age >= 18', true],
    ["has(claims.nickname)", false],
    ["inGroup('staff') || inGroup('other')", true],
  ]
  for (const [src, expected] of cases) t.equal(compileRule(src, GROUPS).evaluate(alice), expected, src)
})

t.test('groups claim is configurable and may be a string', async (t) => {
  t.equal(compileRule("inGroup('x')", { claim: 'roles', separators: ';' }).evaluate({ roles: 'x' }), true)
  t.equal(compileRule("inGroup('x')", { claim: 'roles', separators: ';' }).evaluate({ groups: ['x'] }), false)
  t.equal(compileRule("inGroup('x')", GROUPS).evaluate({}), false)
  t.same([...groupsOf(['a', 3, '/b'])], ['a', '/b', 'b'])
  t.same([...groupsOf(undefined)], [])
})

t.test('a groups claim sent as one string is split at OIDC_GROUPS_SEPARATOR', async (t) => {
  // LemonLDAP::NG's exported variables in string mode.
  const llng = { claim: 'groups', separators: ';' }
  t.equal(compileRule("inGroup('timelords')", llng).evaluate({ groups: 'users; timelords' }), true)
  t.equal(compileRule("inGroup('users')", llng).evaluate({ groups: 'users; timelords' }), true)
  t.equal(compileRule("inGroup('users; timelords')", llng).evaluate({ groups: 'users; timelords' }), false)
  t.same([...groupsOf('cn=staff,ou=groups,dc=example;users', ';')], ['cn=staff,ou=groups,dc=example', 'users'], 'commas stay: LDAP DNs keep their meaning')
  t.same([...groupsOf('a, b;c', ';,')], ['a', 'b', 'c'])
  t.same([...groupsOf(' a ;; ', ';')], ['a'], 'empty parts are no group')
  t.same([...groupsOf('a;b', '')], ['a;b'], '`none` splits nothing')
  t.same([...groupsOf(['a;b', 'c'], ';')], ['a;b', 'c'], 'items of a list are never split')
})

t.test('a claim named __proto__ cannot make absent claims appear', async (t) => {
  const claims = JSON.parse('{"sub":"x","__proto__":{"admin":true,"email":"boss@example.org"}}') as Record<string, unknown>
  t.throws(() => compileRule('admin == true', GROUPS).evaluate(claims), RuleEvaluationError)
  t.throws(() => compileRule("email.endsWith('@example.org')", GROUPS).evaluate(claims), RuleEvaluationError)
  t.equal(compileRule('has(claims.admin)', GROUPS).evaluate(claims), false)
})

t.test('compile errors', async (t) => {
  t.throws(() => compileRule("inGroup('x'", GROUPS))
  t.throws(() => compileRule('', GROUPS), /empty/)
  t.throws(() => compileRule("'yes'", GROUPS), /gives a string/)
  t.throws(() => compileRule('inGroup(1)', GROUPS))
})

t.test('evaluation errors fail closed with a RuleEvaluationError', async (t) => {
  const r = compileRule("email.endsWith('@x.org')", GROUPS)
  t.throws(() => r.evaluate({}), RuleEvaluationError, 'missing claim')
  t.throws(() => compileRule('email', GROUPS).evaluate({ email: 'x' }), /not a bool/)
  t.equal(compileRule("inGroup('a')", GROUPS).evaluate({ groups: ['a'] }), true)
  t.equal(compileRule("inGroup('a')", GROUPS).evaluate({}), false, 'no groups left over from the last evaluation')
})

t.test('a rule knows the claims it reads (userinfo is fetched when one is missing)', async (t) => {
  const cases: [string, string[]][] = [
    ['true', []],
    ['1', []],
    ["inGroup('staff')", ['groups']],
    ["email.endsWith('@example.org') && email_verified", ['email', 'email_verified']],
    ["claims.level > 3 || 'admin' in claims['https://x.example/roles']", ['level', 'https://x.example/roles']],
    ['has(claims.nickname)', ['nickname']],
    ["groups.exists(g, g.startsWith('a')) && org.name == 'acme'", ['groups', 'org']],
    ["claims[email] == 'x'", ['email']],
  ]
  for (const [src, claims] of cases) t.same([...compileRule(src, GROUPS).claims].sort(), claims.sort(), src)
})
