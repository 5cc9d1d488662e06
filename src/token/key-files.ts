/** Reading key files, injectable so tests can swap the file system. */
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export interface KeyFiles {
  readFile(path: string): string
  readDir(path: string): string[]
  /** A regular file (following symlinks, as Kubernetes mounts use them). */
  isFile(path: string): boolean
}

export const nodeFiles: KeyFiles = {
  readFile: (p) => readFileSync(p, 'utf8'),
  readDir: (p) => readdirSync(p),
  isFile: (p) => {
    try {
      return statSync(p).isFile()
    } catch {
      return false
    }
  },
}

export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * The regular `*.pem` files of a folder, sorted, each with its text or why
 * it could not be read. Kubernetes' `..data` links and folders are skipped.
 * Throws when the folder itself cannot be read.
 */
export function readPemFolder(files: KeyFiles, dir: string): [name: string, text: string | Error][] {
  const names = files.readDir(dir).filter((n) => n.endsWith('.pem') && !n.startsWith('.') && files.isFile(join(dir, n))).sort()
  return names.map((n) => {
    try {
      return [n, files.readFile(join(dir, n))]
    } catch (err) {
      return [n, new Error(`cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)]
    }
  })
}
