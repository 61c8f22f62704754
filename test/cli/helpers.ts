/**
 * Runs the built `cambium` bin (dist/cli/main.js, made by `npm run build`, which `npm test`
 * runs first) in a child process and returns its exit code, stdout and stderr.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { open } from '../../src/index.js'

export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const BOOKS = fileURLToPath(new URL('../../tools/demo/books.json', import.meta.url))

export interface Run {
  status: number | null
  stdout: string
  stderr: string
  stdoutBytes: Buffer
}

export function cambium(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {}): Run {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" first (npm test does)`)
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env }
  if (opts.env?.['NO_COLOR'] === undefined) delete env['NO_COLOR']
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input ?? '',
    cwd: opts.cwd,
    env,
    maxBuffer: 256 << 20,
  })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), stdoutBytes: r.stdout }
}

export function tempDir(prefix: string): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  let n = 0
  return {
    dir,
    path: (name: string) => join(dir, `${++n}-${name}`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export interface Book {
  genre: string
  isbn: string
  title: string
  author: string
  year: number
  price: number
}

export const books = (JSON.parse(readFileSync(BOOKS, 'utf8')) as { books: Book[] }).books
export const FIELDS = ['title', 'author', 'year', 'price'] as const
export const bookKey = (b: Book, f: string): string => `book:${b.genre}:${b.isbn}:${f}`

/** The demo's catalogue: one commit per genre (versions 1..5), utf8 keys and JSON values. */
export function makeBooksDb(path: string): void {
  const db = open(path, { keyEncoding: 'utf8', valueEncoding: 'json' })
  for (const genre of [...new Set(books.map((b) => b.genre))]) {
    const ops = []
    for (const b of books.filter((x) => x.genre === genre)) {
      for (const f of FIELDS) ops.push({ type: 'put' as const, key: bookKey(b, f), value: b[f] })
    }
    db.batch(ops)
  }
  db.close()
}

/** Every entry of the latest version, as [key, value] byte pairs. */
export function entries(path: string, at?: number): [Buffer, Buffer][] {
  const db = open(path, { readOnly: true })
  try {
    return [...(at === undefined ? db : db.checkout(at)).range()]
  } finally {
    db.close()
  }
}
