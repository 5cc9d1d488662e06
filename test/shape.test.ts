/** The shape docs/architecture.md promises: no import circles, no source file over 300 lines. */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const src = join(root, 'src')
const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join(src, f))

/** Relative imports of a module (type-only ones too: they tie modules together just the same). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^(?:import|export)[^'"]*?from '(\.[^']+)'/gm)].map((m) => resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')))
}

t.test('no source file over 300 lines', async (t) => {
  t.ok(files.length > 30, `${files.length} source files found`)
  for (const f of files) t.ok(readFileSync(f, 'utf8').split('\n').length <= 301, relative(root, f))
})

t.test('no import circles', async (t) => {
  const graph = new Map(files.map((f) => [f, imports(f)]))
  t.ok([...graph.values()].some((deps) => deps.length > 0), 'imports are found')
  const done = new Set<string>()
  const circles: string[] = []
  const visit = (f: string, path: string[]): void => {
    const at = path.indexOf(f)
    if (at !== -1) {
      circles.push([...path.slice(at), f].map((p) => relative(src, p)).join(' → '))
      return
    }
    if (done.has(f)) return
    for (const dep of graph.get(f) ?? []) visit(dep, [...path, f])
    done.add(f)
  }
  for (const f of files) visit(f, [])
  t.same(circles, [])
})
