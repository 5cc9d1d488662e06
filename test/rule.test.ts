import t from 'tap'
import { compileRule, groupsOf, RuleEvaluationError } from '../src/identity/rule.js'

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
  for (const [src, expected] of cases) t.equal(compileRule(src, 'groups').evaluate(alice), expected, src)
})

t.test('groups claim is configurable and may be a string', async (t) => {
  t.equal(compileRule("inGroup('x')", 'roles').evaluate({ roles: 'x' }), true)
  t.equal(compileRule("inGroup('x')", 'roles').evaluate({ groups: ['x'] }), false)
  t.equal(compileRule("inGroup('x')", 'groups').evaluate({}), false)
  t.same([...groupsOf(['a', 3, '/b'])], ['a', '/b', 'b'])
  t.same([...groupsOf(undefined)], [])
})

t.test('a claim named __proto__ cannot make absent claims appear', async (t) => {
  const claims = JSON.parse('{"sub":"x","__proto__":{"admin":true,"email":"boss@example.org"}}') as Record<string, unknown>
  t.throws(() => compileRule('admin == true', 'groups').evaluate(claims), RuleEvaluationError)
  t.throws(() => compileRule("email.endsWith('@example.org')", 'groups').evaluate(claims), RuleEvaluationError)
  t.equal(compileRule('has(claims.admin)', 'groups').evaluate(claims), false)
})

t.test('compile errors', async (t) => {
  t.throws(() => compileRule("inGroup('x'", 'groups'))
  t.throws(() => compileRule('', 'groups'), /empty/)
  t.throws(() => compileRule("'yes'", 'groups'), /gives a string/)
  t.throws(() => compileRule('inGroup(1)', 'groups'))
})

t.test('evaluation errors fail closed with a RuleEvaluationError', async (t) => {
  const r = compileRule("email.endsWith('@x.org')", 'groups')
  t.throws(() => r.evaluate({}), RuleEvaluationError, 'missing claim')
  t.throws(() => compileRule('email', 'groups').evaluate({ email: 'x' }), /not a bool/)
  t.equal(compileRule("inGroup('a')", 'groups').evaluate({ groups: ['a'] }), true)
  t.equal(compileRule("inGroup('a')", 'groups').evaluate({}), false, 'no groups left over from the last evaluation')
})
