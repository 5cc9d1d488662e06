/**
 * What a person is, decided once at sign-in from the IdP's claims: whether
 * USE_RULE lets them in, and the identity every later token is built from
 * (mapped user fields, moderator and features from their rules, the group).
 * Pure: claims and config in, decision out.
 */
import type { AuthConfig, JwtConfig, RolesConfig } from '../config/load.js'
import { RuleEvaluationError, type Claims, type Rule } from './rule.js'

/** The `context.user` fields a token carries, already mapped from the claims. */
export interface UserFields {
  readonly id?: string
  readonly name?: string
  readonly email?: string
  readonly avatar?: string
}

/** What tokens need about a person, decided at sign-in. */
export interface Identity {
  readonly user: UserFields
  readonly moderator: boolean
  readonly features: Readonly<Record<string, boolean>>
  readonly group?: string
}

/**
 * Longest value we put in `context.user` or `context.group`: the session
 * cookie holds them and must stay under 4 KB, and so must the room URL.
 */
const MAX_CLAIM_LENGTH = 256
const MAX_AVATAR_LENGTH = 1024

/** The string value of a claim, for `context.user`: strings as they are, numbers as text, anything else (or too long) left out. */
function stringClaim(claims: Claims, name: string, max = MAX_CLAIM_LENGTH): string | undefined {
  const v = claims[name]
  if (typeof v === 'string') return v === '' || v.length > max ? undefined : v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

/** Maps identity claims to `context.user` fields with the configured attributes; missing claims are left out. */
export function userFromClaims(claims: Claims, jwt: JwtConfig): UserFields {
  const user: { -readonly [K in keyof UserFields]: UserFields[K] } = {}
  const fields: [keyof UserFields, string][] = [['id', jwt.idAttribute], ['name', jwt.nameAttribute], ['email', jwt.mailAttribute]]
  for (const [field, attribute] of fields) {
    const v = stringClaim(claims, attribute)
    if (v !== undefined) user[field] = v
  }
  // An avatar is a picture URL: http(s) only (no data: blobs, no javascript:).
  const avatar = stringClaim(claims, jwt.avatarAttribute, MAX_AVATAR_LENGTH)
  if (avatar !== undefined && /^https?:\/\//i.test(avatar)) user.avatar = avatar
  return user
}

/** A rule that fails at runtime (a missing claim) counts as false: never a role by accident. */
function holds(rule: Rule, claims: Claims, onError: (rule: Rule, err: RuleEvaluationError) => void): boolean {
  try {
    return rule.evaluate(claims)
  } catch (err) {
    if (!(err instanceof RuleEvaluationError)) throw err
    onError(rule, err)
    return false
  }
}

/**
 * Everything a token needs about a person, decided once at sign-in from the
 * claims: mapped user fields, moderator and features from their rules, and
 * the group. Kept in the session, so later tokens need neither the claims
 * nor the IdP.
 */
export function identityFromClaims(
  claims: Claims,
  jwt: JwtConfig,
  roles: RolesConfig,
  onRuleError: (rule: Rule, err: RuleEvaluationError) => void = () => {},
): Identity {
  const features: Record<string, boolean> = {}
  for (const [name, rule] of roles.features) features[name] = holds(rule, claims, onRuleError)
  const group = jwt.group === undefined ? undefined : 'value' in jwt.group ? jwt.group.value : stringClaim(claims, jwt.group.claim)
  return {
    user: userFromClaims(claims, jwt),
    moderator: holds(roles.moderatorRule, claims, onRuleError),
    features,
    ...(group === undefined ? {} : { group }),
  }
}

/** The sign-in decision for a set of claims: USE_RULE's verdict, the identity, and any rule that failed to evaluate. */
export interface Admission {
  readonly allowed: boolean
  readonly identity: Identity
  /** `<rule source>: <message>` for rules that failed at runtime (each counted as false). */
  readonly ruleErrors: readonly string[]
}

export function admit(claims: Claims, auth: Pick<AuthConfig, 'useRule' | 'jwt' | 'roles'>): Admission {
  const ruleErrors: string[] = []
  const onError = (rule: Rule, err: RuleEvaluationError) => ruleErrors.push(`${rule === auth.useRule ? 'USE_RULE' : rule.source}: ${err.message}`)
  const allowed = holds(auth.useRule, claims, onError)
  return { allowed, identity: identityFromClaims(claims, auth.jwt, auth.roles, onError), ruleErrors }
}
