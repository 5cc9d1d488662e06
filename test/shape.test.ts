/** The shape docs/architecture.md promises: no import circles, no source file over 300 lines. */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const src = join(root, 'src')
const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join(src, f))

/** Relative imports of a module: static (type-only too: they tie modules together just the same), bare and dynamic. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s*['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] as string)
  return specifiers.map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
}

t.test('no source file over 300 lines', async (t) => {
  t.ok(files.length > 30, `${files.length} source files found`)
  for (const f of files) t.ok(readFileSync(f, 'utf8').replace(/\n$/, '').split('\n').length <= 300, relative(root, f))
})

t.test('no import circles', async (t) => {
  const graph = new Map(files.map((f) => [f, imports(f)]))
  const edges = [...graph.values()].flat()
  t.ok(edges.length > 100, `${edges.length} imports found`)
  t.ok(edges.some((e) => e.endsWith(join('ops', 'start.ts'))) && graph.get(join(src, 'cli.ts'))!.length > 3, "cli.ts's dynamic imports are read")
  const unknown = edges.filter((e) => !graph.has(e))
  t.same(unknown.map((e) => relative(src, e)), [], 'every import names a source file (none is silently left out of the graph)')
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
