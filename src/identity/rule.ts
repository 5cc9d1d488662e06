/**
 * Access rules in CEL, compiled once at start-up and evaluated against the
 * identity's claims. Every claim is a variable (`email.endsWith('@x.org')`),
 * and the whole set is `claims` for names that are not identifiers
 * (`claims['https://example.com/roles']`). `inGroup('name')` tests the groups
 * claim. The literals `1` and `0` (LemonLDAP::NG's spelling) mean true/false.
 */
import { Environment } from '@marcbachmann/cel-js'

export type Claims = Readonly<Record<string, unknown>>

export interface Rule {
  /** The expression as configured, for logs and error messages. */
  readonly source: string
  /** The claims it reads (the groups claim when it calls inGroup): what userinfo may have to supply. */
  readonly claims: readonly string[]
  /** True when the claims satisfy the rule. Throws RuleEvaluationError. */
  evaluate(claims: Claims): boolean
}

export class RuleEvaluationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RuleEvaluationError'
  }
}

// cel-js calls function handlers without the evaluation context, so inGroup
// reads the groups of the evaluation in progress from here. Evaluation is
// synchronous (no async functions are registered), so no two can interleave.
let currentGroups: ReadonlySet<string> = new Set()

const env = new Environment({ unlistedVariablesAreDyn: true, limits: { maxAstNodes: 2000, maxDepth: 50 } })
  .registerVariable('claims', 'map')
  .registerFunction('inGroup(string): bool', (name: string) => currentGroups.has(name))

/** Where `inGroup` finds a person's groups. */
export interface GroupsClaim {
  /** OIDC_GROUPS_CLAIM. */
  readonly claim: string
  /**
   * OIDC_GROUPS_SEPARATOR: characters that split a claim sent as one string
   * (LemonLDAP::NG's string mode sends `users; timelords`); '' splits nothing.
   */
  readonly separators: string
}

/**
 * Group names from the groups claim: a list of strings, or one string split
 * at `separators` (each part trimmed). Items of a list are never split. A
 * leading `/` (Keycloak's full group path) is accepted, so `/staff` matches
 * `inGroup('staff')`; nested paths such as `/org/staff` must be named in full.
 */
export function groupsOf(value: unknown, separators = ''): ReadonlySet<string> {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? splitGroups(value, separators) : []
  const groups = new Set<string>()
  for (const g of list) {
    if (typeof g !== 'string' || g === '') continue
    groups.add(g)
    if (g.startsWith('/')) groups.add(g.slice(1))
  }
  return groups
}

function splitGroups(value: string, separators: string): string[] {
  if (separators === '') return [value]
  const parts: string[] = []
  let start = 0
  for (let i = 0; i <= value.length; i++) {
    if (i < value.length && !separators.includes(value.charAt(i))) continue
    parts.push(value.slice(start, i).trim())
    start = i + 1
  }
  return parts
}

/** CEL maps and lists hold bigint for integers; claims arrive as JSON numbers. */
function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value
  if (Array.isArray(value)) return value.map(toCel)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (k !== '__proto__') out[k] = toCel(v)
    return out
  }
  return value
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Compiles a rule; throws an Error whose message explains the syntax problem.
 * `groups` says where `inGroup` reads.
 */
export function compileRule(source: string, groups: GroupsClaim): Rule {
  const text = source.trim()
  if (text === '') throw new Error('the rule is empty (use `true` to allow everyone)')
  if (text === '1' || text === '0') {
    const value = text === '1'
    return Object.freeze({ source, claims: [], evaluate: () => value })
  }
  const program = env.parse(text)
  // Type-check what can be checked without claims: a rule that can never be a
  // boolean (`1 + 1`, `'x'`) is a configuration error, not a runtime denial.
  const checked = program.check()
  if (!checked.valid) throw new Error(checked.error?.message ?? 'the rule does not type-check')
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw new Error(`the rule gives a ${checked.type}, not a bool`)
  }
  return Object.freeze({
    source,
    claims: Object.freeze(claimsRead(program.ast, groups.claim)),
    evaluate(claims: Claims): boolean {
      const vars: Record<string, unknown> = {}
      // `__proto__` would replace the object's prototype and make absent claims appear.
      for (const [k, v] of Object.entries(claims)) if (IDENTIFIER.test(k) && k !== 'claims' && k !== '__proto__') vars[k] = toCel(v)
      vars.claims = toCel(claims)
      currentGroups = groupsOf(claims[groups.claim], groups.separators)
      let result: unknown
      try {
        result = program(vars)
      } catch (err) {
        throw new RuleEvaluationError(err instanceof Error ? err.message : String(err), { cause: err })
      } finally {
        currentGroups = new Set()
      }
      if (typeof result !== 'boolean') throw new RuleEvaluationError(`the rule gave ${typeof result}, not a bool`)
      return result
    },
  })
}

/** CEL's macros whose first argument names an iteration variable, not a claim. */
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter'])

interface Node {
  readonly op: string
  readonly args: unknown
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && typeof (x as Node).op === 'string'
}

/**
 * The claims an expression reads, from cel-js's syntax tree: top-level
 * identifiers (`email`), `claims.x` and `claims['x']`, and the groups claim
 * for `inGroup`. Iteration variables of macros are not claims.
 */
function claimsRead(ast: unknown, groupsClaim: string): string[] {
  const read = new Set<string>()
  const local = new Set<string>()
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(visit)
    if (!isNode(x)) return
    const { op, args } = x
    if (op === 'id' && typeof args === 'string') read.add(args)
    else if ((op === '.' || op === '[]') && Array.isArray(args) && isNode(args[0]) && args[0].op === 'id' && args[0].args === 'claims') {
      const key = args[1]
      const name = typeof key === 'string' ? key : isNode(key) && key.op === 'value' && typeof key.args === 'string' ? key.args : undefined
      if (name !== undefined) read.add(name)
      else visit(key)
      return
    } else if (op === 'call' && Array.isArray(args) && args[0] === 'inGroup') read.add(groupsClaim)
    else if (op === 'rcall' && Array.isArray(args) && MACROS.has(args[0] as string) && Array.isArray(args[2])) {
      const first = args[2][0]
      if (isNode(first) && first.op === 'id' && typeof first.args === 'string') local.add(first.args)
    }
    if (typeof args === 'object') visit(args)
  }
  visit(ast)
  read.delete('claims')
  for (const name of local) read.delete(name)
  return [...read]
}
