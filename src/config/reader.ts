/**
 * Reads variables as VARIABLE_TABLE describes them. A bad value is recorded
 * as a problem naming its variable, and reading goes on, so that one start-up
 * reports every problem.
 */
import { statSync } from 'node:fs'
import { compileRule, type GroupsClaim, type Rule } from '../identity/rule.js'
import { parseListenAddress, splitTopLevel } from './parse.js'
import type { Env, ListenAddress } from './types.js'
import { VARIABLE_TABLE, type Kind, type Variable, type VariableName } from './variables.js'

type Entry = (typeof VARIABLE_TABLE)[number]
type NameOf<K extends Kind> = Extract<Entry, { kind: K }>['name']
type EntryOf<N> = Extract<Entry, { name: N }>
/** Unset gives undefined only where there is no default and it is not required. */
type Text<N> = EntryOf<N> extends { default: string } | { required: string } ? string : string | undefined
type Values<N> = EntryOf<N> extends { values: readonly (infer V)[] } ? V : never

const BY_NAME = new Map<string, Variable>(VARIABLE_TABLE.map((v) => [v.name, v]))

function entry<K extends Kind>(name: NameOf<K>): Extract<Variable, { kind: K }> {
  return BY_NAME.get(name) as Extract<Variable, { kind: K }>
}

const TRUE = ['1', 'true', 'yes', 'on']
const FALSE = ['0', 'false', 'no', 'off']

function truth(text: string | undefined): boolean | undefined {
  const v = text?.toLowerCase() ?? ''
  return TRUE.includes(v) ? true : FALSE.includes(v) ? false : undefined
}

export class Reader {
  readonly problems: string[] = []

  constructor(
    private readonly env: Env,
    private readonly readFile: (path: string) => string,
  ) {}

  problem(name: string, text: string): void {
    this.problems.push(`${name}: ${text}`)
  }

  string<N extends NameOf<'string'>>(name: N): Text<N> {
    const v = entry<'string'>(name)
    const text = this.#text(v)
    if (text !== undefined && v.check) this.#check(name, v.check(text))
    return (text ?? (v.required !== undefined ? '' : undefined)) as Text<N>
  }

  int(name: NameOf<'int'>): number {
    const v = entry<'int'>(name)
    const text = this.#text(v) ?? ''
    const n = Number(text)
    if (/^\d+$/.test(text) && n >= v.min && n <= v.max) return n
    this.problem(name, `must be a whole number from ${v.min} to ${v.max}, got ${JSON.stringify(text)}`)
    return Number(v.default)
  }

  bool(name: NameOf<'bool'>): boolean {
    const v = entry<'bool'>(name)
    const text = this.#text(v)
    const value = truth(text)
    if (value !== undefined) return value
    this.problem(name, `must be 1 or 0, got ${JSON.stringify(text)}`)
    // The default, so that ENABLE_AUTH=maybe still reports the sign-in variables' problems.
    return truth(v.default) ?? false
  }

  enum<N extends NameOf<'enum'>>(name: N): Values<N> {
    const v = entry<'enum'>(name)
    const text = this.#text(v) ?? ''
    if (!v.values.includes(text)) {
      this.problem(name, `must be one of ${v.values.join(', ')}${v.hint ? ` (${v.hint})` : ''}, got ${JSON.stringify(text)}`)
    }
    return text as Values<N>
  }

  url(name: NameOf<'url'>): URL | undefined {
    const v = entry<'url'>(name)
    const text = this.#text(v)
    if (text === undefined) return undefined
    let u: URL
    try {
      u = new URL(text)
    } catch {
      this.problem(name, `not a URL: ${JSON.stringify(text)}`)
      return undefined
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      this.problem(name, `must be http:// or https://, got ${JSON.stringify(text)}`)
      return undefined
    }
    return this.#check(name, v.check?.(u)) ? u : undefined
  }

  address(name: NameOf<'address'>): ListenAddress | undefined {
    const text = this.#text(entry<'address'>(name)) ?? ''
    const address = parseListenAddress(text)
    if (!address) this.problem(name, `must be host:port, [ipv6]:port or :port, got ${JSON.stringify(text)}`)
    return address
  }

  list(name: NameOf<'list'>): string[] {
    const v = entry<'list'>(name)
    const items = (this.#text(v) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    items.forEach((item, i) => this.#check(name, v.check?.(item, i)))
    return items
  }

  rule(name: NameOf<'rule'>, groups: GroupsClaim): Rule | undefined {
    return this.#compile(name, this.#text(entry<'rule'>(name)) ?? '', groups)
  }

  /** `feature=rule,…`: feature → rule, in the order given. */
  features(name: NameOf<'features'>, groups: GroupsClaim): Map<string, Rule> {
    const v = entry<'features'>(name)
    const features = new Map<string, Rule>()
    for (const item of splitTopLevel(this.#text(v) ?? '')) {
      const eq = item.indexOf('=')
      const feature = (eq === -1 ? item : item.slice(0, eq)).trim()
      if (eq === -1 || !v.values.includes(feature)) {
        this.problem(name, `${JSON.stringify(item.trim())} is not feature=rule with a known feature (${v.values.join(', ')})`)
        continue
      }
      if (features.has(feature)) this.problem(name, `${feature} is given twice`)
      const rule = this.#compile(`${name} (${feature})`, item.slice(eq + 1), groups)
      if (rule) features.set(feature, rule)
    }
    return features
  }

  /** A file path, whose content `parse` must accept (it throws an Error saying what is wrong). */
  file<N extends NameOf<'file'>>(name: N, parse: (text: string) => unknown): Text<N> {
    const path = this.#text(entry<'file'>(name))
    if (path !== undefined) {
      try {
        parse(this.readFile(path))
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        this.problem(name, `${path} ${code ? `cannot be read (${code})` : (err as Error).message}`)
      }
    }
    return (path ?? '') as Text<N>
  }

  dir(name: NameOf<'dir'>): string | undefined {
    const path = this.#text(entry<'dir'>(name))
    if (path === undefined) return undefined
    let isDir = false
    try {
      isDir = statSync(path).isDirectory()
    } catch {
      // reported below
    }
    if (!isDir) this.problem(name, `${path} is not a readable folder`)
    return path
  }

  /** The value given, else the default; a missing required one is reported. */
  #text(v: Variable): string | undefined {
    const given = v.secret ? this.#secret(v.name) : this.#raw(v.name)
    if (given !== undefined) return given
    if (v.default === undefined && v.required !== undefined) this.problem(v.name, v.secret ? `required (or ${v.name}_FILE)` : 'required')
    return v.default
  }

  #raw(name: string): string | undefined {
    const v = this.env[name]
    return v === undefined || v === '' ? undefined : v
  }

  /** From NAME or the file named by NAME_FILE (one trailing newline dropped). */
  #secret(name: string): string | undefined {
    const direct = this.#raw(name)
    const file = this.#raw(`${name}_FILE`)
    if (direct !== undefined && file !== undefined) {
      this.problem(name, `set either ${name} or ${name}_FILE, not both`)
      return ''
    }
    if (file === undefined) return this.#notPlaceholder(name, direct)
    try {
      const v = this.readFile(file).replace(/\r?\n$/, '')
      if (v === '') this.problem(`${name}_FILE`, `${file} is empty`)
      return this.#notPlaceholder(`${name}_FILE`, v)
    } catch (err) {
      this.problem(`${name}_FILE`, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      return ''
    }
  }

  /** The manifests' secret.env.example values all start `replace-with-`: copied unedited, they would pass every length check. */
  #notPlaceholder(name: string, value: string | undefined): string | undefined {
    if (value !== undefined && value.split(',').some((part) => part.trim().startsWith('replace-with-'))) {
      this.problem(name, 'is still the example\'s placeholder (replace-with-…): put the real value in secret.env or the Secret')
    }
    return value
  }

  #check(name: string, problem: string | undefined): boolean {
    if (problem !== undefined) this.problem(name, problem)
    return problem === undefined
  }

  #compile(label: string, source: string, groups: GroupsClaim): Rule | undefined {
    try {
      return compileRule(source, groups)
    } catch (err) {
      this.problem(label, (err as Error).message.split('\n')[0] ?? '')
      return undefined
    }
  }
}
