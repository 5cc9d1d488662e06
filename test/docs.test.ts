/** The README is a front page, and every relative link in it and in docs/ leads somewhere. */
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const files = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
]

/** The text outside fenced code blocks, line by line (code lines become empty). */
const prose = (text: string): string[] => {
  let fence: string | undefined
  return text.split('\n').map((line) => {
    const open = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === undefined && open) {
      fence = open[1]![0]!.repeat(open[1]!.length)
      return ''
    }
    if (fence !== undefined) {
      if (line.trimStart().startsWith(fence)) fence = undefined
      return ''
    }
    return line
  })
}

/** GitHub's heading anchor: lowercase, punctuation except '-' and '_' dropped, spaces to '-'. */
export const slug = (heading: string): string =>
  heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/[`*]/g, '') // code and emphasis marks
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-')

const anchorsCache = new Map<string, Set<string>>()
const anchors = (file: string): Set<string> => {
  let set = anchorsCache.get(file)
  if (set) return set
  set = new Set()
  const seen = new Map<string, number>()
  for (const line of prose(readFileSync(file, 'utf8'))) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)
    if (!h) continue
    const base = slug(h[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    set.add(n === 0 ? base : `${base}-${n}`)
  }
  anchorsCache.set(file, set)
  return set
}

/** Relative link targets `[text](target)`, outside code blocks and code spans. */
const links = (file: string): string[] => {
  const text = prose(readFileSync(file, 'utf8'))
    .join('\n')
    .replace(/(`+)[\s\S]*?[^`]\1(?!`)/g, '')
  const out: string[] = []
  for (const m of text.matchAll(/\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1]!
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:, …
    out.push(target)
  }
  return out
}

t.test('slug follows GitHub', async (t) => {
  t.equal(slug('Public-key tokens (RS256)'), 'public-key-tokens-rs256')
  t.equal(slug("Jitsi's login round trip"), 'jitsis-login-round-trip')
  t.equal(slug('What is tested (`npm test`, `npm run test:load`)'), 'what-is-tested-npm-test-npm-run-testload')
  t.equal(slug('Setting up Jitsi (docker-jitsi-meet)'), 'setting-up-jitsi-docker-jitsi-meet')
  t.equal(slug('TLS and the IdP\'s address'), 'tls-and-the-idps-address')
})

t.test('README.md is a front page of at most 200 lines', async (t) => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length
  t.ok(lines <= 200, `README.md has ${lines} lines`)
})

t.test('every relative link in README.md and docs/*.md resolves', async (t) => {
  let count = 0
  for (const file of files) {
    const name = relative(root, file)
    for (const target of links(file)) {
      count++
      const hash = target.indexOf('#')
      const path = hash === -1 ? target : target.slice(0, hash)
      const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
      const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path))
      if (!existsSync(dest)) {
        t.fail(`${name}: ${target}: ${relative(root, dest)} does not exist`)
        continue
      }
      if (anchor === undefined) {
        t.pass(`${name}: ${target}`)
        continue
      }
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
        t.fail(`${name}: ${target}: an anchor into a file that is not markdown`)
        continue
      }
      t.ok(anchors(dest).has(anchor.toLowerCase()), `${name}: ${target}: heading #${anchor} in ${relative(root, dest)}`)
    }
  }
  t.ok(count > 10, `found ${count} relative links (more than 10)`)
})

t.test('every command the docs name exists: npm scripts in package.json, subcommands and flags in the CLI', async (t) => {
  const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts)
  const cli = readFileSync(join(root, 'src/cli.ts'), 'utf8')
  const usage = /const USAGE = `([\s\S]*?)`/.exec(cli)?.[1] ?? ''
  const subcommands = new Set([...usage.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]!))
  t.ok(subcommands.has('serve') && subcommands.has('check'), `the usage text lists the subcommands (${[...subcommands].join(', ')})`)
  let named = 0
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const where = relative(root, file)
    for (const m of text.matchAll(/npm run ([a-z][a-z0-9:-]*[a-z0-9])/g)) {
      named++
      t.ok(scripts.includes(m[1]!), `${where}: npm run ${m[1]} is a package.json script`)
    }
    for (const m of text.matchAll(/(?:jitsi-oidc-sidecar|cli\.mjs) (serve|demo|keygen|jitsi-env|check|[a-z][a-z-]+)((?: --[a-z-]+(?: [^\s`|;]+)?)*)/g)) {
      named++
      t.ok(subcommands.has(m[1]!), `${where}: ${m[1]} is a subcommand`)
      for (const flag of m[2]!.matchAll(/--[a-z-]+/g)) t.ok(usage.includes(flag[0]), `${where}: ${m[1]} ${flag[0]} is in the usage text`)
    }
  }
  t.ok(named > 20, `${named} commands named in the docs were checked`)
})
